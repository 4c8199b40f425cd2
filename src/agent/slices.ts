// The entry gateway's side of a slice: whichever gateway a user asks places
// the slice among the community's members (placement core over its own view,
// leases on the chosen hosts, commit only once every sliver is leased),
// gathers a slice's live state from the hosts, carries a user's delete,
// renewal or resize to them, and places the new slivers of a slice the user
// grew. It holds nothing of its own: the hosts keep the records. Whether
// the user already has a slice of a name, and where a named slice is, it asks
// the name's homes (slice-homes.ts), k calls whatever the community's size;
// only when no home answers, or none knows a holder, does it ask everyone.
// Must never: create, change or remove work without the user's signed
// document (hosts check it again), or leave a lease behind when a placement
// fails: a lease it cannot release lapses by itself.

import { randomBytes } from 'node:crypto';
import { HearthError, PeerError, PeerTimeout, isErrorCode } from '../model/errors.js';
import { SLICE_KINDS, currentResize, parseSliceSpec, type ResizeState, type SliceSliverView, type SliceSpec, type SliceState, type SliceView } from '../model/slice.js';
import type { Logger } from '../model/logger.js';
import { createRng } from '../kit/rng.js';
import type { ViewState } from '../overlay/view.js';
import type { PeerCaller } from '../peer/caller.js';
import { admitOnce, verifyDocument, EMPTY_REPLAY_WINDOW, type ReplayWindow, type SignedDocument } from '../cloud/signed-document.js';
import { candidatesFrom, placeSlivers } from '../cloud/placement.js';
import type { SliceCrashPoint } from './crash-points.js';
import { resizeOf, sizeOf } from '../slivers/hosting.js';
import { nameTaken } from '../cloud/slice-homes.js';
import { askHomes } from './slice-homes.js';
import { SLICE_ROUTES, verifyCreate, verifyDelete, verifyRenew, verifyResize, type HostedSlice, type HostedSliver } from './slice-host.js';

export interface SliceService {
  create(document: unknown): Promise<SliceView>;
  /** Re-places a slice's lost slivers from its signed spec (this gateway is its healer); returns the new placement. */
  heal(documents: SliceDocuments, target: PlaceTarget): Promise<Placed>;
  list(): Promise<SliceView[]>;
  get(name: string, user?: string): Promise<SliceView>;
  remove(name: string, document: unknown): Promise<SliceView>;
  renew(name: string, document: unknown): Promise<SliceView>;
  /** Grows the slice (places the new slivers, or refuses no_placement and changes nothing) or shrinks it, by the user's signed slice.resize. */
  resize(name: string, document: unknown): Promise<SliceView>;
}

/** The user's documents a slice's slivers are placed by: its slice.create, and the slice.resize that holds (null before any). */
export interface SliceDocuments {
  create: unknown;
  resize: unknown;
}

export interface SliceServiceInit {
  community: { view(): ViewState; readonly caller: PeerCaller };
  log: Logger;
  nowSec?: () => number;
  /** How long a lease holds a sliver's room while the other slivers are reserved. */
  leaseSec?: number;
  /** Per peer call. */
  callTimeoutMs?: number;
  crashPoint?: (point: SliceCrashPoint) => void;
}

/**
 * Rounds of reservations: each one either leases every pending sliver or adds
 * the gateways that refused to the refused set, so placement runs out of
 * candidates (no_placement) before this; it only bounds a pathological case.
 * Under contention (entry gateways placing at once on gossiped, stale free
 * resources) a slice may need several rounds.
 */
const MAX_ROUNDS = 16;

/** What to place: these indexes, beside the gateways that keep theirs, as placement `version`. */
export interface PlaceTarget {
  indexes: readonly number[];
  kept: Readonly<Record<string, string>>;
  version: number;
  /** Gateways not to place on, with why (a gateway whose sliver of the slice failed there). */
  avoid?: Readonly<Record<string, string>>;
}

/** A placement as committed: where each index is, and its version. */
export interface Placed {
  placement: Record<string, string>;
  version: number;
}

/**
 * How many times the slivers whose host did not commit are placed again
 * elsewhere (each time under the next placement version) before the slice is
 * left degraded for the keeper to heal.
 */
