// The simulated community: its gateways (what each contributes, its owner's
// mode, up or down, what it has free and when that changed) and what each
// member believes about the others. A member's belief is not stored: it is
// computed from the truth and the memberlist model's learn times, so a
// gateway that failed is "alive" to an observer until the observer learns the
// rumor, and a gateway's free resources are seen as of its last tag publish
// (every 2 s, as the agent does) that has reached the observer. A member the
// gossip missed may learn that a gateway came back from another member's
// push-pull after the join (catchUpAfterJoins).
// In a partition, a member of the other side is dead to an observer from when
// the observer learns its side's dead rumor about it until it learns the
// member's refutation after the heal (by the gossip, or at its push-pull
// after the burst of refutations).
// The view it hands the cloud cores is a real overlay ViewState.
// Must never: read a clock or Math.random; let an observer see a change
// before the model says it has learned it.

import type { ResourceVector } from '../model/resources.js';
import type { MemberView, ViewState } from '../overlay/view.js';
import type { GatewayTags, OwnerMode } from '../overlay/tags.js';
import { weighted } from './draw.js';
import { failureLearnedAt, gossipEndMs, joinLearnedAt, learnedAt, type CatchUpModel, type FailureSpread, type SpreadCurve } from './memberlist.js';

/** The agent republishes its tags (free resources among them) this often. */
export const TAG_PUBLISH_MS = 2000;
/** How far back a gateway's free vectors are kept: well past any tag's spread. */
const HISTORY_MS = 60_000;

export interface Gateway {
  index: number;
  name: string;
  contributed: ResourceVector;
  mode: OwnerMode;
  up: boolean;
  /** The rumor of its latest change (dead or alive), and when that rumor started; null when none was ever spread. */
  rumor: { id: number; kind: 'dead' | 'alive'; at: number } | null;
  /** The rumor before it, for observers that have not heard the latest yet. */
  previous: { id: number; kind: 'dead' | 'alive'; at: number } | null;
  /** What its slivers use now. */
  used: ResourceVector;
  /** Its free vector over time, oldest first; the last entry is now. */
  history: { at: number; free: ResourceVector }[];
  /** Phase of its tag publish ticks. */
  publishPhaseMs: number;
}

export interface GatewayMix {
  /** Contributed cores, with weights. */
  cpu: readonly (readonly [number, number])[];
  /** Memory per contributed core (MB), with weights. */
  memoryPerCpuMb: readonly (readonly [number, number])[];
  diskMb: readonly (readonly [number, number])[];
  slivers: number;
  modes: readonly (readonly [OwnerMode, number])[];
}

export const DEFAULT_MIX: GatewayMix = {
  cpu: [[1, 0.4], [2, 0.4], [4, 0.2]],
  memoryPerCpuMb: [[1024, 0.5], [2048, 0.5]],
  diskMb: [[20_000, 0.5], [50_000, 0.3], [100_000, 0.2]],
  slivers: 32,
  modes: [['production', 0.9], ['safe', 0.05], ['drain', 0.05]],
};

const ZERO: ResourceVector = { cpu: 0, memoryMb: 0, diskMb: 0, slivers: 0 };

export function freeOf(g: Gateway): ResourceVector {
  return {
    cpu: Math.max(0, Math.round((g.contributed.cpu - g.used.cpu) * 1000) / 1000),
    memoryMb: g.contributed.memoryMb - g.used.memoryMb,
    diskMb: g.contributed.diskMb - g.used.diskMb,
    slivers: g.contributed.slivers - g.used.slivers,
  };
}

export const nameOf = (index: number): string => `gw-${String(index).padStart(5, '0')}`;

