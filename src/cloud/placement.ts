// Where a slice's slivers go: the decision the entry gateway makes from its
// own membership view, before it reserves on the chosen gateways with leases.
// Each sliver samples d of the candidates that fit it and that the spread
// allows (power of d choices), draws d more (up to EXTRA_PROBES times) while
// the best drawn would be loaded above the average (the candidates' shares
// with the sliver there, weighted by what each contributes) and the
// community is not busy (a threshold policy), and takes the best of all
// drawn: the nearest to the spec's `near` gateway in bands of NEAR_BAND_MS,
// then the emptiest for what its owner offers (the lowest dominant share
// once the sliver is there: the largest of its used cpu, memory, disk and
// sliver slots over what it contributes), then by name. So every box is
// loaded in proportion to what its owner gives, a small one as much as a big
// one (the most absolute room sent the first slivers to the biggest boxes:
// the sim's imbalance against an ideal scheduler was worse at low
// utilisation).
// Both spreads put at most one sliver of a slice on a gateway, so a free
// vector is checked, never drawn down, within one placement. And as a slice's
// slivers are all the same size, greedy picking fails only where no
// assignment exists: each pick uses up one spread key (gateway or zone), and
// no_capacity means fewer keys than slivers have a gateway that fits. What the
// sampling does not promise is the best score overall; with the default
// d = 2, `near` is a preference among the few drawn. Cpu counts in
// thousandths of a core, the grain tags gossip.
// Pure. Must never: throw on any input the types allow, read a clock or
// Math.random (randomness comes in as `rng`), or return a partial placement.

import type { ResourceVector } from '../model/resources.js';
import type { SliceSpec, Spread } from '../model/slice.js';
import type { SliverResources } from '../model/sliver.js';
import type { SerfCoordinate } from '../overlay/serf-records.js';
import type { ViewState } from '../overlay/view.js';
import { estimateRttMs } from '../overlay/vivaldi.js';

export interface Candidate {
  /** Member name. */
  name: string;
  /** From its tags. */
  free: ResourceVector;
  /** What its owner offers, from its tags. */
  contributed: ResourceVector;
  zone: string | null;
  /** Estimated RTT to the spec's `near` gateway, when there is one and both have coordinates. */
  rttMs: number | null;
}

/** Candidates whose RTT to `near` differs by less than this are equally near; balance decides among them. */
export const NEAR_BAND_MS = 10;
export const DEFAULT_SAMPLES = 2;
/**
 * How many more times d candidates are drawn while the best drawn would be
 * loaded above the average of those that fit, weighted by what each
 * contributes (Eager, Lazowska and Zahorjan's threshold policy on top of the
 * d choices): without it a light load's max/mean was 1.27 times the ideal
 * scheduler's at 10-20% utilisation. The weighted average is stricter for a
 * big sliver, so a pick above it is likelier: with 4 more draws, a rare run
 * of draws all above it (a 1-core sliver on a 1-core box) still set the
 * maximum for hours at 10%; 8 bring the sim within 6% of the ideal there.
 * The draws read the entry's own view: they cost no message.
 */
export const EXTRA_PROBES = 8;
/**
 * From this average share (of the gateways that fit, as they are), no more
 * is drawn: in a busy community the many entry gateways' stale views herd
 * more probes onto the same few emptiest gateways, and fewer slices were
 * placed at 90%.
 */
