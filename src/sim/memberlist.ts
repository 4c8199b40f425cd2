// A model of Serf's memberlist (SWIM with Lifeguard's suspicion) that says,
// for a member's failure or return, when each other member learns of it,
// at a cost that stays small at 20,000 members: no gossip packet is
// simulated. Detection is drawn per failure (the first probe after the
// failure, the probe interval it takes to give up on direct and indirect
// probes, then the suspicion timeout); dissemination is an epidemic
// mean-field curve, computed once per community size: the fraction of
// members that hold the rumor after each gossip round, each carrier sending
// it to `gossipNodes` members a round for retransmitLimit sends in all, each
// send lost with the link's loss; a member's failure starts with two
// carriers (the prober, and the member its next probe reaches), and its
// death spreads faster, since each member that heard the suspicion also
// declares it by its own timer (failureSpread). A member's place on a curve is a hash of
// (seed, rumor, member), so "when does X learn about Y" is a pure function
// and nothing per member is stored. Members the gossip never reaches learn at
// a push-pull sync, uniformly within one push-pull interval after the
// gossip dies out. Pure.
// Must never: read a clock or Math.random; store per-member state per rumor.

import { exponential, hashUniform, quantile } from './draw.js';
import { BENCH_SERVICE_AFTER_HEAL_MS, BENCH_SLICE_LISTS, KEEPER_ROUND_MS, PUBLISH_TIMER_MS, directoryOnSharedCores, failureAloneOnSharedCores, healOnSharedCores, type FailureLoad, type SharedMachine } from './machine.js';
import { AFTER_JOINS_QUIET_MS, afterJoinsGapMs, afterJoinsQuietMs } from '../overlay/catch-up.js';

/** memberlist's knobs, named as in its Config (times in ms). */
export interface MemberlistConfig {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  suspicionMult: number;
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  pushPullIntervalMs: number;
  /** Lifeguard: a suspicion nobody confirms runs this many times the minimum timeout (memberlist's SuspicionMaxTimeoutMult). */
  suspicionMaxTimeoutMult: number;
  /** Serf's reconnect_interval: how often a member tries to join a failed one again (hearth keeps Serf's 30 s). */
  reconnectIntervalMs: number;
}

/** memberlist's DefaultLANConfig, which Serf uses. */
export const LAN_CONFIG: MemberlistConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  pushPullIntervalMs: 30_000,
  suspicionMaxTimeoutMult: 6,
  reconnectIntervalMs: 30_000,
};

/** memberlist's DefaultWANConfig (Serf's `wan` profile): slower probes with longer timeouts, less gossip. */
export const WAN_CONFIG: MemberlistConfig = {
  ...LAN_CONFIG,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  pushPullIntervalMs: 60_000,
};

/** The memberlist timings of Serf's profiles that hearth's gateways use (its `local` profile is for tests on one machine). */
export const PROFILE_CONFIGS = { lan: LAN_CONFIG, wan: WAN_CONFIG } as const;
export type GossipProfile = keyof typeof PROFILE_CONFIGS;

/**
 * When a gateway's agent sees a change its Serf learnt of. Three ways:
 * - Serf's log: Serf prints `EventMemberJoin|Leave|Failed|Update: NAME` the
 *   moment it learns the change; hearth's supervisor reads the line and the
 *   membership reads that member's record at once, after gathering news for
 *   `noticeMs` (100 ms) into one call;
 * - the event stream, coalesced: Serf's `agent` command sets CoalescePeriod
 *   3 s and QuiescentPeriod 1 s for member events, with no option to change
 *   them, so an event is handed on once no other came for 1 s: always after
 *   the log's word, so it no longer counts here (until session 13 it was
 *   the first way, and added 1 s to every figure);
 * - the whole member list, read again every 10 s (every 5th 2 s coordinate
 *   round), at a phase that differs per gateway.
 * Whichever comes first.
 */
export interface AgentEvents {
  noticeMs: number;
  refreshMs: number;
}

export const SERF_AGENT_EVENTS: AgentEvents = { noticeMs: 100, refreshMs: 10_000 };

/** When a gateway's agent sees a change its Serf learnt at `learntMs`; `u` (uniform in [0, 1)) is the phase of its member-list reading. */
export function agentSeesAt(events: AgentEvents, learntMs: number, u: number): number {
  return learntMs + Math.min(events.noticeMs, u * events.refreshMs);
}

/** One-way delay (base plus uniform jitter) and the chance a message is lost. */
export interface LinkModel {
  delayMs: number;
  jitterMs: number;
  loss: number;
}

export const COMMUNITY_LINK: LinkModel = { delayMs: 15, jitterMs: 20, loss: 0.01 };

/** One-way delay of one message, drawn. */
export function linkDelayMs(link: LinkModel, rng: () => number): number {
  return link.delayMs + rng() * link.jitterMs;
}

/** memberlist's suspicion timeout: SuspicionMult × max(1, log10(n)) × ProbeInterval. */
export function suspicionTimeoutMs(cfg: MemberlistConfig, n: number): number {
  return cfg.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * cfg.probeIntervalMs;
}

