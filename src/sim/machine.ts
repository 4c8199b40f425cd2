// The one-machine model (opt-in, `hearth sim --one-machine CPU`): every
// gateway of the community runs on one machine of a few cores, as in
// bench/scale.ts (100 agents and their Serfs on one 2-core box), not on a
// home box of its own. It exists to predict that bench, not a community.
// The machine is a few cores shared by single-threaded processes
// (processor sharing, shared-cores.ts): each gateway's agent and Serf are
// one, and what the community does is CPU on them: a member's failure and
// a member's new tags, which every gateway reacts to (measured by
// bench/scale.ts), and the calls it makes, a pull of a changed list and a
// heal's reserve (measured by bench/pull-cost.ts at the bench's run queue),
// each on the bench's machine (BENCH_MACHINES).
//  - Each gateway is one process with one event loop: a host answers the
//    pulls of its list one at a time, in the order their requests come.
//  - Each gateway pulls at most DEFAULT_ANTI_ENTROPY.maxInFlight lists at
//    once (the agent's own limit): when several hosts change at once, a
//    puller's third pull waits for one of its first two, and starts as soon
//    as one ends, the list it saw change first first.
// Until session 38 the directory's pulls had a model of their own, where
// every process ran at one share of a core, measured per run as the
// slice's hosts' CPU while their lists were pulled (`--machine-share`): an
// output of the run taken as its input, which grew with CPU the hosts got
// and did not need (session 37: 0.104 to 0.133 of a core, the directory
// the same). Now the directory is on the shared cores with everything else.
// Pure. Must never: read a clock or Math.random.

import { DEFAULT_ANTI_ENTROPY } from '../cloud/anti-entropy.js';
import { PUBLISH_GATHER_MS } from '../overlay/tags.js';
import type { TickRace } from './memberlist.js';
import { createSharedCores, type SharedCores } from './shared-cores.js';

/** What one peer call costs each side, in ms of CPU. */
export interface CallCost { callerMs: number; calleeMs: number }

/**
 * The community on one machine's shared cores: what it takes of them
 * settled, and what each of its changes and calls costs. Every change of
 * the community makes each gateway's agent and Serf work (a member's
 * failure: its view, its slices' keeper; a member's new tags: its record
 * read, the view), each on one event loop, all on the same cores, and the
 * pulls and heals wait their turn behind that work. bench/scale.ts measures
 * the changes' costs: the gateways' CPU in the burst of a failure with
 * nothing to heal and in the 20 s after a drain, above their rate before,
 * and the tag updates each Serf learnt meanwhile.
 */
export interface SharedMachine {
  /** The machine, as bench/scale.ts's first line names it. */
  cpu: string;
  cores: number;
  /**
   * What the settled community, the bench and its tracer take of them as the
   * bench's failure finds them, just after its load of slices was placed
   * (the machine's busy time in the 8 s before the failure's first
   * detection): the heals' and their records' background.
   */
  settledCores: number;
  /**
   * The same with nothing under way for minutes (the 8 s before the bench's
   * first slice, and before its failure alone): the directory's and the
   * failure alone's background.
   */
  quietCores: number;
  /** A gateway's CPU (ms of one core) for a member's failure, as its agent sees it. */
  failureMs: number;
  /** And once Serf hands the failure on to its agent's event stream, coalesced with the member events after it (coalescedAt). */
  failureEventMs: number;
  /** A gateway's CPU for one member's new tags, as its agent sees them, and once Serf hands the update on. */
  updateMs: number;
  updateEventMs: number;
  /**
   * A pull of a changed list (a host's services, a slice's record) on a new
   * mutual-TLS connection (the peer server drops a connection idle for 5 s,
   * so a pull after a quiet spell starts this way): the puller's side and
   * the host's, from bench/pull-cost.ts beside as many always-runnable
   * processes as the bench's run queue holds while the directory's pulls
   * run. A busy machine costs more than an idle one, from the number of
   * processes taking turns, not from their working sets.
   */
  pull: CallCost;
  /**
   * A heal's call (`bench/pull-cost.ts --route reserve` at the same load):
   * the healer's reserve of the slice's sliver on its new host, reserved and
   * committed in one call, on a new TLS connection. The host's side is the
   * route's work (the user's signature checked, the lease and the sliver
   * written to SQLite) on top of the handshake.
   */
  heal: CallCost;
  /**
   * How often a prober's gossip carries a suspicion it has just raised, and
   * the death it declares, at once (TickRace): from the bench's logs, the
   * failures where four or more members other than the early carrier
   * declared by their own timers (the suspicion), or learnt the dead message
   * (the death), within 30 ms of the first (bench/failure-start.ts).
   */
  race: TickRace;
}

