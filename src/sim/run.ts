// One simulated run: a discrete-event loop over a simulated ms clock that
// drives the real cloud cores the way the agent does. Slices arrive at random
// live gateways, which place them with `candidatesFrom` and `placeSlivers`
// over their own (stale) view, then reserve on each chosen gateway and commit
// (the messages counted are those calls, and a creation's calls to the
// name's homes, its read-back and its hosts' registrations); gateways fail and come back with
// Weibull up and down times; every live holder of a slice runs
// `healingDuties` when it learns a failure, and the rendezvous winner
// re-places the lost slivers. An ideal central scheduler places the same
// workload alongside, for comparison. Live members are now and then suspected
// falsely (a probe's packets all lost) and refute. In a partition each side
// keeps its own record of a slice's placement and heals on its own; once
// healed, the records converge by `placementWins` and the slivers the winner
// puts elsewhere are removed by `extrasOf`, as the agents do.
// Simplifications (docs/sim.md): a placement happens at one instant of
// simulated time (its calls' delays count toward heal time, not toward other
// placements), and every holder (on its side of a partition) knows a slice's
// latest placement at once.
// Must never: read a clock or Math.random (the CLI reports wall time); call
// anything but the real cores to decide placement and healing.

import { extrasOf, healingDuties, type Liveness } from '../cloud/healing.js';
import { candidatesFrom, placeSlivers } from '../cloud/placement.js';
import { DEFAULT_HOMES } from '../cloud/slice-homes.js';
import { placementWins, type RecordState } from '../cloud/slice-records.js';
import { createDeadlineQueue } from '../kit/deadline-queue.js';
import { createRng } from '../kit/rng.js';
import type { ResourceVector } from '../model/resources.js';
import type { SliverResources } from '../model/sliver.js';
import { afterJoinsQuietMs } from '../overlay/catch-up.js';
import { addUse, believedAlive, connected, createGateways, freeOf, partitionLearnTimes, viewOf, type Beliefs, type Gateway, type PartitionBeliefs } from './community.js';
import { exponential, hashUniform, quantile, weibull, weibullMean, weighted } from './draw.js';
import { createIdealScheduler } from './ideal.js';
import {
  agentSeesAt, catchUpAfterJoins, drawDetection, failureLearnedAt, failureMedianMs, failureSpread, falseSuspicionChance, gossipEndMs, latestLearnMs, learnedAt, linkDelayMs, TICK_RACE_APART,
  missedJoinSpread, propagation, refuteAfterMs, spreadCurve, suspicionTimeoutMs, unconfirmedSuspicionMs, type FailureSpread, type Spread,
} from './memberlist.js';
import type { SharedMachine } from './machine.js';
import type { SimConfig } from './scenario.js';

/** The agent's peer-call timeout: a reservation sent to a gateway that is down costs this. */
export const CALL_TIMEOUT_MS = 5000;
/** The agent's placement gives up after this many rounds of refusals. */
const MAX_ROUNDS = 16;
/** A holder whose heal found no room tries again after this, doubling up to HEAL_RETRY_MAX_MS. */
const HEAL_RETRY_MS = 2000;
const HEAL_RETRY_MAX_MS = 64_000;
/** The slice keeper's round: a gateway that takes a sliver runs the keeper's duties within one. */
const KEEPER_ROUND_MS = 2000;

/** A slice's placement as its holders keep it: index → gateway (by index in the community), and its version. */
interface Placement {
  version: number;
  hosts: Map<number, number>;
}

interface SimSlice {
  id: number;
  n: number;
  spec: { resources: SliverResources; spread: 'gateways'; near: null };
  need: ResourceVector;
  /** The placement every holder agrees on (outside a partition). */
  record: Placement;
  /** While a partition keeps them apart: each side's placement, side 0 first; null when they agree. */
  sides: [Placement, Placement] | null;
  /** Index → when its host failed, for indexes whose host is down and that are not healed yet. */
  lostAt: Map<number, number>;
  ideal: number[];
  ended: boolean;
}

type SimEvent =
  | { kind: 'arrive' }
  | { kind: 'depart'; slice: SimSlice }
  | { kind: 'fail'; gateway: number }
  | { kind: 'return'; gateway: number }
  | { kind: 'check'; slice: SimSlice; holder: number; attempt: number }
  | { kind: 'sample' }
  | { kind: 'suspect' }
  | { kind: 'cut' }
  | { kind: 'mend' }
  | { kind: 'merge'; slice: SimSlice };

export interface SimProgress {
  hour: number;
  hours: number;
  slices: number;
  up: number;
  placements: number;
  heals: number;
}

export interface SimSample {
  hour: number;
  up: number;
  slices: number;
  belowN: number;
  /** Slices with more slivers running than N (both sides of a partition healed). */
  aboveN: number;
  utilisation: number;
  imbalance: number;
  idealImbalance: number;
}

