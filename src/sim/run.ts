// One simulated run: a discrete-event loop over a simulated ms clock that
// drives the real cloud cores the way the agent does. Slices arrive at random
// live gateways, which place them with `candidatesFrom` and `placeSlivers`
// over their own (stale) view, then reserve on each chosen gateway and commit
// (the messages counted are those calls); gateways fail and come back with
// Weibull up and down times; every live holder of a slice runs
// `healingDuties` when it learns a failure, and the rendezvous winner
// re-places the lost slivers. An ideal central scheduler places the same
// workload alongside, for comparison.
// Simplifications (docs/sim.md): a placement happens at one instant of
// simulated time (its calls' delays count toward heal time, not toward other
// placements), and every holder knows a slice's latest placement at once.
// Must never: read a clock or Math.random (the CLI reports wall time); call
// anything but the real cores to decide placement and healing.

import { healingDuties, type Liveness } from '../cloud/healing.js';
import { candidatesFrom, placeSlivers } from '../cloud/placement.js';
import { createDeadlineQueue } from '../kit/deadline-queue.js';
import { createRng } from '../kit/rng.js';
import type { ResourceVector } from '../model/resources.js';
import type { SliverResources } from '../model/sliver.js';
import { addUse, believedAlive, createGateways, freeOf, viewOf, type Beliefs, type Gateway } from './community.js';
import { exponential, quantile, weibull, weibullMean, weighted } from './draw.js';
import { createIdealScheduler } from './ideal.js';
import { drawDetection, learnedAt, linkDelayMs, spreadCurve } from './memberlist.js';
import type { SimConfig } from './scenario.js';

/** The agent's peer-call timeout: a reservation sent to a gateway that is down costs this. */
export const CALL_TIMEOUT_MS = 5000;
/** The agent's placement gives up after this many rounds of refusals. */
const MAX_ROUNDS = 16;
/** A holder whose heal found no room tries again after this, doubling up to HEAL_RETRY_MAX_MS. */
const HEAL_RETRY_MS = 2000;
const HEAL_RETRY_MAX_MS = 64_000;

interface SimSlice {
  id: number;
  n: number;
  spec: { resources: SliverResources; spread: 'gateways'; near: null };
  need: ResourceVector;
  /** Index → gateway (by index in the community). */
  hosts: Map<number, number>;
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
  | { kind: 'sample' };

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
  utilisation: number;
  imbalance: number;
  idealImbalance: number;
}