export function createGateways(n: number, mix: GatewayMix, rng: () => number): Gateway[] {
  const out: Gateway[] = [];
  for (let index = 0; index < n; index++) {
    const cpu = weighted(rng, mix.cpu);
    const contributed = { cpu, memoryMb: cpu * weighted(rng, mix.memoryPerCpuMb), diskMb: weighted(rng, mix.diskMb), slivers: mix.slivers };
    const g: Gateway = {
      index, name: nameOf(index), contributed, mode: weighted(rng, mix.modes), up: true, rumor: null, previous: null,
      used: { ...ZERO }, history: [], publishPhaseMs: rng() * TAG_PUBLISH_MS,
    };
    g.history.push({ at: 0, free: freeOf(g) });
    out.push(g);
  }
  return out;
}

/** Record a change of what a gateway uses (its slivers came or went) at `now`. */
export function addUse(g: Gateway, delta: ResourceVector, sign: 1 | -1, now: number): void {
  g.used = {
    cpu: g.used.cpu + sign * delta.cpu, memoryMb: g.used.memoryMb + sign * delta.memoryMb,
    diskMb: g.used.diskMb + sign * delta.diskMb, slivers: g.used.slivers + sign * delta.slivers,
  };
  const last = g.history[g.history.length - 1];
  if (last !== undefined && last.at === now) last.free = freeOf(g);
  else g.history.push({ at: now, free: freeOf(g) });
  // Keep one entry older than the window, so a lookup inside it always finds one.
  let drop = 0;
  while (drop + 1 < g.history.length && (g.history[drop + 1] as { at: number }).at < now - HISTORY_MS) drop++;
  if (drop > 0) g.history.splice(0, drop);
}

function freeAt(g: Gateway, at: number): ResourceVector {
  for (let i = g.history.length - 1; i >= 0; i--) {
    const h = g.history[i] as { at: number; free: ResourceVector };
    if (h.at <= at) return h.free;
  }
  return (g.history[0] as { free: ResourceVector }).free;
}

/** Ids of rumors: dead/alive rumors and tag publishes draw from disjoint ranges. */
const TAG_RUMOR_BASE = 0x40000000;

/** Rumors of a partition: each side's dead rumor about a member of the other, and the member's refutation once healed. */
const CUT_RUMOR_BASE = 0x80000000;
const REJOIN_RUMOR_BASE = 0xa0000000;

/** The community split in two sides for a while, as its members' memberlist sees it. */
export interface PartitionBeliefs {
  /** Per member: 0 or 1. */
  side: Uint8Array;
  fromMs: number;
  untilMs: number;
  /** Per member: when the other side declares it dead (its dead rumor starts there). */
  declaredAt: Float64Array;
  /** Per member: when, after the heal, it refutes its death (its alive rumor starts, to everyone). */
  aliveAt: Float64Array;
  /** How a death spreads within each side while they are apart (failureSpread over the side). */
  within: readonly [FailureSpread, FailureSpread];
  /** Per member: when its push-pull after the heal's burst of refutations answers (planPartition). */
  caughtUpAt: Float64Array;
}

export interface Beliefs {
  curve: SpreadCurve;
  /** How a member's failure spreads: its suspicion, and its death, its members' own suspicion timers included (failureSpread). */
  failure: FailureSpread;
  /** The push-pulls after joins: a member the gossip missed may learn a return from them. */
  catchUp: CatchUpModel;
  seed: number;
  partition?: PartitionBeliefs;
}

/** Whether the network lets `a` and `b` talk at `now` (both up is the caller's to check). */
export function connected(b: Beliefs, a: number, c: number, now: number): boolean {
  const p = b.partition;
  return p === undefined || now < p.fromMs || now >= p.untilMs || p.side[a] === p.side[c];
}

/** Whether `observer` has declared `g` dead because of the partition at `now`. */
function cutOff(b: Beliefs, p: PartitionBeliefs, observer: number, g: number, now: number): boolean {
  const side = p.side[observer] as number;
  if (side === p.side[g] || now < p.fromMs) return false;
  if (now < failureLearnedAt(p.within[side as 0 | 1], b.seed, CUT_RUMOR_BASE + g, observer, p.declaredAt[g] as number)) return false;
  return now < refutationLearnedAt(b, p, observer, g);
}