export interface SimResult {
  scenario: string;
  profile: string;
  gateways: number;
  hours: number;
  seed: number;
  utilisationTarget: number;
  placement: { attempts: number; placed: number; success: number; messagesPerPlacement: number; viewWidenings: number; refusals: number };
  ideal: { attempts: number; placed: number; success: number };
  /** Max/mean of the used share over live production gateways, averaged over the samples after warm-up. */
  imbalance: { sampled: number; ideal: number; ratio: number };
  utilisation: number;
  /** detection: from the failure until Serf declares it dead; seen: until the median member's agent sees it (gossip, then the Serf agent's event coalescing), as a real run's agents log it. */
  failures: { count: number; declared: number; detectionMedianMs: number; detectionP95Ms: number; seenMedianMs: number };
  /** How fast news reaches the agents: the full view after a join (toAll), a changed list pulled by everyone (directory), by one member (toOne); see `propagation`. */
  propagation: ReturnType<typeof propagation>;
  /**
   * A member the gossip missed, and a member that comes back: how many come back a second (the churn's mean
   * up and down times), the chance another member's push-pull after the join picks it (catchUpAfterJoins),
   * and when its Serf learns the join, from the join (missedJoinSpread).
   */
  missedJoin: { joinsPerSecond: number; caughtUpChance: number; learnt: Spread };
  /** The one machine every gateway ran on, when the run modelled one (absent for a community of separate boxes). */
  machine?: SharedMachine;
  /** healed: slivers of failed gateways placed again (their heal times); slivers: every sliver placed again, for any reason; messagesPerHeal: per one of those. */
  heal: { healed: number; slivers: number; medianMs: number; p95Ms: number; messagesPerHeal: number; restoredOnReturn: number; failedAttempts: number };
  /** Live members suspected though alive: how often, how fast they refute, and how many were declared dead anyway. */
  suspicions: { falseSuspicions: number; perMemberHour: number; refuteMedianMs: number; refuteP95Ms: number; falseDeaths: number };
  partition: PartitionResult | null;
  samples: SimSample[];
}