export interface SimResult {
  scenario: string;
  gateways: number;
  hours: number;
  seed: number;
  utilisationTarget: number;
  placement: { attempts: number; placed: number; success: number; messagesPerPlacement: number; viewWidenings: number; refusals: number };
  ideal: { attempts: number; placed: number; success: number };
  /** Max/mean of the used share over live production gateways, averaged over the samples after warm-up. */
  imbalance: { sampled: number; ideal: number; ratio: number };
  utilisation: number;
  failures: { count: number; declared: number; detectionMedianMs: number; detectionP95Ms: number };
  heal: { healed: number; medianMs: number; p95Ms: number; messagesPerHeal: number; restoredOnReturn: number; failedAttempts: number };
  samples: SimSample[];
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
  const beliefs: Beliefs = { curve: spreadCurve(config.memberlist, config.link, config.gateways), seed: config.seed };
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
    failures: 0, declared: 0, detections: [] as number[], heals: [] as number[], healMessages: 0, restored: 0, healFailures: 0,
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
        if (fitsNow(g, slice.need)) {
          addUse(g, slice.need, 1, now);
          leased.set(index, g.index);
          roundMs = Math.max(roundMs, rtt);
        } else {
          refused.add(gateway);
          stats.refusals += counting() ? 1 : 0;
          roundMs = Math.max(roundMs, g.up ? rtt : CALL_TIMEOUT_MS);
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

  const arrive = (): void => {
    const resources = weighted(rng, config.sliverShapes);
    const n = weighted(rng, config.sliceSizes);
    const lifetime = exponential(rng, config.meanLifetimeMs);
    const entry = randomUp();
    if (entry === undefined) return;
    const slice: SimSlice = {
      id: nextSliceId++, n, spec: { resources, spread: 'gateways', near: null },
      need: { cpu: resources.cpu, memoryMb: resources.memoryMb, diskMb: resources.diskMb, slivers: 1 },
      hosts: new Map(), lostAt: new Map(), ideal: [], ended: false,
    };
    const indexes = Array.from({ length: n }, (_, i) => i);
    const result = place(entry.index, slice, indexes, []);
    const idealHosts = ideal.place(n, slice.need, new Set());
    if (counting()) {
      stats.attempts++;
      stats.messages += result.messages;
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
      slice.hosts = result.hosts;
      for (const g of result.hosts.values()) (hosted[g] as Map<number, SimSlice>).set(slice.id, slice);
    }
    live.add(slice);
    queue.push(now + lifetime, { kind: 'depart', slice });
  };

  const depart = (slice: SimSlice): void => {
    slice.ended = true;
    live.delete(slice);
    for (const g of slice.hosts.values()) {
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
    }
    g.previous = g.rumor;
    g.rumor = { id: nextRumor++, kind: 'dead', at: now + detection.declaredMs };
    for (const slice of (hosted[index] as Map<number, SimSlice>).values()) {
      for (const [i, host] of slice.hosts) {
        if (host === index) slice.lostAt.set(i, now);
      }
      for (const host of new Set(slice.hosts.values())) {
        if (host === index || !(gateways[host] as Gateway).up) continue;
        // A holder acts when its view changes: at the instant the model says it learns the rumor.
        queue.push(learnedAt(beliefs.curve, beliefs.seed, g.rumor.id, host, g.rumor.at), { kind: 'check', slice, holder: host, attempt: 0 });
      }
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
      for (const [i, host] of slice.hosts) {
        if (host === index && slice.lostAt.delete(i) && counting()) stats.restored++;
      }
      // Its keeper runs at once: the slice may have lost others while it was away.
      if (slice.lostAt.size > 0) queue.push(now, { kind: 'check', slice, holder: index, attempt: 0 });
    }
    if (config.churn !== null) queue.push(now + weibull(rng, config.churn.up), { kind: 'fail', gateway: index });
  };

  const check = (slice: SimSlice, holder: number, attempt: number): void => {
    const h = gateways[holder] as Gateway;
    if (slice.ended || !h.up || ![...slice.hosts.values()].includes(holder)) return;
    const placement = Object.fromEntries([...slice.hosts].map(([i, g]) => [String(i), (gateways[g] as Gateway).name]));
    const duties = healingDuties(h.name, [{ user: 'sim', name: `s${slice.id}`, slivers: slice.n, placement }], liveness(holder));
    const duty = duties[0];
    if (duty === undefined) return;
    const result = place(holder, slice, duty.lost, duty.holders);
    if (counting()) stats.healMessages += result.messages;
    if (result.hosts === null) {
      if (counting()) stats.healFailures++;
      queue.push(now + Math.min(HEAL_RETRY_MAX_MS, HEAL_RETRY_MS * 2 ** attempt), { kind: 'check', slice, holder, attempt: attempt + 1 });
      return;
    }
    for (const [i, g] of result.hosts) {
      const old = slice.hosts.get(i);
      // The old sliver is an extra now: its gateway removes it (at once here, or when it comes back).
      if (old !== undefined) {
        addUse(gateways[old] as Gateway, slice.need, -1, now);
        (hosted[old] as Map<number, SimSlice>).delete(slice.id);
      }
      slice.hosts.set(i, g);
      (hosted[g] as Map<number, SimSlice>).set(slice.id, slice);
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
    let slices = 0;
    for (const slice of live) {
      // A slice only the ideal scheduler could place is not the community's.
      if (slice.hosts.size === 0) continue;
      slices++;
      let running = 0;
      for (const g of slice.hosts.values()) if ((gateways[g] as Gateway).up) running++;
      if (running < slice.n) belowN++;
    }
    const ratio = (m: number, s: number): number => (s > 0 ? m / (s / count) : 1);
    samples.push({
      hour: round3(now / 3_600_000), up, slices, belowN, utilisation: round3(capCpu > 0 ? usedCpu / capCpu : 0),
      imbalance: round3(ratio(max, sum)), idealImbalance: round3(ratio(idealMax, idealSum)),
    });
  };

  // The fill: the first steady-state population arrives fast, then the workload runs at its rate.
  queue.push(0, { kind: 'arrive' });
  if (config.churn !== null) for (const g of gateways) queue.push(weibull(rng, config.churn.up), { kind: 'fail', gateway: g.index });
  for (let t = config.sampleEveryMs; t <= endMs; t += config.sampleEveryMs) queue.push(t, { kind: 'sample' });
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
    scenario: config.scenario, gateways: config.gateways, hours: config.hours, seed: config.seed, utilisationTarget: config.utilisation,
    placement: {
      attempts: stats.attempts, placed: stats.placed, success: round3(stats.placed / Math.max(1, stats.attempts)),
      messagesPerPlacement: round3(stats.messages / Math.max(1, stats.attempts)), viewWidenings: stats.widenings, refusals: stats.refusals,
    },
    ideal: { attempts: stats.idealAttempts, placed: stats.idealPlaced, success: round3(stats.idealPlaced / Math.max(1, stats.idealAttempts)) },
    imbalance: { sampled: round3(sampled), ideal: round3(idealImbalance), ratio: round3(sampled / idealImbalance) },
    utilisation: round3(mean(counted.map((s) => s.utilisation))),
    failures: { count: stats.failures, declared: stats.declared, detectionMedianMs: Math.round(quantile(stats.detections, 0.5)), detectionP95Ms: Math.round(quantile(stats.detections, 0.95)) },
    heal: {
      healed: stats.heals.length, medianMs: Math.round(quantile(stats.heals, 0.5)), p95Ms: Math.round(quantile(stats.heals, 0.95)),
      messagesPerHeal: round3(stats.healMessages / Math.max(1, stats.heals.length)), restoredOnReturn: stats.restored, failedAttempts: stats.healFailures,
    },
    samples,
  };
}
