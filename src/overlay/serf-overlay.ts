// The overlay port backed by this gateway's Serf agent: the membership view
// from membership.ts, user events and queries over the RPC, and the
// gateway's tags with its digests (kept in a map the caller owns, so they
// outlive a Serf restart), set over a connection of their own.
// Must never: let one listener's throw reach Serf's stream or another listener.

import { HearthError } from '../model/errors.js';
import { createMembership, type Membership } from './membership.js';
import type { Logger } from '../model/logger.js';
import { OVERLAY_LIMITS, createListeners, type OverlayPort, type QueryHandler } from './port.js';
import { literalPattern, type SerfRpc } from './serf-rpc.js';
import type { MemberNews } from './serf-log.js';
import { OPTIONAL_TAG_KEYS, PUBLISH_GATHER_MS, changedTags, encodeTags, isDigest, sameRawTags, type GatewayTags } from './tags.js';
import type { ViewState } from './view.js';

export interface SerfOverlayInit {
  /** The membership's connection: reads, events, queries. */
  rpc: SerfRpc;
  /**
   * A second connection to the same agent, for this gateway's own tags alone. Serf answers one
   * connection's calls in turn, and a tags call lasts until its update has gone out (up to the
   * agent's broadcast timeout, 10 s on community links): on the membership's connection, the read
   * of every member that changed meanwhile, and every query's answer, would wait behind it.
   */
  tagsRpc: SerfRpc;
  self: string;
  log: Logger;
  /** The digests gossiped in tags; owned by the caller so they outlive this overlay. */
  digests: Map<string, string>;
  /** This gateway's tags but the digests, read at every publish. */
  tags: () => Omit<GatewayTags, 'digests'>;
}

export interface SerfOverlay extends OverlayPort {
  start(opts?: { signal?: AbortSignal }): Promise<void>;
  stop(): Promise<void>;
  /** Read the whole member list again now. */
  refresh(opts?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Serf has news of this member: its new status at once when the news says it, and its record read now rather
   * than when the event streams. The caller hands it every news line of Serf's log: a member's new tags come no
   * other way but the whole list read every few rounds (membership.ts says why).
   */
  notice(news: MemberNews): void;
  /** Sends this gateway's tags to Serf if they changed since the last time, with whatever else changes in the next PUBLISH_GATHER_MS. */
  publish(): Promise<void>;
}

/** Serf's answer when a tags update is set but not yet sent within its broadcast timeout. */
const isBroadcastWait = (err: unknown): boolean =>
  err instanceof HearthError && err.extra['serfError'] === 'timeout waiting for update broadcast';

export function createSerfOverlay(init: SerfOverlayInit): SerfOverlay {
  const { rpc, tagsRpc, log } = init;
  const onError = (err: unknown): void => log.warn({ err: (err as Error).message }, 'an overlay listener failed');
  const views = createListeners<[ViewState]>(onError);
  const users = new Map<string, ReturnType<typeof createListeners<[Uint8Array]>>>();
  const queries = new Map<string, QueryHandler>();
  let stopQueries: (() => Promise<void>) | undefined;
  /** What Serf holds: asked of it at the first publish (it restores its tags file at start), then what was last sent. */
  let last: Readonly<Record<string, string>> | undefined;

  /** This gateway's tags as its Serf holds them, or undefined when it cannot say now. */
  const held = async (): Promise<Readonly<Record<string, string>> | undefined> => {
    try {
      const members = await tagsRpc.membersFiltered({ name: literalPattern(init.self) });
      return members.find((m) => m.name === init.self)?.tags;
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'could not read the tags Serf holds; setting them');
      return undefined;
    }
  };

  /** The publish gathering changes now, if any: every caller until it sends waits for the same one. */
  let gathering: Promise<void> | undefined;
  const publish = (): Promise<void> => {
    gathering ??= new Promise<void>((resolve) => setTimeout(resolve, PUBLISH_GATHER_MS)).then(() => {
      gathering = undefined;
      return publishNow();
    });
    return gathering;
  };