/**
 * When `observer` learns that `g` refuted its death after the heal: by the
 * gossip, or at its own push-pull after the burst of refutations if that
 * comes first and the member it pulls from has it by then (the gossip has
 * reached all it reaches).
 */
function refutationLearnedAt(b: Beliefs, p: PartitionBeliefs, observer: number, g: number): number {
  const aliveAt = p.aliveAt[g] as number;
  const gossip = learnedAt(b.curve, b.seed, REJOIN_RUMOR_BASE + g, observer, aliveAt);
  const pushPull = p.caughtUpAt[observer] as number;
  return aliveAt + gossipEndMs(b.curve) <= pushPull ? Math.min(gossip, pushPull) : gossip;
}

/** When `observer` learns that `g`, across the partition, is dead; and when that it is alive again. */
export function partitionLearnTimes(b: Beliefs, p: PartitionBeliefs, observer: number, g: number): { dead: number; alive: number } {
  const side = p.side[observer] as 0 | 1;
  return {
    dead: failureLearnedAt(p.within[side], b.seed, CUT_RUMOR_BASE + g, observer, p.declaredAt[g] as number),
    alive: refutationLearnedAt(b, p, observer, g),
  };
}

/** Whether `observer` believes `g` alive at `now`. */
export function believedAlive(b: Beliefs, observer: number, g: Gateway, now: number): boolean {
  if (observer === g.index) return g.up;
  if (b.partition !== undefined && cutOff(b, b.partition, observer, g.index, now)) return false;
  for (const r of [g.rumor, g.previous]) {
    if (r === null) continue;
    const learnt = r.kind === 'alive' ? joinLearnedAt(b.curve, b.catchUp, b.seed, r.id, observer, r.at) : failureLearnedAt(b.failure, b.seed, r.id, observer, r.at);
    if (learnt <= now) return r.kind === 'alive';
  }
  return true;
}

/**
 * The free vector `observer` has from `g`'s tags at `now`: the one of the
 * latest publish tick whose rumor has reached the observer (a gateway's own
 * is current).
 */
export function believedFree(b: Beliefs, observer: number, g: Gateway, now: number): ResourceVector {
  if (observer === g.index) return freeOf(g);
  const tick = Math.floor((now - g.publishPhaseMs) / TAG_PUBLISH_MS);
  for (let k = tick; k > tick - 8; k--) {
    const at = g.publishPhaseMs + k * TAG_PUBLISH_MS;
    if (at < 0) break;
    const rumor = TAG_RUMOR_BASE + ((g.index * 7919 + k) & 0x3fffffff);
    if (learnedAt(b.curve, b.seed, rumor, observer, at) <= now) return freeAt(g, at);
  }
  return freeAt(g, now - 8 * TAG_PUBLISH_MS);
}

const SIM_ID = '0'.repeat(64);

function memberView(b: Beliefs, observer: number, g: Gateway, now: number): MemberView {
  const alive = believedAlive(b, observer, g, now);
  const tags: GatewayTags = {
    id: SIM_ID, api: ':7070', contributed: g.contributed, free: believedFree(b, observer, g, now), mode: g.mode,
    version: 'sim', digests: {}, zone: null, access: { quota: null, allowlist: false },
  };
  return { name: g.name, serfAddr: '', status: alive ? 'alive' : 'failed', tags, tagError: null, coordinate: null };
}

/** The overlay view `observer` has of `members` at `now`, as the agent's membership view would hold it. */
export function viewOf(b: Beliefs, observer: number, members: readonly Gateway[], now: number): ViewState {
  const map = new Map<string, MemberView>();
  for (const g of members) map.set(g.name, memberView(b, observer, g, now));
  return { members: map, badTags: 0 };
}