export interface PartitionResult {
  sides: [number, number];
  fromHour: number;
  untilHour: number;
  /** Slices with slivers on both sides when the network split. */
  splitSlices: number;
  /** Slivers each side placed again for the slivers it lost to the other. */
  healedOnSide: [number, number];
  /** After the network healed: slices whose two placements differed, and slivers removed as extras. */
  merged: number;
  extrasRemoved: number;
  /** From the network's heal until a slice is back on one placement with exactly N, over slices that had two. */
  exactMedianMs: number;
  exactMaxMs: number;
  /** At the end of the run: live slices not running exactly N slivers, and slices whose sides still disagree. */
  notExactAtEnd: number;
  disagreeingAtEnd: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function fitsNow(g: Gateway, need: ResourceVector): boolean {
  const free = freeOf(g);
  return g.up && Math.floor(free.cpu * 1000 + 1e-6) >= Math.ceil(need.cpu * 1000 - 1e-6) && free.memoryMb >= need.memoryMb && free.diskMb >= need.diskMb && free.slivers >= need.slivers;
}

export function runSim(config: SimConfig, onProgress?: (p: SimProgress) => void): SimResult {
  const rng = createRng(config.seed);
  const gateways = createGateways(config.gateways, config.mix, rng);
  const byName = new Map(gateways.map((g) => [g.name, g]));
  /** By gateway: the slices it holds a sliver of, by slice id (at most one each: slices spread over gateways). */
  const hosted: Map<number, SimSlice>[] = gateways.map(() => new Map());
  /** By gateway: the slices the ideal scheduler put a sliver of there. */
  const idealHosted: Set<SimSlice>[] = gateways.map(() => new Set());
  const curve = spreadCurve(config.memberlist, config.link, config.gateways);
  const joinsPerSecond = config.churn === null ? 0 : (1000 * config.gateways) / (weibullMean(config.churn.up) + weibullMean(config.churn.down));
  const beliefs: Beliefs = {
    curve, failure: failureSpread(config.memberlist, config.link, config.gateways, config.machine?.race ?? TICK_RACE_APART),
    catchUp: catchUpAfterJoins(curve, config.gateways, joinsPerSecond, config.agentEvents), seed: config.seed,
  };
  /** When the median member learns a death, from its declaration: the same for every failure, so drawn once. */
  const deathMedianMs = failureMedianMs(beliefs.failure, beliefs.seed);
  /** The phase of `member`'s member-list reading when news `key` reaches it (see agentSeesAt). */
  const phaseOf = (key: number, member: number): number => hashUniform(config.seed ^ 0x7a5e, key, member);
  if (config.partition !== null) beliefs.partition = planPartition(config, beliefs, rng);
  const partition = beliefs.partition;
  const sideOf = (g: number): 0 | 1 => (partition === undefined ? 0 : partition.side[g] as 0 | 1);
  const ideal = createIdealScheduler(gateways);
  const queue = createDeadlineQueue<SimEvent>();
  const endMs = config.hours * 3_600_000;
  let now = 0;
  let nextSliceId = 0;
  let nextRumor = 1;
  /** Slices not yet departed: placed by the community, by the ideal scheduler, or by both. */
  const live = new Set<SimSlice>();

  const counting = (): boolean => now >= config.warmupMs;
  const stats = {
    attempts: 0, placed: 0, messages: 0, widenings: 0, refusals: 0, idealAttempts: 0, idealPlaced: 0,
    failures: 0, declared: 0, detections: [] as number[], seen: [] as number[], heals: [] as number[], healMessages: 0, restored: 0, healFailures: 0,
    healedSlivers: 0, falseSuspicions: 0, refutes: [] as number[], falseDeaths: 0,
    splitSlices: 0, healedOnSide: [0, 0] as [number, number], merged: 0, extrasRemoved: 0, exact: [] as number[],
  };
  const samples: SimSample[] = [];

  // The workload's rate: slices a ms such that, in steady state, they ask for the target share of live production cpu.
  const meanN = config.sliceSizes.reduce((s, [n, w]) => s + n * w, 0) / config.sliceSizes.reduce((s, [, w]) => s + w, 0);
  const meanCpu = config.sliverShapes.reduce((s, [r, w]) => s + r.cpu * w, 0) / config.sliverShapes.reduce((s, [, w]) => s + w, 0);
  const availability = config.churn === null ? 1 : weibullMean(config.churn.up) / (weibullMean(config.churn.up) + weibullMean(config.churn.down));
  const productionCpu = gateways.filter((g) => g.mode === 'production').reduce((s, g) => s + g.contributed.cpu, 0);
  const steadySlices = (config.utilisation * productionCpu * availability) / (meanN * meanCpu);
  const arrivalMeanMs = config.meanLifetimeMs / steadySlices;
  const fillMeanMs = config.fillMs / steadySlices;

  const liveness = (observer: number) => (name: string): Liveness => {
    const g = byName.get(name);
    return g !== undefined && g.mode !== 'drain' && believedAlive(beliefs, observer, g, now) ? 'alive' : 'gone';
  };

  /** The part of its view the entry gateway hands placement: `size` members drawn uniformly, or all of them. */
  const viewSample = (size: number): Gateway[] => {
    if (size >= gateways.length) return gateways;
    const picked = new Set<number>();
    for (let i = 0; i < size; i++) picked.add(Math.floor(rng() * gateways.length));
    return [...picked].map((i) => gateways[i] as Gateway);
  };

  /**
   * What the agent's place() does: rounds of placeSlivers over the view and
   * reservations on the chosen gateways (a refusal, or a call to a gateway that
   * is down, puts it in the refused set), then a commit on every host. All or
   * nothing: on failure the leases are released.
   */
  const place = (observer: number, slice: SimSlice, indexes: readonly number[], holders: readonly string[]): { hosts: Map<number, number>; messages: number; elapsedMs: number } | { hosts: null; messages: number } => {
    const reachable = (g: Gateway): boolean => g.up && connected(beliefs, observer, g.index, now);
    const refused = new Set<string>();
    const leased = new Map<number, number>();
    let messages = 0;
    let elapsedMs = 0;
    const release = (): { hosts: null; messages: number } => {
      for (const g of leased.values()) addUse(gateways[g] as Gateway, slice.need, -1, now);
      return { hosts: null, messages: messages + leased.size };
    };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const pending = indexes.filter((i) => !leased.has(i));
      if (pending.length === 0) break;
      const taken = [...holders, ...[...leased.values()].map((g) => (gateways[g] as Gateway).name)].map((name) => ({ name, zone: null }));
      const decide = (size: number): ReturnType<typeof placeSlivers> => placeSlivers({
        spec: slice.spec, indexes: pending, holders: taken, refused, rng,
        candidates: candidatesFrom(viewOf(beliefs, observer, viewSample(size), now), { near: null }),
      });
      // A sample too small to hold a placement is widened fourfold, up to the whole view, so the core refuses only what the whole view cannot take.
      let size = config.viewSample;
      let placement = decide(size);
      while (!placement.ok && size < gateways.length) {
        size *= 4;
        stats.widenings += counting() ? 1 : 0;
        placement = decide(size);
      }
      if (!placement.ok) return release();
      let roundMs = 0;
      for (const { index, gateway } of placement.assignments) {
        messages++;
        const g = byName.get(gateway) as Gateway;
        const rtt = 2 * linkDelayMs(config.link, rng);
        if (reachable(g) && fitsNow(g, slice.need)) {
          addUse(g, slice.need, 1, now);
          leased.set(index, g.index);
          roundMs = Math.max(roundMs, rtt);
        } else {
          refused.add(gateway);
          stats.refusals += counting() ? 1 : 0;
          roundMs = Math.max(roundMs, reachable(g) ? rtt : CALL_TIMEOUT_MS);
        }
      }
      elapsedMs += roundMs;
    }
    if (leased.size < indexes.length) return release();
    // The commits, one per host, in parallel.
    let commitMs = 0;
    for (let i = 0; i < leased.size; i++) commitMs = Math.max(commitMs, 2 * linkDelayMs(config.link, rng));
    return { hosts: leased, messages: messages + leased.size, elapsedMs: elapsedMs + commitMs };
  };

  const randomUp = (): Gateway | undefined => {
    for (let tries = 0; tries < 64; tries++) {
      const g = gateways[Math.floor(rng() * gateways.length)] as Gateway;
      if (g.up) return g;
    }
    return gateways.find((g) => g.up);
  };