/** memberlist's retransmitLimit: how many sends a member makes of one rumor. */
export function retransmitLimit(cfg: MemberlistConfig, n: number): number {
  return cfg.retransmitMult * Math.ceil(Math.log10(n + 1));
}

/**
 * Each gossip round is cut into this many steps. memberlist's members gossip
 * on tickers of their own, so one that has just learnt a rumor sends it at
 * its next tick, on average half a round later, not at the next round's
 * start: in whole rounds the model spread a rumor to 100 members on `wan` in
 * 2.49 s where the real community, once its agents got their cores, took
 * 1.5-2.1 s; in steps of a tenth, 1.44 s (BENCHMARKS.md, session 24).
 */
export const STEPS_PER_ROUND = 10;

/**
 * How a rumor spreads in a community of one size, from its originator's
 * first gossip tick (step 0, when the first members learn it; firstTickMs):
 * cumulative[i] is the fraction that holds it after step i (a tenth of a
 * gossip round).
 */
export interface SpreadCurve {
  /** The length of one step of `cumulative`. */
  stepMs: number;
  /** One gossip round: the originator's first tick comes a phase of it after the rumor's start. */
  roundMs: number;
  cumulative: number[];
  /** The fraction gossip reaches before every carrier has used up its sends. */
  reached: number;
  /** When the gossip dies out, from the originator's first tick. */
  endMs: number;
  pushPullMs: number;
  hopMs: number;
}

/**
 * How a rumor spreads among `group` members of a community of `n` (all of
 * them unless given): in a partition, a member still gossips to members of
 * the other side it has not yet declared dead, and those sends are lost, so
 * only the group's share of its targets count. Fractions are of the group.
 *
 * The originator sends it at its first tick (step 0) to gossipNodes
 * members, and again at each whole round after, until its sends are used
 * up. Its first tick comes a phase uniform over a round after the rumor's
 * start, the same wait for every member, so the curve starts there and the
 * wait is drawn once per rumor (firstTickMs, learnedAt). Until session 37
 * the curve started at the rumor's start, so each member's place on it
 * also drew the originator's phase, as if each waited for a tick of its
 * own: at 100 on `wan` the agents saw a tag update 654 ms after the first
 * one (median), where the bench's saw it 252 and 474 ms after (run JB).
 * A member that learns it in one step gossips it from the next: once a
 * round, at its own tick (a phase uniform over the round), to gossipNodes
 * distinct members drawn from the n - 1 others (all of them in a community
 * of four), until it has used up memberlist's retransmit limit (each target
 * counts one send, so the last round may have fewer). A member still
 * lacking it survives one carrier's round with the chance 1 - p, p the share
 * of the others that round's sends reach (less the link's loss), and
 * survives the carrier's current round, j steps of STEPS_PER_ROUND in, with
 * 1 - p j / STEPS_PER_ROUND (the carrier's tick may not have come). Until
 * session 30 the targets were drawn with replacement and each step
 * independently: a carrier's round reached each other member with 63% in a
 * community of four instead of all of them, and with 36% at ten on `wan`
 * instead of 44%.
 */
export function spreadCurve(cfg: MemberlistConfig, link: LinkModel, n: number, group = n): SpreadCurve {
  return epidemic(cfg, link, n, group, null, ONE_ORIGINATOR);
}

/**
 * The chances that a prober's gossip tick carries, at once, a suspicion it
 * has just raised and the death it declares a suspicion timeout later
 * (FailureSpread). memberlist creates a member's probe and gossip tickers
 * in the same instant (schedule), so every probe starts at one of its
 * gossip ticks; a probe left unanswered ends a probe interval after it
 * started (probeNode's deadline), a whole number of gossip rounds, just
 * after a tick, and the suspicion timeout is a whole number of rounds too
 * (at 100, 1,000 and 10,000 gateways). The prober's gossip reads its queue
 * either before the suspicion (or the death) is in it, and carries it a
 * round later, or, when its goroutine runs late on a busy machine, after,
 * and carries it at once.
 */
export interface TickRace {
  suspicion: number;
  death: number;
}

/** A gateway on a box of its own: its gossip goroutine runs at the tick, before the probe's deadline a little later. */
export const TICK_RACE_APART: TickRace = { suspicion: 0, death: 0 };