const MAX_RECOMMITS = 2;
const iso = (sec: number): string => new Date(sec * 1000).toISOString();
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** A peer's refusal as a short reason for the user: its code, or that it did not answer. */
function reasonOf(err: unknown): string {
  if (err instanceof PeerError) return err.problem?.code ?? 'unreachable';
  if (err instanceof HearthError) return err.code;
  return (err as Error).message;
}

/** The code a peer refused with, when it is one of ours. */
function peerCode(err: unknown): string | undefined {
  const code = err instanceof PeerError ? err.problem?.code : undefined;
  return isErrorCode(code) ? code : undefined;
}

export function createSliceService(init: SliceServiceInit): SliceService {
  const { community, log } = init;
  const nowSec = init.nowSec ?? ((): number => Math.floor(Date.now() / 1000));
  const leaseSec = init.leaseSec ?? 30;
  const timeoutMs = init.callTimeoutMs ?? 5000;
  let replays: ReplayWindow = EMPTY_REPLAY_WINDOW;
  /** Creations under way or done, by the document's user and nonce: a retried request gets the same answer. */
  const requests = new Map<string, { at: number; result: Promise<SliceView> }>();

  /** Calls `route` on every alive member (or those of `only`) at once: who answered what, and who did not answer. */
  async function broadcast(route: (typeof SLICE_ROUTES)[keyof typeof SLICE_ROUTES], body?: unknown, only?: ReadonlySet<string>): Promise<{ answers: { member: string; reply: unknown }[]; unreachable: string[] }> {
    const members = [...community.view().members.values()]
      .filter((m) => m.status === 'alive' && m.tags !== null && (only === undefined || only.has(m.name))).map((m) => m.name);
    const settled = await Promise.allSettled(members.map((m) => community.caller.call(m, route, body, { timeoutMs })));
    const answers: { member: string; reply: unknown }[] = [];
    const unreachable: string[] = [];
    settled.forEach((a, i) => {
      const member = members[i] as string;
      if (a.status === 'fulfilled') answers.push({ member, reply: a.value });
      else unreachable.push(member);
    });
    return { answers, unreachable };
  }

  /** Every alive member's slices (or those of `only`'s members), as each host reports them. */
  async function gather(only?: ReadonlySet<string>): Promise<{ hosted: { member: string; slice: HostedSlice }[]; unreachable: string[] }> {
    const { answers, unreachable } = await broadcast(SLICE_ROUTES.list, undefined, only);
    const hosted = answers.flatMap(({ member, reply }) => ((reply as { items?: HostedSlice[] } | undefined)?.items ?? []).map((slice) => ({ member, slice })));
    return { hosted, unreachable };
  }

  /** One slice's view from what its hosts report; undefined when no host knows it. Its spec has the number of slivers of the newest resize any host has. */
  function viewOf(reports: { member: string; slice: HostedSlice }[], unreachable: string[]): SliceView | undefined {
    const newest = [...reports].sort((a, b) => b.slice.version - a.slice.version)[0];
    if (newest === undefined) return undefined;
    const doc = newest.slice.document as SignedDocument;
    const created = parseSliceSpec(doc.body);
    const spec = { ...created, slivers: sizeOf(doc.at, created, reports.map((r) => r.slice.resizeDocument ?? null)) };
    const deleted = reports.some((r) => r.slice.deletedAt !== null);
    const slivers: SliceSliverView[] = [];
    for (let index = 0; index < spec.slivers; index++) {
      const where = reports.flatMap((r) => r.slice.slivers.filter((s) => s.index === index && s.desired !== 'gone').map((s) => ({ member: r.member, s })));
      const found: { member: string; s: HostedSliver } | undefined = where[0];
      // Not reported, but placed on a member that did not answer: there, in a state nobody could read (not missing).
      const silent = newest.slice.placement[index];
      slivers.push(found !== undefined
        ? { index, gateway: found.member, name: found.s.name, observed: found.s.observed, address: found.s.address, reason: found.s.reason }
        : !deleted && silent !== undefined && unreachable.includes(silent)
          ? { index, gateway: silent, name: null, observed: 'unknown', address: null, reason: `${silent} did not answer` }
          : { index, gateway: null, name: null, observed: 'missing', address: null, reason: null });
    }
    const state: SliceState = deleted && slivers.every((s) => s.gateway === null) ? 'deleted'
      : slivers.every((s) => s.observed === 'running') ? 'running'
        : slivers.some((s) => s.gateway === null || s.observed === 'failed' || s.observed === 'unknown') ? 'degraded' : 'starting';
    return {
      name: spec.name, user: newest.slice.user, state, spec, signedAt: iso(doc.at), expiresAt: iso(Math.max(...reports.map((r) => r.slice.expiresAt))),
      version: newest.slice.version, slivers, unreachable,
    };
  }

  /** What `only`'s members (every alive member without it) report of one slice, of one user when named. */
  async function reportsOf(name: string, user: string | undefined, only?: ReadonlySet<string>): Promise<{ mine: { member: string; slice: HostedSlice }[]; unreachable: string[] }> {
    const { hosted, unreachable } = await gather(only);
    const mine = hosted.filter((h) => h.slice.name === name && (user === undefined || h.slice.user === user));
    const users = new Set(mine.map((h) => h.slice.user));
    if (users.size > 1) {
      throw new HearthError('invalid_request', `${users.size} users have a slice named ${name}; name the user (?user=SHA256:…)`, { users: [...users] });
    }
    return { mine, unreachable };
  }

  /**
   * The user's slice from the holders its homes know, and from the gateways
   * their newest placement names that are not among them (a holder whose
   * registration has not reached a home yet); undefined when the homes know
   * no holder or none of them has it.
   */
  async function fromHomes(name: string, user: string): Promise<SliceView | undefined> {
    const asked = new Set((await askHomes(community, user, name, timeoutMs)).holders.map((h) => h.member));
    if (asked.size === 0) return undefined;
    const first = await reportsOf(name, user, asked);
    const newest = [...first.mine].sort((a, b) => b.slice.version - a.slice.version)[0];
    const more = new Set(Object.values(newest?.slice.placement ?? {}).filter((g) => !asked.has(g)));
    const second = more.size === 0 ? { mine: [], unreachable: [] } : await reportsOf(name, user, more);
    return viewOf([...first.mine, ...second.mine], [...first.unreachable, ...second.unreachable]);
  }

  /** A slice just placed, as its placement says, for when its hosts do not answer: starting, its slivers' state unknown. */
  function placedView(doc: SignedDocument, user: string, spec: SliceSpec, placed: Placed, unreachable: string[]): SliceView {
    return {
      name: spec.name, user, state: 'starting', spec, signedAt: iso(doc.at), expiresAt: iso(doc.at + spec.lifetimeSec), version: placed.version,
      slivers: range(0, spec.slivers).map((index) => ({ index, gateway: placed.placement[index] ?? null, name: null, observed: 'unknown', address: null, reason: null })),
      unreachable,
    };
  }

  /**
   * The slice as its hosts report it. `hosts`, when known, are the only
   * members asked; else, when the user is named, the holders its homes know
   * (fromHomes); when they know none, or none of those has it, every alive
   * member.
   */
  async function find(name: string, user?: string, hosts?: ReadonlySet<string>): Promise<SliceView> {
    let view: SliceView | undefined;
    if (hosts !== undefined) {
      const { mine, unreachable } = await reportsOf(name, user, hosts);
      view = viewOf(mine, unreachable);
    } else {
      if (user !== undefined) view = await fromHomes(name, user);
      if (view === undefined) {
        const { mine, unreachable } = await reportsOf(name, user);
        view = viewOf(mine, unreachable);
      }
    }
    if (view === undefined) throw new HearthError('slice_not_found', `no reachable gateway knows slice ${JSON.stringify(name.slice(0, 80))}`);
    return view;
  }

  /**
   * Places `target.indexes` of the slice (all of them at creation, the lost
   * ones when healing, the new ones when it grows) beside the gateways of
   * `target.kept`, and commits them with the whole placement at
   * `target.version`. Hosts get the user's resize with the spec, when there
   * is one: it is what lets them host an index beyond the spec's. One
   * sliver alone is reserved and committed in one call. A host that does not
   * answer its commit in time is asked once more (a commit is idempotent). A
   * host that does not commit (it failed, or its lease lapsed) has its
   * slivers placed again elsewhere under the next version; returns the
   * placement committed last.
   */
  async function place(document: SignedDocument, resize: unknown, user: string, spec: SliceSpec, target: PlaceTarget, recommits = 0): Promise<Placed> {
    const rng = createRng(randomBytes(4).readUInt32LE(0));
    const { indexes } = target;
    const leased = new Map<number, { gateway: string; lease: string }>();
    const hosted = new Map<number, string>();
    const refused = new Map<string, string>(Object.entries(target.avoid ?? {}));
    const call = (gateway: string, route: (typeof SLICE_ROUTES)[keyof typeof SLICE_ROUTES], body: unknown): Promise<unknown> =>
      community.caller.call(gateway, route, body, { timeoutMs });
    const release = async (): Promise<void> => {
      await Promise.allSettled([...leased.values()].map(({ gateway, lease }) => call(gateway, SLICE_ROUTES.release, { lease })));
      leased.clear();
    };
    const zoneOf = (view: ViewState, name: string): string | null => view.members.get(name)?.tags?.zone ?? null;
    const documents = resize === null ? { document } : { document, resize };
    // One sliver alone (a heal, a grow by one, a slice of one) has no other to be placed with or not at all: its host
    // reserves and commits it in one call, a round trip sooner than a lease and a commit.
    const alone = indexes.length === 1;
    /** Slivers a host may have committed without saying so: placed again elsewhere under the next version. */
    const uncommitted = new Map<number, string>();
    const avoid: Record<string, string> = { ...target.avoid };
    const notCommitted = (index: number, gateway: string, err: unknown): void => {
      log.warn({ slice: spec.name, user, index, gateway, err: reasonOf(err) }, 'a host did not commit its sliver');
      uncommitted.set(index, gateway);
      avoid[gateway] = `did not commit: ${reasonOf(err)}`;
    };
    /**
     * A committing call, asked once more when it timed out while our view has its host alive: a busy host may have
     * committed and answered too late (its handler runs on once the caller gives up), and asked again it answers with
     * the sliver it hosts, or commits the lease it still holds. Cheaper than a sliver placed twice, one of them removed
     * later. Not when our view has it failed: then it did not answer at all.
     */
    const committing = (index: number, gateway: string, ask: () => Promise<unknown>): Promise<unknown> => ask().catch((err: unknown) => {
      if (!(err instanceof PeerTimeout) || community.view().members.get(gateway)?.status !== 'alive') throw err;
      log.info({ slice: spec.name, user, index, gateway }, 'a host did not answer its commit in time; asking it again');
      return ask();
    });

    for (let round = 0; round < MAX_ROUNDS; round++) {
      const pending = indexes.filter((i) => !leased.has(i) && !hosted.has(i) && !uncommitted.has(i));
      if (pending.length === 0) break;
      const view = community.view();
      const holders = [...leased.values()].map((l) => l.gateway).concat([...hosted.values()], Object.values(target.kept))
        .map((name) => ({ name, zone: zoneOf(view, name) }));
      const placement = placeSlivers({
        spec, indexes: pending, candidates: candidatesFrom(view, { near: spec.near }), holders, refused: new Set(refused.keys()), rng,
      });
      if (!placement.ok) {
        await release();
        const why = refused.size === 0 ? '' : ` (refused by ${[...refused].map(([g, r]) => `${g}: ${r}`).join(', ')})`;
        throw new HearthError('no_placement', `${placement.reason}${why}`, { fault: placement.fault });
      }
      await Promise.all(placement.assignments.map(async ({ index, gateway }) => {
        const lease = randomBytes(16).toString('base64url');
        const reserve = { ...documents, index, lease, ttlSec: leaseSec };
        try {
          const reply = (alone
            ? await committing(index, gateway, () => call(gateway, SLICE_ROUTES.reserve, { ...reserve, commit: { placement: { ...target.kept, [index]: gateway }, version: target.version } }))
            : await call(gateway, SLICE_ROUTES.reserve, reserve)) as { kind?: string };
          if (reply.kind === 'hosted') hosted.set(index, gateway);
          else leased.set(index, { gateway, lease });
        } catch (err) {
          // Only a host's own refusal says that it committed nothing; after a lost answer it may have.
          if (alone && !(err instanceof PeerError && err.problem !== undefined)) return notCommitted(index, gateway, err);
          refused.set(gateway, reasonOf(err));
          // A document every host refuses for what it is (its signature, its time) will not fare better elsewhere.
          const code = peerCode(err);
          if (code === 'invalid_signature' || code === 'stale_document' || code === 'malformed_document' || code === 'slice_not_found') {
            throw new HearthError(code, `${gateway} refused the document: ${err instanceof PeerError ? err.problem?.detail ?? '' : ''}`);
          }
        }
      })).catch(async (err: unknown) => {
        await release();
        throw err;
      });
    }
    const found = leased.size + hosted.size + uncommitted.size;
    if (found < indexes.length) {
      await release();
      throw new HearthError('no_placement', `only ${found} of ${indexes.length} slivers found a gateway after ${MAX_ROUNDS} rounds (refused by ${[...refused].map(([g, r]) => `${g}: ${r}`).join(', ')})`);
    }

    if (leased.size > 0) init.crashPoint?.('slice:reserved');
    const planned: Record<string, string> = { ...target.kept };
    for (const [i, g] of hosted) planned[i] = g;
    for (const [i, l] of leased) planned[i] = l.gateway;
    for (const [i, g] of uncommitted) planned[i] = g;
    await Promise.all([...leased].map(async ([index, { gateway, lease }]) => {
      try {
        await committing(index, gateway, () => call(gateway, SLICE_ROUTES.commit, { ...documents, index, lease, placement: planned, version: target.version }));
      } catch (err) {
        // Every sliver had its room; this host failed since, or its lease lapsed.
        notCommitted(index, gateway, err);
      }
    }));
    if (uncommitted.size === 0) return { placement: planned, version: target.version };
    const kept = Object.fromEntries(Object.entries(planned).filter(([i]) => !uncommitted.has(Number(i))));
    if (recommits < MAX_RECOMMITS) {
      try {
        // The hosts that committed learn the newer placement from the records (anti-entropy).
        return await place(document, resize, user, spec, { indexes: [...uncommitted.keys()], kept, version: target.version + 1, avoid }, recommits + 1);
      } catch (err) {
        log.warn({ slice: spec.name, user, indexes: [...uncommitted.keys()], err: reasonOf(err) }, 'the slivers a host did not commit found no other gateway; the slice is degraded until healed');
      }
    }
    return { placement: planned, version: target.version };
  }

  /**
   * Whether the user has a live slice of that name other than the incarnation
   * `nonce`: its homes' word when any of them answers (k calls), else every
   * alive member's records, rather than a guess.
   */
  async function taken(user: string, name: string, nonce: string, now: number): Promise<boolean> {
    const homes = await askHomes(community, user, name, timeoutMs);
    if (homes.answered > 0) return nameTaken(homes.holders, nonce, now);
    if (homes.asked > 0) log.warn({ slice: name, user, homes: homes.asked }, 'no home of the slice name answered; asking every member');
    const existing = (await gather()).hosted.filter((h) => h.slice.user === user && h.slice.name === name && h.slice.deletedAt === null);
    return existing.some((h) => (h.slice.document as SignedDocument).nonce !== nonce);
  }

  return {
    async create(document) {
      const startedMs = performance.now();
      const now = nowSec();
      const v = verifyDocument(document, { now, kind: SLICE_KINDS.create });
      if (!v.ok) throw new HearthError(v.fault, v.reason);
      const key = `${v.userId} ${v.doc.nonce}`;
      for (const [k, r] of requests) if (now - r.at > 600) requests.delete(k);
      const earlier = requests.get(key);
      if (earlier !== undefined) return earlier.result;
      const spec = parseSliceSpec(v.doc.body);
      const admitted = admitOnce(replays, v, now);
      replays = admitted.window;
      if (!admitted.fresh) throw new HearthError('replayed_document', 'this document was already used');
      const result = (async (): Promise<SliceView> => {
        if (await taken(v.userId, spec.name, v.doc.nonce, now)) {
          throw new HearthError('slice_exists', `you already have a slice named ${spec.name}; delete it first or choose another name`, { field: 'name' });
        }
        const placed = await place(v.doc, null, v.userId, spec, { indexes: range(0, spec.slivers), kept: {}, version: 1 });
        log.info({ slice: spec.name, user: v.userId, slivers: spec.slivers, ms: Math.round(performance.now() - startedMs) }, 'slice placed');
        // Only its hosts can know a slice just placed: asking them keeps a creation's calls independent of the community's size.
        const hosts = new Set(Object.values(placed.placement));
        try {
          return await find(spec.name, v.userId, hosts);
        } catch (err) {
          if (!(err instanceof HearthError) || err.code !== 'slice_not_found') throw err;
          // Committed, but no host answered the read-back in time (a loaded community): where it was placed, not that it does not exist.
          log.warn({ slice: spec.name, user: v.userId }, 'no host of the slice just placed answered; answering with its placement');
          return placedView(v.doc, v.userId, spec, placed, [...hosts]);
        }
      })();
      // Kept for as long as the nonce is remembered, failed or not: the same document always gets the same answer.
      requests.set(key, { at: now, result });
      result.catch(() => undefined);
      return result;
    },

    async list() {
      const { hosted, unreachable } = await gather();
      const keys = [...new Set(hosted.map((h) => `${h.slice.user} ${h.slice.name}`))].sort();
      return keys.flatMap((k) => {
        const view = viewOf(hosted.filter((h) => `${h.slice.user} ${h.slice.name}` === k), unreachable);
        return view === undefined || view.state === 'deleted' ? [] : [view];
      });
    },

    get: find,

    async heal(documents, target) {
      const startedMs = performance.now();
      const { doc, user, spec } = verifyCreate(documents.create, nowSec());
      const placed = await place(doc, documents.resize, user, spec, target);
      log.info({ slice: spec.name, user, indexes: target.indexes, ...placed, ms: Math.round(performance.now() - startedMs) }, 'slice healed');
      return placed;
    },

    async renew(name, document) {
      const { user, name: named } = verifyRenew(document, nowSec());
      if (named !== name) throw new HearthError('invalid_request', `the document renews slice ${named}, not ${name}`);
      const { answers } = await broadcast(SLICE_ROUTES.renew, { document });
      const renewed = answers.filter((a) => (a.reply as { renewed?: boolean }).renewed === true).length;
      const after = await find(name, user);
      if (after.state === 'deleted') throw new HearthError('slice_not_found', `slice ${name} was deleted`);
      log.info({ slice: name, user, renewed }, 'slice renewed');
      return after;
    },

    async resize(name, document) {
      const now = nowSec();
      const r = verifyResize(document, now);
      if (r.name !== name) throw new HearthError('invalid_request', `the document resizes slice ${r.name}, not ${name}`);
      const admitted = admitOnce(replays, { doc: r.doc, userId: r.user }, now);
      replays = admitted.window;
      if (!admitted.fresh) throw new HearthError('replayed_document', 'this document was already used');
      const reports = (await gather()).hosted.filter((h) => h.slice.user === r.user && h.slice.name === name && h.slice.deletedAt === null);
      const newest = [...reports].sort((a, b) => b.slice.version - a.slice.version)[0]?.slice;
      if (newest === undefined) throw new HearthError('slice_not_found', `no reachable gateway knows a slice ${name} of yours`);
      const create = newest.document as SignedDocument;
      const spec = parseSliceSpec(create.body);
      // As on the hosts: a resize signed before the slice was created, or before the resize that holds, changes nothing.
      const held = currentResize(create.at, reports.map((h) => resizeOf(h.slice.resizeDocument ?? null)));
      const asked: ResizeState = { at: r.doc.at, nonce: r.doc.nonce, slivers: r.slivers };
      if (currentResize(create.at, [held, asked]) !== asked) {
        throw new HearthError('stale_document', `slice ${name} was created or resized after this resize was signed`);
      }
      const size = held?.slivers ?? spec.slivers;
      let told: unknown = { document };
      if (r.slivers > size) {
        const version = newest.version + 1;
        const kept = Object.fromEntries(Object.entries(newest.placement).filter(([i]) => Number(i) < size));
        // All new slivers or none (no_placement, every lease released, nothing recorded); then every holder learns the resize with their places.
        const placed = await place(create, document, r.user, spec, { indexes: range(size, r.slivers), kept, version });
        told = { document, ...placed };
      }
      const { answers, unreachable } = await broadcast(SLICE_ROUTES.resize, told);
      const retired = answers.reduce((n, a) => n + Number((a.reply as { retired?: number }).retired ?? 0), 0);
      log.info({ slice: name, user: r.user, from: size, to: r.slivers, retired, missed: unreachable }, 'slice resized');
      return find(name, r.user);
    },

    async remove(name, document) {
      const { user, name: named } = verifyDelete(document, nowSec());
      if (named !== name) throw new HearthError('invalid_request', `the document deletes slice ${named}, not ${name}`);
      const before = await find(name, user);
      const { answers, unreachable } = await broadcast(SLICE_ROUTES.delete, { document });
      const removed = answers.reduce((n, a) => n + Number((a.reply as { removed?: number }).removed ?? 0), 0);
      log.info({ slice: name, user, removed, missed: unreachable }, 'slice deleted');
      return { ...before, state: 'deleted', unreachable };
    },
  };
}