/** The machines bench/scale.ts ran on, by `hearth sim --one-machine`'s name. */
export const BENCH_MACHINES = {
  /**
   * 2 cores Intel Xeon 2.8 GHz (sessions 32-37), with the agent as it is
   * since session 36 (6ac44fc: its event stream leaves member-update out;
   * BENCHMARKS.md, session 37, runs IA and JA-JH), serf on one thread. Of
   * its 2 cores the settled community, the bench and its tracer take 0.61
   * (the machine 25.1-42.4% busy in the 8 s before the failure's first
   * detection, median 30.7); the quiet community was not measured apart on
   * this machine, and takes the same. A failure costs each gateway 7 ms as its agent
   * sees it and 9 ms once its Serf hands the event on, a second or more
   * later (coalescedAt): the CPU above the rate before, in the first second
   * after the first detection and from 1 s to 4 s, of a gateway that never
   * held a sliver killed at the end of the run (medians; 4-9 and 4-12 ms).
   * A member's new tags: 7 ms, the median of the CPU in the 20 s after a
   * drain over the tag updates meanwhile (4.0-10.2 ms each), split 4.2 and
   * 2.8 as an isolated zone change splits (medians 6 and 4 ms). An update
   * alone costs more (3 zone changes 10 s apart, a median 14 ms each): in a
   * burst the agents read several members' news in one Serf call and Serf
   * hands on several events as one. Sessions 32-36 measured the agent before
   * 6ac44fc, when Serf's stream resent with every member event the
   * member-update of every member that had ever changed its tags
   * (hashicorp/serf#555): a failure 5 and 11 ms, a new member's tags 3.4
   * and 4.6 (runs CA-CI, DA-DE). Until session 31 the model charged the
   * whole failure as the agents saw it, and the heal waited behind it.
   * The calls at `--load 30` (the run queue held 24-45 while the
   * directory's pulls ran, runs CA-CE), medians of three runs: a pull 3.66
   * ms the puller, 4.24 ms the host (idle: 2.07-2.18 and 2.15-2.53 ms; 2
   * processes taking turns: 2.23 ms the host, 35: 4.61 ms; 1 MB working sets
   * each: 4.45 ms); a heal's reserve 4.18 ms the healer, 5.58 ms the new host
   * (idle: 3.1 and 4.8 ms). Until session 30 the model took a list pull's
   * cost for a heal's call.
   */
  xeon: {
    cpu: '2 cores Intel Xeon 2.8 GHz', cores: 2, settledCores: 0.61, quietCores: 0.61, failureMs: 7, failureEventMs: 9, updateMs: 4.2, updateEventMs: 2.8,
    pull: { callerMs: 3.7, calleeMs: 4.2 }, heal: { callerMs: 4.2, calleeMs: 5.6 },
    // Not measured on this machine (its runs' Serf logs were not kept): the EPYC's.
    race: { suspicion: 0.46, death: 0.17 },
  },
  /**
   * 2 cores AMD EPYC 2.1 GHz, with the agent as it is since session 40
   * (9bccc2b: a heal's new host answers before it registers the slice with
   * its homes; runs LL-LP of session 40 and MA-MC of session 41, on two
   * copies of the machine; BENCHMARKS.md, session 41), by the same
   * definitions. The settled community, the bench and its tracer take 1.025
   * cores as the bench's failure finds them (the machine 48.9-64.8% busy in
   * the 8 s before the failure's first detection, median 51.25) and 0.86
   * quiet (37.9-66.1% in the 8 s before the first slice and before the
   * failure alone, median 43.0). A failure costs each gateway 7.5 ms as its
   * agent sees it (6-11) and 5.5 ms once its Serf hands it on (2-11); a
   * member's new tags 7.1 ms (-0.6 to 14.4 over a drain's 20 s), split 4.1
   * and 3.0 as an isolated zone change splits (medians 8 and 6 ms). The
   * calls at `--load 35`: a pull 6.17 ms the puller and 6.10 ms the host, a
   * heal's reserve 6.19 ms the healer and 8.12 ms the new host (medians of
   * three runs of 200 and of 60). Session 38 measured the agent of session
   * 37 (e21f310, runs KA-KF) here: settled 1.21 and quiet 1.06 cores, a
   * failure 6.5 and 6.5 ms, new tags 4.1 and 3.3 ms, a pull 6.7 and 6.7 ms,
   * a heal's reserve 6.1 and 8.6 ms. The settled share fell between
   * session 39's runs (LA-LI, a median 61.8%) and session 40's (LJ on, 49%)
   * with both the agent and the machine's copy changed: the runs do not say
   * which.
   */
  epyc: {
    cpu: '2 cores AMD EPYC 2.1 GHz', cores: 2, settledCores: 1.025, quietCores: 0.86, failureMs: 7.5, failureEventMs: 5.5, updateMs: 4.1, updateEventMs: 3.0,
    pull: { callerMs: 6.2, calleeMs: 6.1 }, heal: { callerMs: 6.2, calleeMs: 8.1 },
    // 24 failures of runs LL-LP, MA-MD and NA-NC: the suspicion went out at once in 11, the death in 4.
    race: { suspicion: 0.46, death: 0.17 },
  },
} as const satisfies Record<string, SharedMachine>;

