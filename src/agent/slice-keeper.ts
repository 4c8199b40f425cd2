// Keeps every slice this gateway holds at exactly N, with no coordinator.
// Every few seconds it: gossips a digest of its slice records and pulls the
// records of the members that hold a slice with it (its placements name
// them, or the slices' homes do), and once of each member that comes back
// into its view, one a round, when their digest differs (anti-entropy),
// taking a newer
// placement or a user's signed delete, renewal or resize it finds there (a
// resize that shrinks the slice removes the slivers here it no longer has);
// heals the slices it is the healer of (a holder failed or left: their
// slivers are placed again from the user's signed spec), and places
// elsewhere a sliver of its own that failed here for good; and removes its
// slivers that the converged
// placement puts on another live gateway, once that gateway says it has them.
// The decisions are the cores' (cloud/healing.ts, cloud/slice-records.ts,
// cloud/anti-entropy.ts); this shell feeds them and runs what they say.
// Must never: remove a sliver on the word of a placement alone (the gateway
// it names must confirm), or take a delete, renewal or resize whose
// signature it did not check.

import { createRounds } from '../kit/rounds.js';
import { MAX_LIFETIME_SEC } from '../model/slice.js';
import type { AppRecipe } from '../model/app.js';
import type { Logger } from '../model/logger.js';
import { peerAddress, type ViewState } from '../overlay/view.js';
import type { PeerCaller } from '../peer/caller.js';
import { EMPTY_ANTI_ENTROPY, holdsNothingNew, stepAntiEntropy, type AntiEntropyInput, type AntiEntropyState, type PeerDigest } from '../cloud/anti-entropy.js';
import { extrasOf, healingDuties, type HeldSlice, type Liveness } from '../cloud/healing.js';
import { SLICES_DIGEST, placementWins, sharersOf, slicesDigest, stepSweep, type RecordState } from '../cloud/slice-records.js';
import { incarnationOf, resizeOf, type SliceHosting } from '../slivers/hosting.js';
import type { SliceRecord, StoredSliver } from '../store/store.js';
import { SLICE_ROUTES, verifyDelete, verifyRenew, verifyResize, type HostedSlice } from './slice-host.js';
import type { PlaceTarget, Placed, SliceDocuments } from './slices.js';

export interface SliceKeeperInit {
  self: string;
  hosting: SliceHosting;
  community: {
    view(): ViewState;
    readonly caller: PeerCaller;
    publishDigest(key: string, digest: string | undefined): void;
    onViewChange(listener: () => void): () => void;
  };
  heal(documents: SliceDocuments, target: PlaceTarget): Promise<Placed>;
  /** Writes the slice's ssh keys into a running sliver of it, once. */
  installKeys(sliver: StoredSliver, keys: readonly string[]): Promise<void>;
  /** Installs the sliver's share of the slice's app and runs it, once. */
  installApp(sliver: StoredSliver, app: AppRecipe, size: number): Promise<void>;
  log: Logger;
  nowSec: () => number;
  intervalMs?: number;
  /** After a failed healing, wait this long before that slice is tried again. */
  healRetryMs?: number;
  /** Members that the slices' homes say hold a slice with this gateway (slice-homes.ts); their records are pulled too. */
  coHolders?: () => ReadonlySet<string>;
}