/**
 * How a member's failure spreads among `group` members of a community of
 * `n`: its suspicion from when the first prober raises it, and its death
 * from when that prober declares it, a curve for each way the two
 * originators' ticks fall (failureCurve draws one per rumor), each starting
 * at the rumor's start (not at a first tick, as spreadCurve's).
 *
 * Two members hold the suspicion from its start. The prober (P) gossips it
 * at once or a round later (TickRace). The other is the early carrier (E):
 * the probe loop's tick came while P waited on the failed probe, so P
 * probes its next member right after, and a ping carries whatever broadcasts
 * are queued. E gossips the suspicion at its own tick, a phase uniform over a
 * round. The bench's logs show both: in each of 18 failures of runs LL-LP
 * and MA-MD the second member to declare did so 0-10 ms after the first, by
 * its own timer; in 9, four more members declared by their own timers within
 * 30 ms (P's suspicion gossip went out at once); in 4, four learnt the dead
 * message within 30 ms (its death gossip did). Until session 42 the model
 * had P alone, its first tick at a phase uniform over a round: a failure
 * spread from the first agent to the median one in 525 ms where the bench's
 * agents took 320-399.
 *
 * Every member runs its own suspicion timer from when it heard the
 * suspicion, and declares the member dead when it runs out, gossiping the
 * dead message itself (suspectNode, deadNode). The timers run equally long:
 * by the time the first runs out, Lifeguard's confirmations (the suspicions
 * of the other members that probed the failed one, about one a probe
 * interval) have brought every timer to its minimum, counted from its own
 * start. So a member lacking the death learns it in the step its own timer
 * runs out (the suspicion's curve, the same steps after the declaration as
 * its arrival was after the suspicion's start) or when a carrier of the dead
 * message reaches it; every member that declared, either way, carries it. P
 * and E declare first (E a hop after P) and gossip the death at the same
 * phases as the suspicion. That holds exactly when the timeout is a whole
 * number of gossip rounds; the model takes it at every size.
 *
 * E is one of the group when P's ping to it crosses no cut: with the chance
 * `early` = (group - 1) / (n - 1) (P's next member is any of the others).
 */
export interface FailureSpread {
  race: TickRace;
  early: number;
  /** suspicion[won][e]: won 1 when P's first tick carries it at once; E's first tick in step e of the first round, or e = STEPS_PER_ROUND without E. */
  suspicion: SpreadCurve[][];
  /** death[suspicion won][death won][e], its members' own timers from suspicion[won][e]. */
  death: SpreadCurve[][][];
}

export function failureSpread(cfg: MemberlistConfig, link: LinkModel, n: number, race: TickRace = TICK_RACE_APART, group = n): FailureSpread {
  const early = n < 2 ? 0 : (group - 1) / (n - 1);
  // P's first tick: at once (step 0), or a round later; E's: in step e of the first round (its targets in the step after).
  const origins = (won: number, e: number, ownTimers: boolean): Origins => {
    const ticks = [won === 1 ? 0 : STEPS_PER_ROUND];
    if (e < STEPS_PER_ROUND) ticks.push(e + 1);
    const withE = e < STEPS_PER_ROUND ? 1 : 0;
    return ownTimers ? { ticks, knowing: 1, ownOriginators: withE } : { ticks, knowing: 1 + withE, ownOriginators: 0 };
  };
  const steps = Array.from({ length: STEPS_PER_ROUND + 1 }, (_, e) => e);
  const suspicion = [0, 1].map((won) => steps.map((e) => epidemic(cfg, link, n, group, null, origins(won, e, false))));
  const death = [0, 1].map((s) => [0, 1].map((won) => steps.map((e) => epidemic(cfg, link, n, group, (suspicion[s]?.[e] as SpreadCurve).cumulative, origins(won, e, true)))));
  return { race, early, suspicion, death };
}

/** The draws of one failure's rumor: whether P's ticks won their races, and E's step. Salts apart from the members' places. */
const SUSPICION_RACE = -2;
const DEATH_RACE = -3;
const EARLY_IN_GROUP = -4;
const EARLY_TICK = -5;

/** The curve of failure `rumor` (a rumor id unique within the run): its suspicion's, or its death's. */
export function failureCurve(f: FailureSpread, seed: number, rumor: number, death: boolean): SpreadCurve {
  const s = hashUniform(seed, rumor, SUSPICION_RACE) < f.race.suspicion ? 1 : 0;
  const e = hashUniform(seed, rumor, EARLY_IN_GROUP) < f.early ? Math.floor(hashUniform(seed, rumor, EARLY_TICK) * STEPS_PER_ROUND) : STEPS_PER_ROUND;
  if (!death) return f.suspicion[s]?.[e] as SpreadCurve;
  const d = hashUniform(seed, rumor, DEATH_RACE) < f.race.death ? 1 : 0;
  return f.death[s]?.[d]?.[e] as SpreadCurve;
}

/** When `member` learns failure `rumor`'s death (or, with `death` false, its suspicion), given when it started. */
export function failureLearnedAt(f: FailureSpread, seed: number, rumor: number, member: number, startMs: number, death = true): number {
  return startMs + learnOffsetMs(failureCurve(f, seed, rumor, death), hashUniform(seed, rumor, member));
}

/** The latest any member can learn a failure's suspicion (or death), from its start. */
export function failureLatestMs(f: FailureSpread, death = true): number {
  const curves = death ? f.death.flat(2) : f.suspicion.flat();
  return Math.max(...curves.map((c) => c.endMs + c.pushPullMs));
}

/** When the median member learns a failure's death, from its declaration: over the draws, as the sim's summary gives it. */
export function failureMedianMs(f: FailureSpread, seed: number, rumors = 256): number {
  const times: number[] = [];
  for (let r = 0; r < rumors; r++) times.push(failureLearnedAt(f, seed, 0xfa11 + r, 0, 0));
  return quantile(times, 0.5);
}

/**
 * Who starts a rumor: the cohorts (steps) of the originators' first ticks,
 * each sending again every round after until its sends are used up; the
 * members that hold it at step 0 without anyone's gossip, the originators
 * among them; and how many originators ownTimers counts at step 0 (they
 * tick as originators, not as carriers of cohort 0).
 */