export type BenchMachine = keyof typeof BENCH_MACHINES;

/** The bench's slice has 3 hosts, and each announces its service at once: three lists change together. */
export const BENCH_SLICE_LISTS = 3;

/**
 * The bench's slice runs a service; after a heal its new host announces it
 * (and publishes its services digest at once): a median 0.33 s after "slice
 * healed" (17 runs, W-AM: 0.02-1.82 s). The load slices a drain heals run none.
 */
export const BENCH_SERVICE_AFTER_HEAL_MS = 330;

/** What a member event costs each gateway, as its agent sees it and once its Serf hands it on; whether it is a member's death (SeenAfter). */
interface EventCost { seenMs: number; handedOnMs: number; death: boolean }

/** What a failure costs each member, as its agent sees it and once its Serf hands it on. */
const failureCost = (machine: SharedMachine): EventCost => ({ seenMs: machine.failureMs, handedOnMs: machine.failureEventMs, death: true });
/** What a member's new tags cost each member. */
const updateCost = (machine: SharedMachine): EventCost => ({ seenMs: machine.updateMs, handedOnMs: machine.updateEventMs, death: false });

/**
 * Serf's agent hands member events on to the event stream coalesced: once
 * none came for SERF_QUIET_MS, and SERF_COALESCE_MS after the first at the
 * latest (serf's agent: QuiescentPeriod 1 s, CoalescePeriod 3 s). The bench's
 * logs show it ("agent: Received event"): a failure alone came on 1.00-1.91
 * s after its first detection, a second after each agent saw it (run CC);
 * with a heal's updates after it, 1.00-3.98 s (run CA, median 2.57).
 */
export const SERF_QUIET_MS = 1000;
export const SERF_COALESCE_MS = 3000;

/** When Serf hands on the batch that starts with an event at `first`, given the times of its member events (any order). */
export function coalescedAt(first: number, eventTimes: readonly number[]): number {
  let last = first;
  for (const t of [...eventTimes].sort((a, b) => a - b)) {
    if (t <= last) continue;
    if (t >= last + SERF_QUIET_MS || t >= first + SERF_COALESCE_MS) break;
    last = t;
  }
  return Math.min(last + SERF_QUIET_MS, first + SERF_COALESCE_MS);
}

/** When member `member`'s agent sees rumor `rumor`, after it starts (ms): the gossip model's draw, a member's death's when `death` (failureSpread). */
export type SeenAfter = (rumor: number, member: number, death: boolean) => number;