  /** Whether the network is split now. */
  const cut = (): boolean => partition !== undefined && now >= partition.fromMs && now < partition.untilMs;
  /** The placement `gateway` holds for `slice`: its side's while they disagree. */
  const recordOf = (slice: SimSlice, gateway: number): Placement => (slice.sides === null ? slice.record : slice.sides[sideOf(gateway)]);
  /** The slivers that run: [index, gateway], each gateway running what its own side's placement gives it. */
  const running = (slice: SimSlice): [number, number][] => {
    if (slice.sides === null) return [...slice.record.hosts];
    const [a, b] = slice.sides;
    return [...[...a.hosts].filter(([, g]) => sideOf(g) === 0), ...[...b.hosts].filter(([, g]) => sideOf(g) === 1)];
  };
  const holdersOf = (slice: SimSlice): Set<number> => new Set(running(slice).map(([, g]) => g));
  const apart = (slice: SimSlice): void => {
    slice.sides = [{ version: slice.record.version, hosts: new Map(slice.record.hosts) }, { version: slice.record.version, hosts: new Map(slice.record.hosts) }];
  };

  const arrive = (): void => {
    const resources = weighted(rng, config.sliverShapes);
    const n = weighted(rng, config.sliceSizes);
    const lifetime = exponential(rng, config.meanLifetimeMs);
    const entry = randomUp();
    if (entry === undefined) return;
    const slice: SimSlice = {
      id: nextSliceId++, n, spec: { resources, spread: 'gateways', near: null },
      need: { cpu: resources.cpu, memoryMb: resources.memoryMb, diskMb: resources.diskMb, slivers: 1 },
      record: { version: 1, hosts: new Map() }, sides: null, lostAt: new Map(), ideal: [], ended: false,
    };
    const indexes = Array.from({ length: n }, (_, i) => i);
    const result = place(entry.index, slice, indexes, []);
    const idealHosts = ideal.place(n, slice.need, new Set());
    if (counting()) {
      stats.attempts++;
      // Beside the reserves and commits, what a creation costs the agent with the name's homes
      // (agent/slice-homes.ts): the homes asked whether the name is taken and, once placed, the
      // read-back from each host and each host's registration with every home.
      stats.messages += result.messages + DEFAULT_HOMES + (result.hosts === null ? 0 : result.hosts.size * (1 + DEFAULT_HOMES));
      stats.idealAttempts++;
      if (result.hosts !== null) stats.placed++;
      if (idealHosts !== undefined) stats.idealPlaced++;
    }
    if (idealHosts !== undefined) {
      slice.ideal = idealHosts;
      for (const g of idealHosts) (idealHosted[g] as Set<SimSlice>).add(slice);
    }
    if (result.hosts === null && idealHosts === undefined) return;
    if (result.hosts !== null) {
      slice.record.hosts = result.hosts;
      for (const g of result.hosts.values()) (hosted[g] as Map<number, SimSlice>).set(slice.id, slice);
      // Placed within one side of a split: the other side learns of it only once healed.
      if (cut()) apart(slice);
    }
    live.add(slice);
    queue.push(now + lifetime, { kind: 'depart', slice });
  };

  const depart = (slice: SimSlice): void => {
    slice.ended = true;
    live.delete(slice);
    for (const [, g] of running(slice)) {
      addUse(gateways[g] as Gateway, slice.need, -1, now);
      (hosted[g] as Map<number, SimSlice>).delete(slice.id);
    }
    for (const g of slice.ideal) {
      ideal.release(g, slice.need);
      (idealHosted[g] as Set<SimSlice>).delete(slice);
    }
  };

  const fail = (index: number): void => {
    const g = gateways[index] as Gateway;
    g.up = false;
    if (counting()) stats.failures++;
    const down = config.churn === null ? 0 : weibull(rng, config.churn.down);
    const detection = drawDetection(config.memberlist, config.gateways, rng);
    queue.push(now + down, { kind: 'return', gateway: index });
    // The ideal scheduler moves the failed gateway's slivers at once.
    for (const slice of idealHosted[index] as Set<SimSlice>) {
      const at = slice.ideal.indexOf(index);
      ideal.release(index, slice.need);
      const moved = ideal.place(1, slice.need, new Set(slice.ideal));
      if (moved === undefined) slice.ideal.splice(at, 1);
      else {
        slice.ideal[at] = moved[0] as number;
        (idealHosted[moved[0] as number] as Set<SimSlice>).add(slice);
      }
    }
    (idealHosted[index] as Set<SimSlice>).clear();
    // Back before it is declared dead: it refutes the suspicion, nobody heals, its slivers resume on return.
    if (down <= detection.declaredMs) return;
    if (counting()) {
      stats.declared++;
      stats.detections.push(detection.declaredMs);
      stats.seen.push(agentSeesAt(config.agentEvents, detection.declaredMs + deathMedianMs, 0.5));
    }
    g.previous = g.rumor;
    g.rumor = { id: nextRumor++, kind: 'dead', at: now + detection.declaredMs };
    for (const slice of (hosted[index] as Map<number, SimSlice>).values()) {
      for (const [i, host] of running(slice)) {
        if (host === index) slice.lostAt.set(i, now);
      }
    }
    checkHoldersOf(index, g.rumor.id, g.rumor.at);
  };

  /** Every live holder of a slice `index` hosts acts when its view changes: at the instant the model says it learns `rumor`, its death. */
  const checkHoldersOf = (index: number, rumor: number, at: number): void => {
    for (const slice of (hosted[index] as Map<number, SimSlice>).values()) {
      for (const host of holdersOf(slice)) {
        if (host === index || !(gateways[host] as Gateway).up) continue;
        queue.push(agentSeesAt(config.agentEvents, failureLearnedAt(beliefs.failure, beliefs.seed, rumor, host, at), phaseOf(rumor, host)), { kind: 'check', slice, holder: host, attempt: 0 });
      }
    }
  };