export const BUSY_SHARE = 0.6;

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Alive members with decoded tags, in production mode, not in `excluded`
 * (revoked ids are the caller's to turn into names). Sorted by name.
 * rttMs is computed against `near`'s coordinate when given (0 for `near` itself).
 */
export function candidatesFrom(view: ViewState, opts: { near: string | null; excluded?: ReadonlySet<string> }): Candidate[] {
  const from = opts.near === null ? null : view.members.get(opts.near)?.coordinate ?? null;
  const rtt = (name: string, coordinate: SerfCoordinate | null): number | null => {
    if (name === opts.near) return 0;
    if (from === null || coordinate === null) return null;
    const ms = estimateRttMs(from, coordinate);
    return Number.isFinite(ms) ? ms : null;
  };
  const out: Candidate[] = [];
  for (const m of view.members.values()) {
    if (m.status !== 'alive' || m.tags === null || m.tags.mode !== 'production' || opts.excluded?.has(m.name) === true) continue;
    out.push({ name: m.name, free: m.tags.free, contributed: m.tags.contributed, zone: m.tags.zone, rttMs: rtt(m.name, m.coordinate) });
  }
  return out.sort(byName);
}

export interface PlaceInput {
  spec: Pick<SliceSpec, 'resources' | 'spread' | 'near'>;
  /** Sliver indexes to place (all of 0..N-1 at creation; only the lost ones when healing). An index listed twice is placed once. */
  indexes: readonly number[];
  /** A name listed twice counts once, as first listed. */
  candidates: readonly Candidate[];
  /** Gateways (and their zones) already holding a sliver of this slice: spread counts them. */
  holders: readonly { name: string; zone: string | null }[];
  /** Gateways that refused this request already: never chosen again. */
  refused?: ReadonlySet<string>;
  /** How many candidates are sampled per sliver (power of d choices). Default 2; d >= number of fitting candidates means "look at all". */
  d?: number;
  rng: () => number;
}

export type Placement =
  | { ok: true; assignments: { index: number; gateway: string }[] }
  | { ok: false; fault: 'no_capacity' | 'too_few_gateways'; reason: string };

/** What a sliver takes, cpu in thousandths rounded up (the grain tags gossip). */
interface Need { cpuMilli: number; memoryMb: number; diskMb: number }

const NOTHING: Need = { cpuMilli: 0, memoryMb: 0, diskMb: 0 };
const needOf = (r: SliverResources): Need => ({ cpuMilli: Math.ceil(r.cpu * 1000 - 1e-6), memoryMb: r.memoryMb, diskMb: r.diskMb });
const freeCpuMilli = (free: ResourceVector): number => Math.floor(free.cpu * 1000 + 1e-6);

function fits(free: ResourceVector, need: Need): boolean {
  return freeCpuMilli(free) >= need.cpuMilli && free.memoryMb >= need.memoryMb && free.diskMb >= need.diskMb && free.slivers >= 1;
}

/**
 * Calls `visit` for each resource (cpu in thousandths, memory, disk, sliver
 * slots, as `i` 0-3) with what the owner contributes, what is free, and what
 * the sliver wants (`slots` slots). Allocates nothing: it is on the
 * placement's path for every candidate.
 */
function eachResource(c: Candidate, need: Need, slots: number, visit: (i: number, contributed: number, free: number, want: number) => void): void {
  visit(0, c.contributed.cpu * 1000, freeCpuMilli(c.free), need.cpuMilli);
  visit(1, c.contributed.memoryMb, c.free.memoryMb, need.memoryMb);
  visit(2, c.contributed.diskMb, c.free.diskMb, need.diskMb);
  visit(3, c.contributed.slivers, c.free.slivers, slots);
}

/** A resource its owner offers none of (or an unbounded amount of) does not count. */
const counts = (contributed: number): boolean => contributed > 0 && Number.isFinite(contributed);

/**
 * The gateway's dominant share with this sliver placed (with `need` and
 * `slots` more; nothing and 0 for the gateway as it is): the largest of used
 * over contributed, for each resource (0 for one that does not count).
 */
function shareWith(c: Candidate, need: Need, slots = 1): number {
  let most = -Infinity;
  eachResource(c, need, slots, (_, contributed, free, want) => {
    most = Math.max(most, counts(contributed) ? (contributed - free + want) / contributed : 0);
  });
  return most;
}

/**
 * The average of the candidates' shares with this sliver placed, each
 * weighted by what it contributes: per resource, what they use plus the
 * sliver once on each, over what they contribute, and the largest of those
 * (for one resource, exactly the weighted average of the shares once
 * placed). The plain average counts a 1-core box, which a 1-core sliver
 * alone would fill, as much as a 4-core one, so for a big sliver it was
 * high (0.7 at 10% utilisation) and a pick that took a 2-core box to 0.75
 * passed; weighted, it is their load pooled plus what the sliver is of their
 * average contribution (about 0.5 there).
 */
function weightedShareWith(candidates: readonly Candidate[], need: Need): number {
  const used = [0, 0, 0, 0];
  const total = [0, 0, 0, 0];
  for (const c of candidates) {
    eachResource(c, need, 1, (i, contributed, free, want) => {
      if (!counts(contributed)) return;
      total[i] = (total[i] as number) + contributed;
      used[i] = (used[i] as number) + (contributed - free + want);
    });
  }
  return Math.max(0, ...total.map((t, i) => (t > 0 ? (used[i] as number) / t : 0)));
}

/** What no two slivers of a slice may share: the gateway, or its zone (a gateway without one is a zone of its own). */
function spreadKey(spread: Spread, g: { name: string; zone: string | null }): string {
  return spread === 'gateways' ? g.name : g.zone ?? `gw:${g.name}`;
}

interface Scored { candidate: Candidate; band: number; share: number }

/** Negative when `a` is the better choice: nearer band, then the lower share once placed, then the smaller name. */
function compare(a: Scored, b: Scored): number {
  if (a.band !== b.band) return a.band < b.band ? -1 : 1;
  if (a.share !== b.share) return a.share < b.share ? -1 : 1;
  return byName(a.candidate, b.candidate);
}

const bestOf = (drawn: readonly Scored[]): Scored => [...drawn].sort(compare)[0] as Scored;

/** `d` distinct members of `pool` drawn with `rng` (a partial Fisher-Yates), or all of it when d covers it. */
function sample<T>(pool: readonly T[], d: number, rng: () => number): T[] {
  if (d >= pool.length) return [...pool];
  const rest = [...pool];
  const out: T[] = [];
  while (out.length < d) {
    const drawn = Math.floor(rng() * rest.length);
    const at = Number.isFinite(drawn) ? Math.min(rest.length - 1, Math.max(0, drawn)) : 0;
    out.push(rest.splice(at, 1)[0] as T);
  }
  return out;
}

const samplesOf = (d: number | undefined): number => (d === undefined || Number.isNaN(d) ? DEFAULT_SAMPLES : Math.max(1, Math.floor(d)));

const unitOf = (spread: Spread): string => (spread === 'gateways' ? 'gateway' : 'zone');
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function tooFewReason(spread: Spread, eligible: number, needed: number): string {
  return `${plural(needed, 'sliver')} spread over ${spread} need as many ${spread}, ` +
    `but only ${eligible} eligible ${unitOf(spread)}${eligible === 1 ? ' is' : 's are'} left (not refused, not already holding a sliver of the slice)`;
}

function noCapacityReason(spread: Spread, eligible: readonly Candidate[], need: Need, needed: number): string {
  const all = new Set(eligible.map((c) => spreadKey(spread, c))).size;
  const fitting = new Set(eligible.filter((c) => fits(c.free, need)).map((c) => spreadKey(spread, c))).size;
  const most = (pick: (c: Candidate) => number): number => eligible.reduce((m, c) => Math.max(m, pick(c)), 0);
  return `${plural(needed, 'sliver')} of ${need.cpuMilli / 1000} cpu, ${need.memoryMb} MB memory and ${need.diskMb} MB disk spread over ${spread}, ` +
    `but ${fitting} of ${plural(all, `eligible ${unitOf(spread)}`)} ${spread === 'gateways' ? 'can take one' : 'have a gateway that can take one'}; ` +
    `the most free seen: ${most((c) => freeCpuMilli(c.free)) / 1000} cpu, ${most((c) => c.free.memoryMb)} MB memory, ` +
    `${most((c) => c.free.diskMb)} MB disk, ${plural(most((c) => c.free.slivers), 'sliver slot')}`;
}

/** Choose a gateway for each of `indexes`, or say why the community cannot: all of them or none. */
export function placeSlivers(input: PlaceInput): Placement {
  const { spread, near } = input.spec;
  const need = needOf(input.spec.resources);
  const indexes = [...new Set(input.indexes)];
  // A holder's gateway is taken under either spread; under `zones` its zone is too.
  const takenNames = new Set(input.holders.map((h) => h.name));
  const takenKeys = new Set(input.holders.map((h) => spreadKey(spread, h)));
  const admissible = (c: Candidate): boolean => !takenNames.has(c.name) && !takenKeys.has(spreadKey(spread, c));

  const seen = new Set<string>();
  const eligible = [...input.candidates].sort(byName).filter((c) => {
    if (seen.has(c.name)) return false;
    seen.add(c.name);
    return input.refused?.has(c.name) !== true && admissible(c);
  });
  const keys = new Set(eligible.map((c) => spreadKey(spread, c))).size;
  if (keys < indexes.length) return { ok: false, fault: 'too_few_gateways', reason: tooFewReason(spread, keys, indexes.length) };

  // Without `near` every candidate is in the same band; with it, an unknown RTT is as far as can be.
  const band = (c: Candidate): number => {
    if (near === null) return 0;
    return c.rttMs === null || Number.isNaN(c.rttMs) ? Number.POSITIVE_INFINITY : Math.floor(c.rttMs / NEAR_BAND_MS);
  };
  const fitting = eligible.filter((c) => fits(c.free, need)).map((c): Scored => ({ candidate: c, band: band(c), share: shareWith(c, need) }));
  const d = samplesOf(input.d);
  // The threshold: a pick above the average is drawn again, while the community is not busy.
  const average = weightedShareWith(fitting.map((s) => s.candidate), need);
  const probes = fitting.reduce((sum, s) => sum + shareWith(s.candidate, NOTHING, 0), 0) / Math.max(1, fitting.length) < BUSY_SHARE ? EXTRA_PROBES : 0;
  const assignments: { index: number; gateway: string }[] = [];
  for (const index of indexes) {
    const pool = fitting.filter((s) => admissible(s.candidate));
    let drawn = sample(pool, d, input.rng);
    for (let probe = 0; probe < probes && drawn.length < pool.length && bestOf(drawn).share > average; probe++) {
      drawn = drawn.concat(sample(pool.filter((s) => !drawn.includes(s)), d, input.rng));
    }
    const best = drawn.length === 0 ? undefined : bestOf(drawn);
    if (best === undefined) return { ok: false, fault: 'no_capacity', reason: noCapacityReason(spread, eligible, need, indexes.length) };
    assignments.push({ index, gateway: best.candidate.name });
    takenNames.add(best.candidate.name);
    takenKeys.add(spreadKey(spread, best.candidate));
  }
  return { ok: true, assignments };
}