interface Origins {
  ticks: readonly number[];
  knowing: number;
  ownOriginators: number;
}

/** spreadCurve's: one originator, whose first tick is step 0. */
const ONE_ORIGINATOR: Origins = { ticks: [0], knowing: 1, ownOriginators: 0 };

/**
 * The epidemic of spreadCurve; with `ownTimers`, every member also learns it
 * by itself: `ownTimers[i]` is the fraction that has by step i (the curve of
 * the suspicion, for a death), independently of the gossip.
 */
function epidemic(cfg: MemberlistConfig, link: LinkModel, n: number, group: number, ownTimers: readonly number[] | null, origins: Origins): SpreadCurve {
  const limit = retransmitLimit(cfg, n);
  const perRound = Math.max(1, Math.min(cfg.gossipNodes, n - 1));
  const rounds = Math.ceil(limit / perRound);
  const activeSteps = rounds * STEPS_PER_ROUND;
  /** The share of the others that one carrier's round r reaches (less the link's loss). */
  const reach = (r: number): number => (Math.min(perRound, limit - r * perRound) / Math.max(1, n - 1)) * (1 - link.loss);
  // logSurvive[k]: log of the chance that a member lacking the rumor was not reached by one carrier k steps after the carrier learnt it.
  const logSurvive = [0];
  let before = 0;
  for (let r = 0; r < rounds; r++) {
    const p = reach(r);
    for (let j = 1; j <= STEPS_PER_ROUND; j++) logSurvive.push(before + Math.log(Math.max(1e-300, 1 - (p * j) / STEPS_PER_ROUND)));
    before += Math.log(Math.max(1e-300, 1 - p));
  }
  /** The log of the chance that a member lacking it is missed by the originators' ticks in step i. */
  const originsMiss = (i: number): number => {
    let miss = 0;
    for (const t of origins.ticks) {
      const round = (i - t) / STEPS_PER_ROUND;
      if (Number.isInteger(round) && round >= 0 && round < rounds) miss += Math.log(Math.max(1e-300, 1 - reach(round)));
    }
    return miss;
  };
  const lastOriginStep = Math.max(...origins.ticks) + activeSteps;
  const known = Math.min(1, origins.knowing / group);
  const own = (k: number): number => (ownTimers === null ? 0 : ownTimers[Math.min(k, ownTimers.length - 1)] as number);
  /** The chance that a member lacking it at step i - 1 has not learnt it by itself at step i (at step 0: of the others, not by the timers of step 0). */
  const notByItself = (i: number): number => {
    if (ownTimers === null) return 1;
    const lacking = i === 0 ? 1 - known : 1 - own(i - 1);
    return lacking <= 0 ? 1 : (1 - own(i)) / lacking;
  };
  // Step 0: the members the originators' ticks of step 0 reach, and those whose own timers run out with it.
  const firstMiss = origins.ticks.reduce((miss, t) => (t === 0 ? miss * (1 - reach(0)) : miss), 1);
  const first = (1 - known) * (1 - notByItself(0) * firstMiss);
  const carriers = [Math.max(0, first * group - origins.ownOriginators)];
  const cumulative = [known + first];
  let infected = known + first;
  for (let i = 1; i <= lastOriginStep + 64 * STEPS_PER_ROUND; i++) {
    // Each carrier cohort learnt it at step c; the chance a member lacking it is still missed by all of them now, over
    // then. The originators send at their ticks.
    let now = originsMiss(i);
    let then = 0;
    let sending = i < lastOriginStep ? 1 : 0;
    for (let c = Math.max(0, i - activeSteps); c < i; c++) {
      const count = carriers[c] as number;
      now += count * (logSurvive[i - c] as number);
      then += count * (logSurvive[i - 1 - c] as number);
      sending += count;
    }
    if (sending < 1e-6) break;
    const fresh = (1 - infected) * (1 - notByItself(i) * Math.exp(now - then));
    carriers.push(fresh * group);
    infected += fresh;
    cumulative.push(infected);
  }
  const hopMs = link.delayMs + link.jitterMs / 2;
  const stepMs = cfg.gossipIntervalMs / STEPS_PER_ROUND;
  return { stepMs, roundMs: cfg.gossipIntervalMs, cumulative, reached: infected, endMs: cumulative.length * stepMs + hopMs, pushPullMs: cfg.pushPullIntervalMs, hopMs };
}

/**
 * The chance that a rumor spreading along `curve`, the spread curve of a
 * community of `n`, misses at least one
 * of the other n - 1 members, who then learn it only at a push-pull (or from
 * a later rumor about the same member). memberlist sends each rumor
 * 4 × ⌈log10(n + 1)⌉ times, with n the members the sender knows: 8 sends
 * from 10 to 99 members, 12 from 100. So at 99 members about 3% of rumors
 * miss someone, and at 100 about 0.05%: a community that grows in batches
 * (bench/scale.ts joins 10 at a time) spreads its last joins' rumors with 8
 * sends, since the senders do not know all 100 yet.
 */