  /**
   * A live member's probe went unanswered (every packet of it lost): the
   * prober gossips a suspicion, and the member refutes when it hears it. A
   * member holding the suspicion declares it dead if the refutation has not
   * reached it when its (unconfirmed, so longest) timeout runs out; then the
   * member refutes its death as soon as it hears that, and meanwhile the
   * holders of its slices heal them elsewhere.
   */
  const suspect = (): void => {
    const target = randomUp();
    if (target === undefined) return;
    const rumor = nextRumor++;
    const refuteMs = refuteAfterMs(config.memberlist, beliefs.curve, failureLearnedAt(beliefs.failure, beliefs.seed, rumor, target.index, 0, false), rng);
    if (counting()) {
      stats.falseSuspicions++;
      stats.refutes.push(refuteMs);
    }
    const timeoutMs = unconfirmedSuspicionMs(config.memberlist, config.gateways);
    if (refuteMs + latestLearnMs(beliefs.curve) <= timeoutMs) return;
    const refutation = nextRumor++;
    let deadAt = Number.POSITIVE_INFINITY;
    for (const m of gateways) {
      if (m === target || !m.up) continue;
      const heard = failureLearnedAt(beliefs.failure, beliefs.seed, rumor, m.index, now, false);
      if (learnedAt(beliefs.curve, beliefs.seed, refutation, m.index, now + refuteMs) > heard + timeoutMs) deadAt = Math.min(deadAt, heard + timeoutMs);
    }
    if (deadAt === Number.POSITIVE_INFINITY) return;
    if (counting()) stats.falseDeaths++;
    const dead = { id: nextRumor++, kind: 'dead' as const, at: deadAt };
    target.previous = dead;
    target.rumor = { id: nextRumor++, kind: 'alive', at: learnedAt(beliefs.curve, beliefs.seed, dead.id, target.index, deadAt) };
    checkHoldersOf(target.index, dead.id, dead.at);
  };

  /** The network splits: each side keeps its own copy of every slice's placement, and heals, once it declares the other side dead, what it lost. */
  const split = (p: PartitionBeliefs): void => {
    for (const slice of live) {
      if (slice.record.hosts.size === 0) continue;
      apart(slice);
      const holders = holdersOf(slice);
      if (new Set([...holders].map(sideOf)).size === 2 && counting()) stats.splitSlices++;
      for (const h of holders) {
        for (const x of holders) {
          if (sideOf(h) !== sideOf(x)) queue.push(agentSeesAt(config.agentEvents, partitionLearnTimes(beliefs, p, h, x).dead, phaseOf(x, h)), { kind: 'check', slice, holder: h, attempt: 0 });
        }
      }
    }
  };

  /**
   * The network heals: the records of a slice converge once a holder on one
   * side pulls the records of a holder on the other. It pulls from the
   * holders the slice's homes name, so once its agent sees the other alive
   * again, the other registers with the homes at its next round and this
   * one hears of it at its own next round (two registration rounds, each at
   * a uniform phase), then one round trip.
   */
  const mend = (p: PartitionBeliefs): void => {
    for (const slice of live) {
      if (slice.sides === null) continue;
      const holders = [...holdersOf(slice)];
      let at = now;
      const across = holders.flatMap((h) => holders.filter((x) => sideOf(x) !== sideOf(h)).map((x) => agentSeesAt(config.agentEvents, partitionLearnTimes(beliefs, p, h, x).alive, phaseOf(x, h))));
      if (across.length > 0) at = Math.max(now, Math.min(...across)) + (rng() + rng()) * KEEPER_ROUND_MS + 2 * linkDelayMs(config.link, rng);
      queue.push(at, { kind: 'merge', slice });
    }
  };

  /** When `observer`'s agent learns that `x` is dead (failed, or across the partition), if it is. */
  const deathLearnedAt = (observer: number, x: number): number | undefined => {
    if (partition !== undefined && sideOf(observer) !== sideOf(x) && now < partition.untilMs) return agentSeesAt(config.agentEvents, partitionLearnTimes(beliefs, partition, observer, x).dead, phaseOf(x, observer));
    const r = (gateways[x] as Gateway).rumor;
    return r?.kind === 'dead' ? agentSeesAt(config.agentEvents, failureLearnedAt(beliefs.failure, beliefs.seed, r.id, observer, r.at), phaseOf(r.id, observer)) : undefined;
  };

  const stateOf = (slice: SimSlice, p: Placement): RecordState => ({
    user: 'sim', name: `s${slice.id}`, incarnation: String(slice.id), version: p.version, deletedAt: null, expiresAt: 0, resize: null,
    placement: Object.fromEntries([...p.hosts].map(([i, g]) => [String(i), (gateways[g] as Gateway).name])),
  });