  const publishNow = async (): Promise<void> => {
    if (!tagsRpc.isConnected) return;
    // Setting the very tags Serf holds is not free: Serf encodes them in Go's random map order, so the
    // others mostly see new bytes and each reads this member again (at every agent's start, 99 reads
    // and 99 events at 100 gateways).
    last ??= await held();
    const encoded = encodeTags({ ...init.tags(), digests: Object.fromEntries(init.digests) });
    if (last !== undefined && sameRawTags(encoded, last)) return;
    // A tag that is no longer there (the last digest dropped) must be deleted, not left as it was.
    const gone = (last === undefined ? OPTIONAL_TAG_KEYS : Object.keys(last)).filter((k) => !(k in encoded));
    const was = last;
    // Held from now on. Serf answers a tags change once it has sent the update (up to its broadcast
    // timeout, and later still to a busy event loop); a publish that started meanwhile (the 2 s timer's,
    // beside a digest's) compared with the tags from before, and set the same ones again, which every
    // member took for an update: a fifth of all updates in a 12-gateway bench run. Nor does a publish
    // wait for the one before: Serf answers them in turn anyway, and a starved event loop would hear
    // of the first one's answer late (a new service's digest went out 2 s late at 100 gateways).
    last = encoded;
    try {
      await tagsRpc.tags({ set: encoded, ...(gone.length === 0 ? {} : { delete: gone }) });
    } catch (err) {
      // Serf set the tags (and its tags file) and gossips them; it only stopped waiting for the
      // first sends. Setting them again would gossip a second update for nothing.
      if (!isBroadcastWait(err)) {
        // What Serf holds is unknown now: the next publish asks it.
        last = undefined;
        throw err;
      }
    }
    // Each update makes every member of the community read this one again: which tags changed says why it was sent.
    if (was !== undefined) log.info({ changed: changedTags(was, encoded) }, 'published tags');
  };

  const membership: Membership = createMembership({
    rpc, log,
    onChange: (view) => views.emit(view),
    onUserEvent: (name, payload) => users.get(name)?.emit(payload),
  });

  const answer = async (id: number, name: string, payload: Uint8Array): Promise<void> => {
    const handler = queries.get(name);
    if (handler === undefined) return;
    const reply = await handler(payload);
    if (reply === undefined) return;
    if (reply.length > OVERLAY_LIMITS.queryBytes) throw new HearthError('payload_too_large', `answer to ${name} is ${reply.length} bytes; queries carry at most ${OVERLAY_LIMITS.queryBytes}`);
    await rpc.respond(id, reply);
  };

  return {
    self: init.self,
    view: () => membership.view,
    onView: (listener) => views.add(listener),
    onUserEvent(name, listener) {
      let set = users.get(name);
      if (set === undefined) users.set(name, (set = createListeners<[Uint8Array]>(onError)));
      return set.add(listener);
    },
    onQuery(name, handler) {
      if (queries.has(name)) throw new HearthError('internal', `queries named ${name} already have a handler`);
      queries.set(name, handler);
      return () => void queries.delete(name);
    },
    publishDigest(key, digest) {
      if (digest !== undefined && !isDigest(key, digest)) throw new HearthError('internal', `digest ${JSON.stringify(key)}=${JSON.stringify(digest)} does not fit a tag`);
      if (init.digests.get(key) === digest) return;
      if (digest === undefined) init.digests.delete(key);
      else init.digests.set(key, digest);
      publish().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'publishing tags failed'));
    },
    digests: () => Object.fromEntries(init.digests),
    async userEvent(name, payload, opts = {}) {
      await rpc.userEvent(name, payload, false, opts);
    },
    async query(name, payload, opts = {}) {
      if (payload.length > OVERLAY_LIMITS.queryBytes) {
        throw new HearthError('payload_too_large', `query ${name} is ${payload.length} bytes; queries carry at most ${OVERLAY_LIMITS.queryBytes}`);
      }
      const result = await rpc.query({
        name, payload,
        ...(opts.members === undefined ? {} : { filterNodes: [...opts.members] }),
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      }, opts.signal === undefined ? {} : { signal: opts.signal });
      return result.responses;
    },
    async start(opts = {}) {
      await membership.start(opts);
      stopQueries = await rpc.stream('query', (event) => {
        if (event.type !== 'query') return;
        answer(event.id, event.name, event.payload).catch((err: unknown) => log.warn({ query: event.name, err: (err as Error).message }, 'answering a query failed'));
      }, opts);
    },
    async stop() {
      await stopQueries?.().catch(() => undefined);
      stopQueries = undefined;
      await membership.stop();
    },
    refresh: (opts) => membership.refresh(opts),
    notice: (news) => membership.notice(news),
    publish,
  };
}