export function rumorMissChance(curve: SpreadCurve, n: number): number {
  return n < 2 ? 0 : 1 - curve.reached ** (n - 1);
}

/** When a member at position u (uniform in [0, 1)) learns a rumor, from its originator's first tick. */
export function learnOffsetMs(curve: SpreadCurve, u: number): number {
  if (u >= curve.reached) return curve.endMs + ((u - curve.reached) / (1 - curve.reached)) * curve.pushPullMs;
  let lo = 0;
  let hi = curve.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((curve.cumulative[mid] as number) > u) hi = mid;
    else lo = mid + 1;
  }
  const before = lo === 0 ? 0 : curve.cumulative[lo - 1] as number;
  const within = (u - before) / Math.max(1e-12, (curve.cumulative[lo] as number) - before);
  // Cohort 0 hears it from the first tick, cohort i in the i-th step after, a step's sends spread over the step; plus one hop.
  return (lo === 0 ? 0 : (lo - 1 + within) * curve.stepMs) + curve.hopMs;
}

/** From a rumor's start to its originator's first tick: a phase `v` (uniform in [0, 1)) of a round, the same for every member. */
export function firstTickMs(curve: SpreadCurve, v: number): number {
  return v * curve.roundMs;
}

/** When a rumor's gossip dies out at the latest, from its start. */
export function gossipEndMs(curve: SpreadCurve): number {
  return curve.roundMs + curve.endMs;
}

/** The latest any member can learn a rumor, from its start. */
export function latestLearnMs(curve: SpreadCurve): number {
  return gossipEndMs(curve) + curve.pushPullMs;
}

/** The place drawn for a rumor's originator: the phase of its first tick (firstTickMs). */
const ORIGINATOR = -1;

/** When `rumor`'s originator first gossips it (a rumor id unique within the run), given when the rumor started. */
function firstTickAt(curve: SpreadCurve, seed: number, rumor: number, startMs: number): number {
  return startMs + firstTickMs(curve, hashUniform(seed, rumor, ORIGINATOR));
}

/** When `member` learns `rumor` (a rumor id unique within the run), given when the rumor started. */
export function learnedAt(curve: SpreadCurve, seed: number, rumor: number, member: number, startMs: number): number {
  return firstTickAt(curve, seed, rumor, startMs) + learnOffsetMs(curve, hashUniform(seed, rumor, member));
}

/**
 * What the push-pulls after joins (src/overlay/catch-up.ts) do for a member
 * the gossip missed, in a community of `n` whose members come back (join
 * again) one at a time, `joinsPerSecond` of them community-wide, as a
 * Poisson stream:
 * - each member whose agent saw the join checks its view against one
 *   random alive member's, and asks its Serf for a push-pull with it when
 *   they differ (as they do when that member missed the join), once it
 *   has seen no join for a quiet wait q,
 *   drawn uniform in AFTER_JOINS_QUIET_MS each time a join starts it
 *   again: a gap between joins is a quiet spell with the chance
 *   p = E[e^(-λq)], and the push-pull comes (1/p - 1)/λ after the join on
 *   average (Wald: 1/p gaps, each min(gap, q) long; the mean q when joins
 *   are rare);
 * - its bucket grants one push-pull per afterJoinsGapMs(n), so of the quiet
 *   spells it sees (λp a second) at most that share get one (the burst of
 *   three left out: it only matters after a lull);
 * - a member the gossip missed learns the join when one of those
 *   push-pulls picks it: (n - 1) · reached · share members each pick one of
 *   n - 1. Its own push-pull is left out: it makes one only after the
 *   next join it sees, as its bucket allows (λp a second, at most one per
 *   afterJoinsGapMs(n)): 11 min later on average at 100 with hearth sim's
 *   churn, 200 s at 20,000, both after memberlist's own push-pull (half
 *   its interval on average: 30 s on wan, 15 s on lan). In a burst it
 *   counts (`propagation`'s afterJoins; a partition's heal, planPartition).
 * At 100 members and hearth sim's churn nearly every member pushes, and a
 * missed member is picked with a chance of about 1 - 1/e. At 20,000, about
 * 0.3 members come back a second, each member may push once in 200 s, and
 * about 2% of them do: a missed member mostly learns at memberlist's own
 * push-pull, as before the catch-up.
 */
export interface CatchUpModel {
  /** The chance that another member's push-pull after the join picks a member the gossip missed. */
  chance: number;
  /** From a pusher's Serf learning the join to its push-pull's answer. */
  delayMs: number;
}

export function catchUpAfterJoins(curve: SpreadCurve, n: number, joinsPerSecond: number, events: AgentEvents): CatchUpModel {
  if (n < 3) return { chance: 0, delayMs: 0 };
  const perMs = joinsPerSecond / 1000;
  const p = quietChance(perMs);
  const waitMs = perMs > 0 ? (1 / p - 1) / perMs : (AFTER_JOINS_QUIET_MS.min + AFTER_JOINS_QUIET_MS.max) / 2;
  const quietSpellsPerMs = perMs * p;
  const tokensPerMs = 1 / afterJoinsGapMs(n);
  const share = quietSpellsPerMs <= tokensPerMs ? 1 : tokensPerMs / quietSpellsPerMs;
  const pushers = (n - 1) * curve.reached * share;
  // The check's round trip, then the push-pull's (a missed member's view differs from the pusher's).
  return { chance: 1 - (1 - 1 / (n - 1)) ** pushers, delayMs: events.noticeMs + waitMs + 4 * curve.hopMs };
}