  /** The two sides' placements meet: the winner (`placementWins`) everywhere, and every sliver it puts elsewhere an extra (`extrasOf`), removed. */
  const merge = (slice: SimSlice, p: PartitionBeliefs): void => {
    if (slice.ended || slice.sides === null) return;
    const [a, b] = slice.sides;
    const winner = placementWins(stateOf(slice, a), stateOf(slice, b)) ? b : a;
    const before = running(slice);
    const differ = before.length !== winner.hosts.size;
    const winnerState = stateOf(slice, winner);
    for (const g of new Set(before.map(([, host]) => host))) {
      const gw = gateways[g] as Gateway;
      const mine = before.filter(([, host]) => host === g).map(([index]) => ({ user: 'sim', name: `s${slice.id}`, index }));
      const extras = extrasOf(gw.name, mine, () => winnerState.placement, (m) => (byName.get(m)?.up === true ? 'alive' : 'gone'));
      // Slices spread over gateways: a gateway runs at most one sliver of a slice.
      if (extras.length === 0) continue;
      addUse(gw, slice.need, -1, now);
      (hosted[g] as Map<number, SimSlice>).delete(slice.id);
      if (counting()) stats.extrasRemoved++;
    }
    slice.record = winner;
    slice.sides = null;
    if (differ && counting()) {
      stats.merged++;
      // The extra goes once the gateway the winner names confirms it runs the index: one more round trip.
      stats.exact.push(now + 2 * linkDelayMs(config.link, rng) - p.untilMs);
    }
  };

  const comeBack = (index: number): void => {
    const g = gateways[index] as Gateway;
    g.up = true;
    if (g.rumor?.kind === 'dead') {
      g.previous = g.rumor;
      g.rumor = { id: nextRumor++, kind: 'alive', at: now };
    }
    ideal.revive(index);
    const mine = hosted[index] as Map<number, SimSlice>;
    for (const slice of [...mine.values()]) {
      for (const [i, host] of running(slice)) {
        if (host === index && slice.lostAt.delete(i) && counting()) stats.restored++;
      }
      // Its keeper runs at once: the slice may have lost others while it was away.
      if (slice.lostAt.size > 0) queue.push(now, { kind: 'check', slice, holder: index, attempt: 0 });
    }
    if (config.churn !== null) queue.push(now + weibull(rng, config.churn.up), { kind: 'fail', gateway: index });
  };

  const check = (slice: SimSlice, holder: number, attempt: number): void => {
    const h = gateways[holder] as Gateway;
    const record = recordOf(slice, holder);
    if (slice.ended || !h.up || ![...record.hosts.values()].includes(holder)) return;
    const placement = Object.fromEntries([...record.hosts].map(([i, g]) => [String(i), (gateways[g] as Gateway).name]));
    const duties = healingDuties(h.name, [{ user: 'sim', name: `s${slice.id}`, slivers: slice.n, placement }], liveness(holder));
    const duty = duties[0];
    if (duty === undefined) return;
    const result = place(holder, slice, duty.lost, duty.holders);
    // And each new host's registration with the name's homes.
    if (counting()) stats.healMessages += result.messages + (result.hosts === null ? 0 : result.hosts.size * DEFAULT_HOMES);
    if (result.hosts === null) {
      if (counting()) stats.healFailures++;
      queue.push(now + Math.min(HEAL_RETRY_MAX_MS, HEAL_RETRY_MS * 2 ** attempt), { kind: 'check', slice, holder, attempt: attempt + 1 });
      return;
    }
    record.version++;
    if (counting()) stats.healedSlivers += result.hosts.size;
    if (slice.sides !== null && counting()) stats.healedOnSide[sideOf(holder)] += result.hosts.size;
    for (const [i, g] of result.hosts) {
      const old = record.hosts.get(i);
      // The old sliver is an extra now: its gateway removes it (at once here, or when it comes back); across a partition it runs on until the sides meet.
      if (old !== undefined && (slice.sides === null || sideOf(old) === sideOf(holder))) {
        addUse(gateways[old] as Gateway, slice.need, -1, now);
        (hosted[old] as Map<number, SimSlice>).delete(slice.id);
      }
      record.hosts.set(i, g);
      (hosted[g] as Map<number, SimSlice>).set(slice.id, slice);
      // A new holder may be the rendezvous winner now: for losses it learned before it held the slice its next keeper round finds them, and it wakes when it learns the others.
      queue.push(now + result.elapsedMs + rng() * KEEPER_ROUND_MS, { kind: 'check', slice, holder: g, attempt: 0 });
      for (const x of new Set(record.hosts.values())) {
        const at = x === g ? undefined : deathLearnedAt(g, x);
        if (at !== undefined && at > now) queue.push(at, { kind: 'check', slice, holder: g, attempt: 0 });
      }
      const lost = slice.lostAt.get(i);
      if (lost !== undefined && counting()) stats.heals.push(now + result.elapsedMs - lost);
      slice.lostAt.delete(i);
    }
  };