/** A gateway publishes its tags every 2 s when they changed, and its slice keeper runs a round every 2 s (src/agent/community.ts, slice-keeper.ts). */
export const PUBLISH_TIMER_MS = 2000;
export const KEEPER_ROUND_MS = 2000;

/** When, after it committed a healed sliver, the new host's publish timer ticks, its keeper's round comes, and it announces the slice's service (null: none), in ms. */
export interface NewHostPhases {
  timerMs: number;
  keeperMs: number;
  serviceMs: number | null;
}

/**
 * How far apart a gateway's tag updates go out at least. Serf answers a tags
 * call only once the update's sends are done (its broadcast timeout, 10 s in
 * the agents' COMMUNITY_LINK_TIMING, does not cut them short), and it answers
 * one connection's calls in turn (the tags have a connection of their own): a
 * new host's second update, asked for while Serf
 * sent its first, went out 1.44 and 1.79 s after it (runs AP and AQ). The
 * model takes 1 s, the least such a wait has been seen to take.
 */
export const SERF_TAGS_CALL_MS = 1000;

/**
 * The new host's tag updates after it committed a healed sliver (ms after the
 * commit), and which of them carries its services digest. The commit changes
 * its free resources (`rf`), which the next publish sends: the timer's, when
 * it comes first. Its keeper's next round publishes its slices digest (`d.sl`)
 * at once, and a service announced, its services digest (`d.sv`). A publish
 * gathers the changes of the next PUBLISH_GATHER_MS and sends every change not
 * sent yet, and Serf sends it once it is done with the one before
 * (SERF_TAGS_CALL_MS): one to three updates, as the bench's logs of sessions
 * 29 and 30 show them ("published tags", and the host's own Serf lines).
 */
export function newHostUpdates(p: NewHostPhases): { afterMs: number; service: boolean }[] {
  const events: { ms: number; tag: string | null }[] = [{ ms: p.timerMs, tag: null }, { ms: p.keeperMs, tag: 'd.sl' }];
  if (p.serviceMs !== null) events.push({ ms: p.serviceMs, tag: 'd.sv' });
  const unsent = new Set(['rf']);
  let serfFreeAt = Number.NEGATIVE_INFINITY;
  /** When the publish gathering now sends: PUBLISH_GATHER_MS after the change that started it (none before the first). */
  let gatherUntil = Number.NEGATIVE_INFINITY;
  const updates: { afterMs: number; service: boolean }[] = [];
  const send = (): void => {
    if (unsent.size === 0 || gatherUntil === Number.NEGATIVE_INFINITY) return;
    const out = Math.max(gatherUntil, serfFreeAt);
    updates.push({ afterMs: out, service: unsent.has('d.sv') });
    serfFreeAt = out + SERF_TAGS_CALL_MS;
    unsent.clear();
  };
  for (const { ms, tag } of events.sort((a, b) => a.ms - b.ms)) {
    if (ms > gatherUntil) {
      send();
      gatherUntil = ms + PUBLISH_GATHER_MS;
    }
    if (tag !== null) unsent.add(tag);
  }
  send();
  return updates;
}

/**
 * The shared cores of a community of `n` on one machine, and its member
 * events: spread(origin, at, cost) makes each live member (from `live` on,
 * all but the origin) spend cost.seenMs as its agent sees the event
 * (`seenAfter`, one rumor id per event), and cost.handedOnMs once its Serf
 * hands it on, coalesced with the events around it (coalescedAt), beside
 * `backgroundCores` of the settled community.
 */