/** The chance that a gap between joins (exponential, `perMs` a ms) outlasts a quiet wait drawn in AFTER_JOINS_QUIET_MS. */
export function quietChance(perMs: number): number {
  const { min, max } = AFTER_JOINS_QUIET_MS;
  return perMs > 0 ? (Math.exp(-perMs * min) - Math.exp(-perMs * max)) / (perMs * (max - min)) : 1;
}

/**
 * When a member at places `u` and `v` (uniform in [0, 1)) learns a join,
 * from its originator's first tick: as learnOffsetMs, but a member the gossip missed learns it
 * at another member's push-pull after the join when v < chance (that
 * member's place on the curve drawn from v), should that come before its
 * own push-pull with memberlist.
 */
export function joinLearnOffsetMs(curve: SpreadCurve, catchUp: CatchUpModel, u: number, v: number): number {
  const gossip = learnOffsetMs(curve, u);
  if (u < curve.reached || v >= catchUp.chance) return gossip;
  return Math.min(gossip, learnOffsetMs(curve, (v / catchUp.chance) * curve.reached) + catchUp.delayMs);
}

/** The second place of a member in a join's rumor (joinLearnOffsetMs's v), drawn apart from the first. */
const CATCH_UP_SALT = 0xca7c40;

/** When `member` learns join `rumor` (a rumor that makes a member alive again), given when the rumor started. */
export function joinLearnedAt(curve: SpreadCurve, catchUp: CatchUpModel, seed: number, rumor: number, member: number, startMs: number): number {
  const u = hashUniform(seed, rumor, member);
  const tick = firstTickAt(curve, seed, rumor, startMs);
  // Most members the gossip reached: the second place is drawn only for the few it missed (believedAlive's hot path).
  if (u < curve.reached) return tick + learnOffsetMs(curve, u);
  return tick + joinLearnOffsetMs(curve, catchUp, u, hashUniform(seed ^ CATCH_UP_SALT, rumor, member));
}

/** When a member the gossip missed learns an isolated join, from its start: median and 95th percentile over `samples` such members. */
export function missedJoinSpread(curve: SpreadCurve, catchUp: CatchUpModel, seed: number, samples = 2000): Spread {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const u = curve.reached + hashUniform(seed, 0x1015ed, i) * (1 - curve.reached);
    times.push(firstTickMs(curve, hashUniform(seed, 0xf1e5, i)) + joinLearnOffsetMs(curve, catchUp, u, hashUniform(seed ^ CATCH_UP_SALT, 0x1015ed, i)));
  }
  return { medianMs: Math.round(quantile(times, 0.5)), p95Ms: Math.round(quantile(times, 0.95)) };
}

export interface Detection {
  /** After the failure: when some member's probe of it first goes unanswered. */
  firstProbeMs: number;
  /** After the failure: when it is declared dead and the rumor starts. */
  declaredMs: number;
}

/**
 * How long a failure takes to be declared: the first probe comes after an
 * exponential wait (each member probes one member a probe interval, so the
 * failed one is probed about once an interval); the prober waits the probe
 * interval for the direct and indirect acks, gossips the suspicion, and the
 * suspicion timeout later the member is declared dead. Lifeguard's shortening
 * of the timeout by independent confirmations is not modelled: this is its
 * minimum, the one memberlist's SuspicionMult sets.
 */
export function drawDetection(cfg: MemberlistConfig, n: number, rng: () => number): Detection {
  const firstProbeMs = exponential(rng, cfg.probeIntervalMs);
  return { firstProbeMs, declaredMs: firstProbeMs + cfg.probeIntervalMs + suspicionTimeoutMs(cfg, n) };
}

/**
 * The chance that one probe of a live member finds no ack within the probe
 * interval, so the prober suspects it falsely: the direct ping or its ack is
 * lost, and so is every indirect probe (ping-req, ping, ack, ack relayed:
 * four messages through each of indirectChecks members), and so is the TCP
 * fallback ping memberlist sends beside them (SYN, SYN-ACK, ping, ack; a lost
 * segment's retransmission, 1 s later, comes too late).
 */
export function falseSuspicionChance(cfg: MemberlistConfig, link: LinkModel): number {
  const lost = (messages: number): number => 1 - (1 - link.loss) ** messages;
  return lost(2) * lost(4) ** cfg.indirectChecks * lost(4);
}

/**
 * Lifeguard's timeout for a suspicion nobody else confirms: a live member
 * answers every other prober, so a false suspicion stays unconfirmed and
 * runs the longest timeout (memberlist shortens it only with independent
 * confirmations).
 */
export function unconfirmedSuspicionMs(cfg: MemberlistConfig, n: number): number {
  return cfg.suspicionMaxTimeoutMult * suspicionTimeoutMs(cfg, n);
}