  const sample = (): void => {
    let usedCpu = 0;
    let capCpu = 0;
    let max = 0;
    let sum = 0;
    let idealMax = 0;
    let idealSum = 0;
    let count = 0;
    let up = 0;
    for (const g of gateways) {
      if (!g.up) continue;
      up++;
      if (g.mode !== 'production') continue;
      const share = Math.max(g.used.cpu / g.contributed.cpu, g.used.memoryMb / g.contributed.memoryMb);
      const idealShare = ideal.share(g.index);
      max = Math.max(max, share);
      sum += share;
      idealMax = Math.max(idealMax, idealShare);
      idealSum += idealShare;
      usedCpu += g.used.cpu;
      capCpu += g.contributed.cpu;
      count++;
    }
    let belowN = 0;
    let aboveN = 0;
    let slices = 0;
    const isCut = cut();
    for (const slice of live) {
      // A slice only the ideal scheduler could place is not the community's.
      if (slice.record.hosts.size === 0) continue;
      slices++;
      // Counted per side of a split: a side that runs any of a slice's slivers and fewer than N has it below N.
      const perSide = [0, 0];
      const seen = [false, false];
      let total = 0;
      for (const [, g] of running(slice)) {
        const side = isCut ? sideOf(g) : 0;
        seen[side] = true;
        if (!(gateways[g] as Gateway).up) continue;
        perSide[side] = (perSide[side] as number) + 1;
        total++;
      }
      if (perSide.some((n, side) => seen[side] === true && n < slice.n)) belowN++;
      if (total > slice.n) aboveN++;
    }
    const ratio = (m: number, s: number): number => (s > 0 ? m / (s / count) : 1);
    samples.push({
      hour: round3(now / 3_600_000), up, slices, belowN, aboveN, utilisation: round3(capCpu > 0 ? usedCpu / capCpu : 0),
      imbalance: round3(ratio(max, sum)), idealImbalance: round3(ratio(idealMax, idealSum)),
    });
  };

  // The fill: the first steady-state population arrives fast, then the workload runs at its rate.
  queue.push(0, { kind: 'arrive' });
  if (config.churn !== null) for (const g of gateways) queue.push(weibull(rng, config.churn.up), { kind: 'fail', gateway: g.index });
  for (let t = config.sampleEveryMs; t <= endMs; t += config.sampleEveryMs) queue.push(t, { kind: 'sample' });
  // Every member probes one member a probe interval; each probe of a live member is a false suspicion with this chance.
  const suspicionMeanMs = config.memberlist.probeIntervalMs / (config.gateways * falseSuspicionChance(config.memberlist, config.link));
  if (Number.isFinite(suspicionMeanMs)) queue.push(exponential(rng, suspicionMeanMs), { kind: 'suspect' });
  if (partition !== undefined) {
    queue.push(partition.fromMs, { kind: 'cut' });
    queue.push(partition.untilMs, { kind: 'mend' });
  }
  let nextProgressMs = 3_600_000;

  for (let at = queue.nextDeadline(); at !== undefined && at <= endMs; at = queue.nextDeadline()) {
    now = at;
    for (const ev of queue.popDue(now)) {
      switch (ev.kind) {
        case 'arrive':
          arrive();
          queue.push(now + exponential(rng, now < config.fillMs ? fillMeanMs : arrivalMeanMs), { kind: 'arrive' });
          break;
        case 'depart': depart(ev.slice); break;
        case 'fail': fail(ev.gateway); break;
        case 'return': comeBack(ev.gateway); break;
        case 'check': check(ev.slice, ev.holder, ev.attempt); break;
        case 'sample': sample(); break;
        case 'suspect':
          suspect();
          queue.push(now + exponential(rng, suspicionMeanMs), { kind: 'suspect' });
          break;
        case 'cut': split(partition as PartitionBeliefs); break;
        case 'mend': mend(partition as PartitionBeliefs); break;
        case 'merge': merge(ev.slice, partition as PartitionBeliefs); break;
      }
    }
    if (onProgress !== undefined && now >= nextProgressMs) {
      onProgress({ hour: Math.floor(now / 3_600_000), hours: config.hours, slices: samples[samples.length - 1]?.slices ?? 0, up: gateways.filter((g) => g.up).length, placements: stats.attempts, heals: stats.heals.length });
      nextProgressMs += 3_600_000;
    }
  }