function memberEvents(n: number, live: number, seenAfter: SeenAfter, machine: SharedMachine, backgroundCores: number): {
  cores: SharedCores;
  spread: (origin: number, at: number, cost: EventCost, seen?: (member: number, seenAt: number) => void) => void;
} {
  const cores = createSharedCores(machine.cores, backgroundCores);
  let rumors = 0;
  /** When each member's agent saw each member event (a failure, new tags): what Serf coalesces. */
  const events = new Map<number, number[]>();
  // What each member spends once its Serf hands its member events on, coalesced (coalescedAt): a batch from the first
  // event not yet handed on, each event adding its cost as it is seen. An event spread later is seen later than it is
  // spread, so when the time checked comes, every event before it is known: the check moves on until no event came
  // within SERF_QUIET_MS.
  const batches = new Map<number, { first: number; cpuMs: number }>();
  const handOn = (member: number, seenAt: number, cpuMs: number): void => {
    const open = batches.get(member);
    if (open !== undefined) {
      open.cpuMs += cpuMs;
      return;
    }
    const batch = { first: seenAt, cpuMs };
    batches.set(member, batch);
    const check = (at: number): void => cores.submit(member, at, 0, (now) => {
      const due = coalescedAt(batch.first, events.get(member) ?? []);
      if (due > now) return check(due);
      batches.delete(member);
      cores.submit(member, now, batch.cpuMs);
    });
    check(seenAt);
  };
  const spread = (origin: number, at: number, cost: EventCost, seen?: (member: number, seenAt: number) => void): void => {
    const rumor = rumors++;
    for (let m = live; m < n; m++) {
      if (m === origin) continue;
      const t = at + seenAfter(rumor, m, cost.death);
      cores.submit(m, t, cost.seenMs, () => {
        if (cost.handedOnMs > 0) handOn(m, t, cost.handedOnMs);
      });
      const seenBefore = events.get(m);
      if (seenBefore === undefined) events.set(m, [t]);
      else seenBefore.push(t);
      seen?.(m, t);
    }
  };
  return { cores, spread };
}

/**
 * How busy a failure keeps the cores, from the first agent seeing it: its
 * burst (burstEndMs), and the cores' mean busy share over the
 * BURST_WINDOW_MS after it (the settled community's share included), which
 * a dip between the failure's two parts does not cut short.
 */
export interface FailureLoad {
  burstMs: number | null;
  meanBusy: number;
}

/** The window of FailureLoad's meanBusy: both parts of a failure, the heal's updates and their handing on fall in it. */
export const BURST_WINDOW_MS = 4000;

function failureLoad(cores: SharedCores, machine: SharedMachine, firstSawAt: number): FailureLoad {
  const share = (from: number, to: number): number => cores.busyCores(firstSawAt + from, firstSawAt + to) / machine.cores;
  return { burstMs: burstEndMs(share), meanBusy: share(0, BURST_WINDOW_MS) };
}

/**
 * A failure with nothing to heal (bench/scale.ts's failure alone: a gateway
 * that held no sliver) on the shared cores: every live member reacts to it
 * as its agent sees it and once its Serf hands it on, and nothing else.
 */
export function failureAloneOnSharedCores(n: number, seenAfter: SeenAfter, machine: SharedMachine): FailureLoad {
  const { cores, spread } = memberEvents(n, 1, seenAfter, machine, machine.quietCores);
  let firstSawAt = Number.POSITIVE_INFINITY;
  spread(0, 0, failureCost(machine), (_m, t) => void (firstSawAt = Math.min(firstSawAt, t)));
  cores.run();
  return failureLoad(cores, machine, firstSawAt);
}

/**
 * Pulls of changed lists on the shared cores, as the agents make them: the
 * request reaches its host half a round trip after the puller saw the list
 * change; the host answers one request at a time, in the order they come; a
 * puller's side of the TLS handshake is mostly its answer to the host's, so
 * it spends its CPU (cost.callerMs) once the host had its turn
 * (cost.calleeMs), and the pulls' CPU is spread over the lists' whole trip,
 * not spent as the news arrives. A puller has at most `slots` pulls under
 * way (the agent's own limit); the others wait, in the order it saw their
 * lists change. Returns pull(host, puller, seenAt, done?): `done` gets when
 * the pull started (its request sent) and when the puller had the list.
 */