/**
 * When a falsely suspected member refutes, after the suspicion starts: the
 * first of the suspicion's gossip reaching it (`gossipMs` after it
 * starts, learnedAt) and Lifeguard's buddy system (the next member to probe
 * it piggybacks the suspicion on the ping: an exponential wait of one probe
 * interval, plus a hop).
 */
export function refuteAfterMs(cfg: MemberlistConfig, curve: SpreadCurve, gossipMs: number, rng: () => number): number {
  return Math.min(gossipMs, exponential(rng, cfg.probeIntervalMs) + curve.hopMs);
}

/** Median and 95th percentile of a share (0..1), to three places. */
export interface Share {
  median: number;
  p95: number;
}

function shareOf(xs: readonly number[]): Share {
  return { median: Math.round(quantile(xs, 0.5) * 1000) / 1000, p95: Math.round(quantile(xs, 0.95) * 1000) / 1000 };
}

/**
 * Of some failures' loads: the share whose cores were ever 90% busy, the spread of those bursts, and the spread of
 * the mean busy share over the window (FailureLoad).
 */
function loadsOf(loads: readonly FailureLoad[], spread: (xs: readonly number[]) => Spread): { busyShare: number; burst: Spread | null; meanBusy: Share } {
  const busy = loads.flatMap((l) => (l.burstMs === null ? [] : [l.burstMs]));
  return { busyShare: busy.length / loads.length, burst: busy.length === 0 ? null : spread(busy), meanBusy: shareOf(loads.map((l) => l.meanBusy)) };
}

/** Median and 95th percentile of a time, in ms. */
export interface Spread {
  medianMs: number;
  p95Ms: number;
}

/**
 * How fast news travels through a community of `n`, as its agents see it:
 * - toAll: a rumor that one member starts (a new member's alive message, a
 *   member's new tags) until the last other member's agent sees it: the full
 *   view after a join, and a digest in the tags reaching everyone;
 * - directory: a member's changed list (its services) until the last other
 *   member has pulled it: toAll, then one round trip on the kept-alive peer
 *   connection (the pull goes out as the view changes);
 * - toOne: the same news until one given member's agent has pulled it (a
 *   holder's changed slice record reaching another holder);
 * - missChance: the chance that the gossip misses at least one member
 *   (rumorMissChance), who learns it at a push-pull;
 * - afterJoins: when, after the last join of a burst started, a member's
 *   agent asks for its push-pull after joins (src/overlay/catch-up.ts): it
 *   sees the join, waits its quiet wait (drawn in AFTER_JOINS_QUIET_MS),
 *   checks its view against another member's (a round trip) and, where
 *   they differ, makes the push-pull (another). A member the gossip missed
 *   learns the join then (its own, when it saw a join beside it, as in a
 *   burst) or at another's that picked it: in a burst, its last join is no
 *   later than afterJoins.
 *   (Members with a turn left: the model does not ration them.)
 * - deathSeen: a member's death (failureSpread), as the agents see it:
 *   from the first agent (the member that declared it) to the median one
 *   (toMedian) and to the last (toLast), as bench/scale.ts's failureSeenMs
 *   gives them.
 * Over `rumors` rumors, each member's place on the spread curve drawn by hash.
 * With `machine` (the one-machine model, src/sim/machine.ts), everything
 * below runs on the bench's shared cores. The bench's BENCH_SLICE_LISTS
 * hosts change their lists at once, and every member reacts to the updates
 * and pulls each list, a host answering one pull at a time
 * (directoryOnSharedCores): directory is then each list's time, and
 * directoryPulls each list's last pull to start and its slowest pull, and
 * the cores' mean busy share meanwhile. The record's trip is a heal's
 * (healOnSharedCores): toOne after a drain, and
 * toOneAfterFailure after a failure, whose reaction the pull waits behind;
 * healerAfterFailure is that heal's, from the healer's agent seeing the
 * failure to the new host's answer; failureBurst, how long the failure's own
 * burst keeps the cores 90% busy from the first agent seeing it (burstEndMs),
 * and failureMeanBusy, the cores' mean busy share over the BURST_WINDOW_MS
 * from then; failureAlone, the same of a failure with nothing to heal
 * (failureAloneOnSharedCores): the share of them that make the cores 90%
 * busy at all, how long those keep them so, and the mean busy share.
 */