  const counted = samples.filter((s) => s.hour * 3_600_000 >= config.warmupMs);
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
  const sampled = mean(counted.map((s) => s.imbalance));
  const idealImbalance = mean(counted.map((s) => s.idealImbalance));
  return {
    scenario: config.scenario, profile: config.profile, gateways: config.gateways, hours: config.hours, seed: config.seed, utilisationTarget: config.utilisation,
    placement: {
      attempts: stats.attempts, placed: stats.placed, success: round3(stats.placed / Math.max(1, stats.attempts)),
      messagesPerPlacement: round3(stats.messages / Math.max(1, stats.attempts)), viewWidenings: stats.widenings, refusals: stats.refusals,
    },
    ideal: { attempts: stats.idealAttempts, placed: stats.idealPlaced, success: round3(stats.idealPlaced / Math.max(1, stats.idealAttempts)) },
    imbalance: { sampled: round3(sampled), ideal: round3(idealImbalance), ratio: round3(sampled / idealImbalance) },
    utilisation: round3(mean(counted.map((s) => s.utilisation))),
    failures: { count: stats.failures, declared: stats.declared, detectionMedianMs: Math.round(quantile(stats.detections, 0.5)), detectionP95Ms: Math.round(quantile(stats.detections, 0.95)), seenMedianMs: Math.round(quantile(stats.seen, 0.5)) },
    propagation: propagation(config.memberlist, config.link, config.agentEvents, config.gateways, config.seed, config.machine),
    missedJoin: { joinsPerSecond: Number(joinsPerSecond.toPrecision(3)), caughtUpChance: round3(beliefs.catchUp.chance), learnt: missedJoinSpread(curve, beliefs.catchUp, config.seed) },
    heal: {
      healed: stats.heals.length, slivers: stats.healedSlivers, medianMs: Math.round(quantile(stats.heals, 0.5)), p95Ms: Math.round(quantile(stats.heals, 0.95)),
      messagesPerHeal: round3(stats.healMessages / Math.max(1, stats.healedSlivers)), restoredOnReturn: stats.restored, failedAttempts: stats.healFailures,
    },
    suspicions: {
      falseSuspicions: stats.falseSuspicions, perMemberHour: Number((stats.falseSuspicions / config.gateways / Math.max(1e-9, (endMs - config.warmupMs) / 3_600_000)).toPrecision(3)),
      refuteMedianMs: Math.round(quantile(stats.refutes, 0.5)), refuteP95Ms: Math.round(quantile(stats.refutes, 0.95)), falseDeaths: stats.falseDeaths,
    },
    partition: partition === undefined ? null : {
      sides: [partition.side.length - partition.side.reduce((s, x) => s + x, 0), partition.side.reduce((s, x) => s + x, 0)],
      fromHour: round3(partition.fromMs / 3_600_000), untilHour: round3(partition.untilMs / 3_600_000),
      splitSlices: stats.splitSlices, healedOnSide: stats.healedOnSide, merged: stats.merged, extrasRemoved: stats.extrasRemoved,
      exactMedianMs: Math.round(quantile(stats.exact, 0.5)), exactMaxMs: Math.round(quantile(stats.exact, 1)),
      notExactAtEnd: [...live].filter((sl) => sl.record.hosts.size > 0 && running(sl).length !== sl.n).length,
      disagreeingAtEnd: [...live].filter((sl) => sl.sides !== null).length,
    },
    samples,
    ...(config.machine === null ? {} : { machine: config.machine }),
  };
}

/**
 * The partition as memberlist on each side sees it: a member of one side is
 * first probed by the other side after an exponential wait (a probe interval
 * shared among the members, of which only the other side's count), given up
 * on a probe interval later, then declared dead a suspicion timeout after
 * that (the minimum: many members of the other side confirm it), provided
 * the network is still split. After the heal, Serf's reconnect brings the
 * first member across (each member tries a failed one every reconnect
 * interval, with the chance failed/alive), a push-pull hands each side the
 * other's state, and each member hears that it is believed dead (the
 * suspicion gossip of the member that merged it) and refutes: its alive
 * rumor then reaches everyone. Those refutations are joins to each agent,
 * a burst of them: once the agent has seen none for its quiet wait, it
 * checks its view against another member's and, as they differ where it
 * missed a refutation, makes its push-pull after joins
 * (src/overlay/catch-up.ts: two round trips; after the long quiet of the
 * partition its bucket is full), and learns the refutation there. The burst's last
 * refutations (of members that learnt of the heal by gossip) start within
 * the gossip's end of the rejoin and reach a member within another.
 */
function planPartition(config: SimConfig, beliefs: Beliefs, rng: () => number): PartitionBeliefs {
  const plan = config.partition as NonNullable<SimConfig['partition']>;
  const n = config.gateways;
  const side = new Uint8Array(n);
  for (let i = 0; i < n; i++) side[i] = hashUniform(config.seed, 0x5eed, i) < plan.share ? 1 : 0;
  const ones = side.reduce((s, x) => s + x, 0);
  const sizes = [n - ones, ones];
  const fromMs = plan.atMs;
  const untilMs = plan.atMs + plan.forMs;
  const cfg = config.memberlist;
  const declaredAt = new Float64Array(n);
  const aliveAt = new Float64Array(n);
  const attempts = 2 * Math.min(sizes[0] as number, sizes[1] as number);
  const rejoinMs = untilMs + (attempts > 0 ? exponential(rng, cfg.reconnectIntervalMs / attempts) : 0) + 2 * linkDelayMs(config.link, rng);
  for (let i = 0; i < n; i++) {
    const probers = sizes[1 - (side[i] as number)] as number;
    const firstProbe = probers > 0 ? exponential(rng, (cfg.probeIntervalMs * n) / probers) : Number.POSITIVE_INFINITY;
    const declared = fromMs + firstProbe + cfg.probeIntervalMs + suspicionTimeoutMs(cfg, n);
    declaredAt[i] = declared < untilMs ? declared : Number.POSITIVE_INFINITY;
    aliveAt[i] = learnedAt(beliefs.curve, beliefs.seed, 0xc0000000 + i, i, rejoinMs);
  }
  const race = config.machine?.race ?? TICK_RACE_APART;
  const within = [0, 1].map((s) => failureSpread(cfg, config.link, n, race, Math.max(1, sizes[s] as number))) as [FailureSpread, FailureSpread];
  const curve = beliefs.curve;
  const burstSeenMs = rejoinMs + 2 * gossipEndMs(curve) + config.agentEvents.noticeMs;
  const caughtUpAt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    caughtUpAt[i] = n < 3 ? Number.POSITIVE_INFINITY : burstSeenMs + afterJoinsQuietMs(hashUniform(config.seed, 0xbea1ed, i)) + 4 * curve.hopMs;
  }
  return { side, fromMs, untilMs, declaredAt, aliveAt, within, caughtUpAt };
}