export function listPulls(cores: SharedCores, cost: CallCost, roundTripMs: number, slots = DEFAULT_ANTI_ENTROPY.maxInFlight):
  (host: number, puller: number, seenAt: number, done?: (startedAt: number, at: number) => void) => void {
  type Asked = { host: number; puller: number; startedAt: number; done: ((startedAt: number, at: number) => void) | undefined };
  const atHost = new Map<number, Asked[]>();
  const answering = new Set<number>();
  const underWay = new Map<number, number>();
  const waiting = new Map<number, Asked[]>();
  const answerNext = (host: number, at: number): void => {
    const next = atHost.get(host)?.shift();
    if (next === undefined) {
      answering.delete(host);
      return;
    }
    answering.add(host);
    cores.submit(host, at, cost.calleeMs, (answered) => {
      cores.submit(next.puller, answered + roundTripMs / 2, cost.callerMs, (end) => {
        underWay.set(next.puller, (underWay.get(next.puller) ?? 1) - 1);
        const queued = waiting.get(next.puller)?.shift();
        if (queued !== undefined) ask(queued, end);
        next.done?.(next.startedAt, end);
      });
      answerNext(host, answered);
    });
  };
  const ask = (a: Asked, at: number): void => {
    a.startedAt = at;
    underWay.set(a.puller, (underWay.get(a.puller) ?? 0) + 1);
    cores.submit(a.puller, at + roundTripMs / 2, 0, (reached) => {
      const queue = atHost.get(a.host);
      if (queue === undefined) atHost.set(a.host, [a]);
      else queue.push(a);
      if (!answering.has(a.host)) answerNext(a.host, reached);
    });
  };
  // Each decision at the time the puller saw the change (a spread reports its members in no time order).
  return (host, puller, seenAt, done) => cores.submit(puller, seenAt, 0, (at) => {
    const a = { host, puller, startedAt: at, done };
    if ((underWay.get(puller) ?? 0) < slots) ask(a, at);
    else {
      const queued = waiting.get(puller);
      if (queued === undefined) waiting.set(puller, [a]);
      else queued.push(a);
    }
  });
}

/** The service directory on one machine: when each list was pulled by every other member, its last pull's start and its slowest pull (ms), and how busy the cores were meanwhile. */
export interface DirectoryOnSharedCores {
  doneMs: number[];
  lastStartedMs: number[];
  slowestMs: number[];
  /** The cores' mean busy share from the announcements until the last list was pulled (the settled community's share included). */
  meanBusy: number;
}

/**
 * The service directory on the shared cores (bench/scale.ts's step 4): the
 * slice's `lists` hosts (members 0 to lists - 1) announce a service at 0,
 * each publishes its services digest PUBLISH_GATHER_MS later, and every
 * other member reacts to each update (SharedMachine's updateMs, and
 * updateEventMs once its Serf hands it on) and pulls each list as it sees
 * it (listPulls). The hosts' other updates (their free resources, slices
 * digest), which their logs show within a couple of seconds of the
 * announcement, are left out: the model's three updates and pulls already
 * charge the CPU the bench measures over the directory (62 ms a gateway
 * against 57-82 ms on the EPYC, BENCHMARKS.md session 38).
 */
export function directoryOnSharedCores(n: number, lists: number, seenAfter: SeenAfter, machine: SharedMachine, roundTripMs: number): DirectoryOnSharedCores {
  const { cores, spread } = memberEvents(n, 0, seenAfter, machine, machine.quietCores);
  const pull = listPulls(cores, machine.pull, roundTripMs);
  const doneMs = new Array<number>(lists).fill(0);
  const lastStartedMs = new Array<number>(lists).fill(0);
  const slowestMs = new Array<number>(lists).fill(0);
  for (let host = 0; host < lists; host++) {
    spread(host, PUBLISH_GATHER_MS, updateCost(machine), (m, seenAt) => pull(host, m, seenAt, (startedAt, at) => {
      doneMs[host] = Math.max(doneMs[host] as number, at);
      lastStartedMs[host] = Math.max(lastStartedMs[host] as number, startedAt);
      slowestMs[host] = Math.max(slowestMs[host] as number, at - startedAt);
    }));
  }
  cores.run();
  return { doneMs, lastStartedMs, slowestMs, meanBusy: cores.busyCores(0, Math.max(...doneMs)) / machine.cores };
}