export function propagation(cfg: MemberlistConfig, link: LinkModel, events: AgentEvents, n: number, seed: number, machine: SharedMachine | null = null, rumors = 64): {
  toAll: Spread; directory: Spread; directoryPulls?: { lastStarted: Spread; slowest: Spread; meanBusy: Share }; toOne: Spread; toOneAfterFailure?: Spread; healerAfterFailure?: Spread; failureBurst?: Spread; failureMeanBusy?: Share; failureAlone?: { busyShare: number; burst: Spread | null; meanBusy: Share };
  missChance: number; afterJoins: Spread; deathSeen: { toMedian: Spread; toLast: Spread };
} {
  const curve = spreadCurve(cfg, link, n);
  const failure = failureSpread(cfg, link, n, machine?.race ?? TICK_RACE_APART);
  const pullMs = 2 * curve.hopMs;
  /**
   * When `member`'s agent sees rumor `r` of kind `salt` (list 0's draws are the model's without a machine), a death's
   * if `death`: the last member is the one that declared it, at its start (its own timer ran out first).
   */
  const seenAfter = (salt: number, r: number, member: number, death = false): number => {
    const rumor = 0xa11 + salt + r;
    const learnt = !death ? learnedAt(curve, seed, rumor, member, 0) : member === n - 1 ? 0 : failureLearnedAt(failure, seed, rumor, member, 0);
    return agentSeesAt(events, learnt, hashUniform(seed, 0xf00 + salt + r, member));
  };
  const seenAt = (r: number, list: number, member: number): number => seenAfter(list * 0x10000, r, member);
  const toAll: number[] = [];
  const afterJoins: number[] = [];
  const toOne: number[] = [];
  const directory: number[] = [];
  const directoryLastStarted: number[] = [];
  const directorySlowest: number[] = [];
  const directoryMeanBusy: number[] = [];
  const afterFailure: number[] = [];
  const healerAfterFailure: number[] = [];
  const failureBurst: number[] = [];
  const failureMeanBusy: number[] = [];
  const failureAlone: FailureLoad[] = [];
  const deathToMedian: number[] = [];
  const deathToLast: number[] = [];
  // A heal needs the failed or drained member, the healer, the other holder, the new host and others to react.
  const heals = machine !== null && n > 4;
  for (let r = 0; r < rumors; r++) {
    let last = 0;
    for (let m = 1; m < n; m++) {
      const seen = seenAt(r, 0, m);
      last = Math.max(last, seen);
      afterJoins.push(seen + afterJoinsQuietMs(hashUniform(seed, 0x9a17 + r, m)) + 2 * pullMs);
      if (m === 1 && !heals) toOne.push(seen + pullMs);
    }
    toAll.push(last);
    const deaths = Array.from({ length: n - 1 }, (_, i) => seenAfter(0x4000000, r, i + 1, true)).sort((a, b) => a - b);
    const first = deaths[0] ?? 0;
    deathToMedian.push(deaths.length === 0 ? 0 : quantile(deaths, 0.5) - first);
    deathToLast.push((deaths[deaths.length - 1] ?? first) - first);
    if (machine !== null) {
      const lists = directoryOnSharedCores(n, Math.min(BENCH_SLICE_LISTS, n - 1), (k, m) => seenAt(r, k, m), machine, pullMs);
      directory.push(...lists.doneMs);
      directoryLastStarted.push(...lists.lastStartedMs);
      directorySlowest.push(...lists.slowestMs);
      directoryMeanBusy.push(lists.meanBusy);
      if (heals) {
        // Each heal's rumors drawn apart from the lists' (a heal's rumor k of trial r is kind 0x1000000 + r * 64 + k).
        // The bench drains the host of a load slice (no service), and fails the host of its slice with a service.
        // The new host's timer and keeper run at phases of their own, drawn apart from the gossip's.
        const heal = (cause: 'failure' | 'drain', salt: number, serviceMs: number | null): ReturnType<typeof healOnSharedCores> => {
          const phase = (k: number): number => hashUniform(seed, 0xc0de + salt + r * 64 + k, 3);
          const newHost = { timerMs: phase(0) * PUBLISH_TIMER_MS, keeperMs: phase(1) * KEEPER_ROUND_MS, serviceMs };
          return healOnSharedCores(cause, n, (k, m, death) => seenAfter(salt + r * 64, k, m, death), machine, pullMs, newHost);
        };
        toOne.push(heal('drain', 0x1000000, null).recordMs);
        const failed = heal('failure', 0x2000000, BENCH_SERVICE_AFTER_HEAL_MS);
        afterFailure.push(failed.recordMs);
        healerAfterFailure.push(failed.healerMs);
        if (failed.burstMs !== null) failureBurst.push(failed.burstMs);
        failureMeanBusy.push(failed.meanBusy);
        failureAlone.push(failureAloneOnSharedCores(n, (k, m, death) => seenAfter(0x3000000 + r * 64, k, m, death), machine));
      }
    }
  }
  const spread = (xs: readonly number[], plus = 0): Spread => ({ medianMs: Math.round(quantile(xs, 0.5) + plus), p95Ms: Math.round(quantile(xs, 0.95) + plus) });
  return {
    toAll: spread(toAll), directory: machine === null ? spread(toAll, pullMs) : spread(directory), toOne: spread(toOne),
    ...(machine === null ? {} : { directoryPulls: { lastStarted: spread(directoryLastStarted), slowest: spread(directorySlowest), meanBusy: shareOf(directoryMeanBusy) } }),
    ...(heals ? {
      toOneAfterFailure: spread(afterFailure), healerAfterFailure: spread(healerAfterFailure), failureMeanBusy: shareOf(failureMeanBusy), failureAlone: loadsOf(failureAlone, spread),
    } : {}),
    ...(failureBurst.length > 0 ? { failureBurst: spread(failureBurst) } : {}),
    missChance: rumorMissChance(curve, n),
    afterJoins: spread(afterJoins.length === 0 ? [0] : afterJoins),
    deathSeen: { toMedian: spread(deathToMedian), toLast: spread(deathToLast) },
  };
}