export interface SliceKeeper {
  /** One round now; resolves when its pulls, healings and removals are done. */
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

function stateOf(r: Pick<SliceRecord, 'user' | 'name' | 'document' | 'placement' | 'version' | 'deletedAt' | 'expiresAt' | 'resizeDocument'>): RecordState {
  return {
    user: r.user, name: r.name, incarnation: incarnationOf(r.document), placement: r.placement, version: r.version,
    deletedAt: r.deletedAt, expiresAt: r.expiresAt, resize: resizeOf(r.resizeDocument)?.nonce ?? null,
  };
}

/** This gateway's slivers that failed for good and that the slice's placement still puts here. */
function failedHere(self: string, mine: readonly StoredSliver[], liveOf: (user: string | undefined, name: string) => { record: SliceRecord } | undefined): { record: SliceRecord; index: number }[] {
  return mine.flatMap((s) => {
    if (s.desired !== 'running' || s.observed !== 'failed' || s.member === null) return [];
    const record = liveOf(s.member.user, s.spec.slice)?.record;
    return record !== undefined && record.placement[String(s.member.index)] === self ? [{ record, index: s.member.index }] : [];
  });
}

/**
 * Whether the view changed in what a round reads: a member's status, mode or
 * peer address, or the records' digest of one it pulls (`pulled`). Nothing
 * else (free resources, services, coordinates, the digests of members that
 * hold no slice with this gateway) changes what a round does.
 */
function changesWhatARoundReads(before: ViewState, now: ViewState, pulled: ReadonlySet<string>): boolean {
  if (before.members.size !== now.members.size) return true;
  for (const [name, m] of now.members) {
    const was = before.members.get(name);
    if (was === m) continue;
    if (was === undefined || was.status !== m.status || was.tags?.mode !== m.tags?.mode || peerAddress(was) !== peerAddress(m)) return true;
    if (pulled.has(name) && was.tags?.digests[SLICES_DIGEST] !== m.tags?.digests[SLICES_DIGEST]) return true;
  }
  return false;
}

export function createSliceKeeper(init: SliceKeeperInit): SliceKeeper {
  const { self, hosting, community, log } = init;
  const callTimeoutMs = 5000;
  let entropy: AntiEntropyState = EMPTY_ANTI_ENTROPY;
  const healing = new Set<string>();
  /** Slivers set up (keys, app), or being set up: each once per agent run (installKeys and installApp skip a sliver that has them). */
  const installing = new Set<string>();
  const healFailedAt = new Map<string, number>();
  let sweepRound = 0;
  // The members owed a sweep (they came back into our view), and those alive in it last round.
  let owed: ReadonlySet<string> = new Set();
  let wasAlive: ReadonlySet<string> = new Set();
  /**
   * The view the last round read, and the members it would pull on a new digest: a change elsewhere calls for no round
   * at once. None when that round found no records here: a gateway that holds none has nothing a view change could call for.
   */
  let read: { view: ViewState; pulled: ReadonlySet<string> } | undefined;

  /**
   * Gossips the digest of the records held here (a no-op when it has not changed). Each round does, and
   * so does every change a round makes: a healed or newly taken placement reaches the other holders a
   * gossip and a pull later, not a round later (the healer's wait for its next round was part of the
   * 0.6-4.9 s the other holder took to learn a heal at 100 gateways; BENCHMARKS.md, session 25).
   */
  const publishRecords = (): { records: SliceRecord[]; digest: string | undefined } => {
    const records = hosting.records();
    const digest = slicesDigest(records.map(stateOf));
    community.publishDigest(SLICES_DIGEST, digest);
    return { records, digest };
  };

  const feed = (input: AntiEntropyInput): AntiEntropyState['pending'] => {
    const step = stepAntiEntropy(entropy, input, performance.now());
    entropy = step.state;
    return new Map(step.commands.map((c) => [c.member, c.digest]));
  };

  /** Takes what a peer's records say that ours do not: the user's delete, renewal or resize, or a newer placement (after the resize, which says which indexes it may have). */
  const merge = (items: readonly HostedSlice[]): void => {
    for (const theirs of items) {
      const mine = hosting.record(theirs.user, theirs.name);
      if (mine === undefined) continue;
      if (theirs.deletedAt !== null && mine.deletedAt === null && theirs.deleteDocument !== null) {
        try {
          const del = verifyDelete(theirs.deleteDocument, init.nowSec(), MAX_LIFETIME_SEC);
          if (del.user !== mine.user || del.name !== mine.name) continue;
          // The peer's tombstone says which incarnation it deleted: one made again in the delete's second stays.
          const removed = hosting.remove(mine.user, mine.name, del.doc.at, 'deleted', theirs.deleteDocument, incarnationOf(theirs.document));
          if (removed.length > 0) log.info({ slice: mine.name, user: mine.user, removed: removed.length }, 'learnt that the user deleted the slice');
        } catch (err) {
          log.warn({ slice: mine.name, err: (err as Error).message }, 'a peer sent a delete that does not verify; ignored');
        }
        continue;
      }
      if (mine.deletedAt === null && theirs.expiresAt > mine.expiresAt && theirs.renewDocument !== null) {
        try {
          const renewal = verifyRenew(theirs.renewDocument, init.nowSec(), MAX_LIFETIME_SEC);
          if (renewal.user === mine.user && renewal.name === mine.name
            && hosting.renew(mine.user, mine.name, renewal.expiresAt, theirs.renewDocument, renewal.doc.at)) {
            log.info({ slice: mine.name, expiresAt: renewal.expiresAt }, 'learnt that the user renewed the slice');
          }
        } catch (err) {
          log.warn({ slice: mine.name, err: (err as Error).message }, 'a peer sent a renewal that does not verify; ignored');
        }
      }
      const resizeDocument: unknown = theirs.resizeDocument ?? null;
      if (mine.deletedAt === null && resizeDocument !== null && resizeOf(resizeDocument)?.nonce !== resizeOf(mine.resizeDocument)?.nonce) {
        try {
          const resize = verifyResize(resizeDocument, init.nowSec(), MAX_LIFETIME_SEC);
          const done = resize.user === mine.user && resize.name === mine.name ? hosting.resize(mine.user, mine.name, resizeDocument) : undefined;
          if (done?.resized === true) {
            log.info({ slice: mine.name, slivers: resize.slivers, retired: done.retired.length }, 'learnt that the user resized the slice');
          }
        } catch (err) {
          log.warn({ slice: mine.name, err: (err as Error).message }, 'a peer sent a resize that does not verify; ignored');
        }
      }
      // A placement of indexes a resize here dropped may still "win"; adopting drops them again, and changes nothing.
      const current = hosting.record(mine.user, mine.name) ?? mine;
      if (current.deletedAt === null && theirs.deletedAt === null && placementWins(stateOf(current), stateOf(theirs))
        && hosting.adopt(mine.user, mine.name, theirs.placement, theirs.version)) {
        log.info({ slice: mine.name, version: theirs.version, placement: theirs.placement }, 'took a newer placement');
      }
    }
  };

  const pullFrom = async (member: string, digest: string): Promise<void> => {
    try {
      const reply = await community.caller.call(member, SLICE_ROUTES.list, undefined, { timeoutMs: callTimeoutMs }) as { items?: HostedSlice[] };
      merge(reply.items ?? []);
      feed({ type: 'pulled', member, digest });
    } catch (err) {
      log.warn({ member, err: (err as Error).message }, 'pulling slice records failed');
      feed({ type: 'pull-failed', member, digest });
    }
  };

  /**
   * Places the lost slivers again beside the others (every index not lost
   * has a live gateway: healingDuties says so), away from `avoid`.
   */
  const heal = async (record: SliceRecord, lost: readonly number[], why: string, avoid?: Record<string, string>): Promise<void> => {
    const key = `${record.user} ${record.name}`;
    const failedAt = healFailedAt.get(key);
    if (healing.has(key) || (failedAt !== undefined && performance.now() - failedAt < (init.healRetryMs ?? 10_000))) return;
    healing.add(key);
    try {
      const kept = Object.fromEntries(Object.entries(record.placement).filter(([i]) => !lost.includes(Number(i))));
      log.info({ slice: record.name, user: record.user, lost }, `healing: placing the slivers ${why}`);
      const target = { indexes: [...lost], kept, version: record.version + 1, ...(avoid ? { avoid } : {}) };
      const placed = await init.heal({ create: record.document, resize: record.resizeDocument }, target);
      hosting.adopt(record.user, record.name, placed.placement, placed.version);
      publishRecords();
      healFailedAt.delete(key);
    } catch (err) {
      healFailedAt.set(key, performance.now());
      log.warn({ slice: record.name, user: record.user, err: (err as Error).message }, 'healing failed; trying again later');
    } finally {
      healing.delete(key);
    }
  };

  /** Removes our sliver of an index the placement gives another gateway, once that gateway says it runs it. */
  const retire = async (user: string, name: string, index: number, placedAt: string): Promise<void> => {
    try {
      const reply = await community.caller.call(placedAt, SLICE_ROUTES.list, undefined, { timeoutMs: callTimeoutMs }) as { items?: HostedSlice[] };
      const there = reply.items?.find((s) => s.user === user && s.name === name)?.slivers.some((s) => s.index === index && s.desired !== 'gone');
      if (there !== true) return;
      if (hosting.retire(user, name, index, placedAt) !== undefined) {
        log.info({ slice: name, user, index, keptOn: placedAt }, 'removed an extra sliver: the slice runs this one on another gateway');
      }
    } catch (err) {
      log.warn({ slice: name, index, placedAt, err: (err as Error).message }, 'could not confirm where an extra sliver runs; keeping it for now');
    }
  };

  async function once(): Promise<void> {
    let view: ViewState;
    try {
      view = community.view();
    } catch {
      return; // not in a community now: nothing to keep
    }
    const { records, digest } = publishRecords();

    // Pulled: the members that hold a slice with us (by our placements, or by the homes' word), and,
    // while we hold any, one a round of those that came back into our view (stepSweep). Nobody's
    // records can change a gateway that holds none, nor those of a member that stayed in its view.
    const sharers = sharersOf(self, records);
    for (const m of init.coHolders?.() ?? []) if (m !== self) sharers.add(m);
    const reachable = [...view.members.values()].filter((m) => m.name !== self && m.status === 'alive' && peerAddress(m) !== null);
    const alive = new Map(reachable.map((m) => [m.name, m.tags?.digests[SLICES_DIGEST]]));
    const sweep = stepSweep({ owed, wasAlive, alive, sharers, holding: records.length > 0, settled: (m, d) => holdsNothingNew(entropy, m, d), round: sweepRound++ });
    owed = sweep.owed;
    wasAlive = new Set(alive.keys());
    const swept = sweep.pick;
    const pullable = new Set(reachable.filter((m) => sharers.has(m.name) || m.name === swept).map((m) => m.name));
    read = records.length > 0 ? { view, pulled: sharers } : undefined;
    const peers: PeerDigest[] = [...view.members.values()].filter((m) => m.name !== self).map((m) => ({
      member: m.name, digest: m.tags?.digests[SLICES_DIGEST], reachable: pullable.has(m.name),
    }));
    const pulls = feed({ type: 'tick', mine: digest, peers, self });
    await Promise.all([...pulls].map(([member, d]) => pullFrom(member, d)));
    // What the pulls brought (a newer placement, a delete, a renewal, a resize) is news for the other holders.
    if (pulls.size > 0) publishRecords();

    // A draining gateway counts as gone: its slivers are placed elsewhere, then it removes them as extras.
    const liveness = (m: string): Liveness => {
      const member = view.members.get(m);
      return member?.status === 'alive' && member.tags?.mode !== 'drain' ? 'alive' : 'gone';
    };
    // Every live record with its spec and size, read once a round.
    const live = new Map(hosting.live(init.nowSec()).map((l) => [`${l.record.user} ${l.record.name}`, l]));
    const liveOf = (user: string | undefined, name: string) => live.get(`${user ?? ''} ${name}`);
    const held: HeldSlice[] = [...live.values()].map(({ record: r, size }) => ({ user: r.user, name: r.name, slivers: size, placement: r.placement }));
    const duties = healingDuties(self, held, liveness);
    const mine = hosting.slivers();
    const hosted = mine.filter((s) => s.desired !== 'gone' && s.member !== null)
      .map((s) => ({ user: s.member?.user ?? '', name: s.spec.slice, index: s.member?.index ?? -1 }));
    const extras = extrasOf(self, hosted, (user, name) => liveOf(user, name)?.record.placement, liveness);
    const keyed = mine.filter((s) => s.desired === 'running' && s.observed === 'running' && !installing.has(s.id));
    await Promise.all([
      ...keyed.map(async (s) => {
        const entry = liveOf(s.member?.user, s.spec.slice);
        const keys = entry?.spec.sshKeys ?? [];
        const app = entry?.spec.app ?? null;
        if (entry === undefined || (keys.length === 0 && app === null)) return;
        installing.add(s.id);
        try {
          if (keys.length > 0) await init.installKeys(s, keys);
          if (app !== null) await init.installApp(s, app, entry.size);
        } catch (err) {
          log.warn({ sliver: s.spec.name, err: (err as Error).message }, 'setting up the sliver (ssh keys, app) failed; trying again');
          installing.delete(s.id);
        }
      }),
      ...duties.map(async (d) => {
        const entry = liveOf(d.user, d.name);
        if (entry !== undefined) await heal(entry.record, d.lost, 'of gateways that failed or left');
      }),
      // A sliver that failed here for good (the reconciler gave up) is placed on another gateway; ours goes once it runs there.
      ...failedHere(self, mine, liveOf).map(({ record, index }) => heal(record, [index], 'that failed on this gateway', { [self]: 'its sliver of the slice failed there' })),
      ...extras.map((e) => retire(e.user, e.name, e.index, e.placedAt)),
    ]);
  }

  const rounds = createRounds({
    round: once,
    onError: (err) => log.warn({ err: (err as Error).message }, 'keeping slices failed'),
    intervalMs: init.intervalMs ?? 2000,
    // A member that fails, leaves or comes back, or a new digest of one that holds a slice with us, is
    // acted on at once, not at the next tick, by the gateways holding slices. The others wait for their
    // next round: at 100 gateways on one machine, every agent's round at a failure took the cores the heal
    // needed. So does a change no round reads: each placement anywhere changes its hosts' tags, which
    // woke every holder's keeper in the community, a round over every member for each.
    wake: (tick) => community.onViewChange(() => {
      if (read === undefined) return;
      let now: ViewState;
      try {
        now = community.view();
      } catch {
        return;
      }
      if (changesWhatARoundReads(read.view, now, read.pulled)) tick();
    }),
  });
  return rounds;
}