/**
 * One heal on the shared cores, from its cause (a member failed, declared at
 * 0; or drained, its tags changed at 0) in a community of `n`: member 0 is
 * the failed or drained one, 1 the healer, 2 the other holder, 3 the new
 * host. Each live member reacts to each member event (the cause, and the
 * updates below) as its agent sees it, and again once its Serf hands it on,
 * coalesced with the events around it (coalescedAt; SharedMachine's
 * failureEventMs, updateEventMs); the healer, as it sees the cause, also
 * heals (its reserve call to the new host,
 * SharedMachine's heal), after which the healer's tags change at once and the new
 * host's as `newHost` says (newHostUpdates), and every member reacts to each
 * update; the other holder, as it sees the healer's, also pulls the record
 * (its side, then the healer's). When the new host announces the slice's
 * service, every member also pulls its list as it sees that update, while
 * the record travels: the host answers them one at a time, each puller
 * spending its side once the host had its turn. A process's reaction and its
 * calls run side by side on its event loop (shared-cores.ts). The reaction's
 * other updates (the other holder's digest once it took the record, the
 * homes, other slices' heals) come after the record in the bench's logs, and
 * are left out.
 * Returns when the healer healed, from the moment its agent saw the cause,
 * the record's trip, from the heal until the other holder took it, and how
 * busy the cause keeps the cores (FailureLoad).
 */
export function healOnSharedCores(
  cause: 'failure' | 'drain', n: number, seenAfter: SeenAfter, machine: SharedMachine, roundTripMs: number,
  newHost: NewHostPhases = { timerMs: 0, keeperMs: 0, serviceMs: null },
): { healerMs: number; recordMs: number } & FailureLoad {
  const [HEALER, HOLDER, NEW_HOST] = [1, 2, 3];
  const { cores, spread } = memberEvents(n, cause === 'failure' ? 1 : 0, seenAfter, machine, machine.settledCores);
  const failure = failureCost(machine);
  const update = updateCost(machine);
  /** A call from `caller` to `callee`: the caller's side, half a round trip, the callee's, half a round trip. */
  const call = (caller: number, callee: number, at: number, cost: CallCost, done: (at: number) => void): void =>
    cores.submit(caller, at, cost.callerMs, (t) => cores.submit(callee, t + roundTripMs / 2, cost.calleeMs, (u) => done(u + roundTripMs / 2)));
  const pullList = listPulls(cores, machine.pull, roundTripMs);
  let sawAt = Number.NaN;
  let healedAt = Number.NaN;
  let tookAt = Number.NaN;
  let firstSawAt = Number.POSITIVE_INFINITY;
  spread(0, 0, cause === 'failure' ? failure : update, (m, t) => {
    firstSawAt = Math.min(firstSawAt, t);
    if (m === HEALER) {
      sawAt = t;
      call(HEALER, NEW_HOST, t, machine.heal, (at) => {
        healedAt = at;
        for (const u of newHostUpdates(newHost)) spread(NEW_HOST, at + u.afterMs, update, u.service ? (m, seenAt) => pullList(NEW_HOST, m, seenAt) : undefined);
        spread(HEALER, at, update, (holder, seenAt) => {
          if (holder === HOLDER) call(HOLDER, HEALER, seenAt, machine.pull, (took) => void (tookAt = took));
        });
      });
    }
  });
  cores.run();
  return { healerMs: healedAt - sawAt, recordMs: tookAt - healedAt, ...failureLoad(cores, machine, firstSawAt) };
}

/**
 * When a burst ends, the same rule for the model and for bench/scale.ts's
 * trace of the machine: `busyShare(from, to)` is the share of the cores in
 * use over a window (ms from the burst's start); the burst ends with the
 * first quarter second, after a first one at least 90% busy, that is less
 * busy. Null when none was that busy, or the burst did not end within 60 s.
 */
export function burstEndMs(busyShare: (fromMs: number, toMs: number) => number): number | null {
  let wasBusy = false;
  for (let t = 0; t < 60_000; t += 250) {
    if (busyShare(t, t + 250) >= 0.9) wasBusy = true;
    else if (wasBusy) return t;
  }
  return null;
}
