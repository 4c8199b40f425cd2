// The one-machine model (opt-in, `hearth sim --machine-share S`): every
// gateway of the community runs on one machine of a few cores, as in
// bench/scale.ts (100 agents and their Serfs on one 2-core box), not on a
// home box of its own. It exists to predict that bench, not a community.
// What it adds to a pull of a changed list (a host's services, after its tags
// changed): CPU, on processes that wait their turn for a core.
//  - A pull costs the puller PULLER_CPU_MS and the host HOST_CPU_MS (measured
//    by bench/pull-cost.ts with the real peer server and client under the
//    agents' node flags, a new mutual-TLS connection per pull: the peer
//    server drops a connection idle for 5 s, so a pull after a quiet spell
//    starts this way), on a machine as busy as the bench's: beside 70
//    processes that stay runnable (`--load 70`), as the bench's run queue
//    holds 68-149 threads while the pulls run. There a pull takes about
//    twice the CPU it takes on an idle machine.
//  - Each gateway is one process with one event loop: the host answers its
//    pullers one at a time, in the order their requests come (FIFO).
//  - A busy gateway runs at S of a core: what the slice's hosts' agents got
//    while the pulls ran (the bench prints their median). Not the cores over
//    the runnable threads: the bench counted 121 runnable on 2 cores, which
//    would give 1.7% of a core, but most of those (Go's and libuv's threads,
//    woken for a moment) leave the core at once. Nor what a spinning probe
//    got (sessions 16-20): over runs whose directory stayed at 9.4-14.6 s it
//    got 0.029-0.084 of a core, the hosts' agents 0.036-0.059.
//  - Each gateway pulls at most DEFAULT_ANTI_ENTROPY.maxInFlight lists at
//    once (the agent's own limit): when several hosts change at once, a
//    puller's third pull waits for one of its first two, and starts as soon
//    as one ends, the list it saw change first first (the agent's core and
//    its services' puller do the same since session 23).
// S is the bench's measured input, not something the model predicts: on
// separate boxes (the model without this option) there is none to share.
// Pure. Must never: read a clock or Math.random.

import { DEFAULT_ANTI_ENTROPY } from '../cloud/anti-entropy.js';
import { createDeadlineQueue } from '../kit/deadline-queue.js';
import { PUBLISH_GATHER_MS } from '../overlay/tags.js';
import { createSharedCores, type SharedCores } from './shared-cores.js';

/** The machine every gateway runs on: how much of a core a busy gateway gets while the pulls run. */
export interface MachineModel {
  /** The share of a core (0..1] a busy gateway's agent gets (the bench's hosts, median). */
  share: number;
}

/**
 * bench/pull-cost.ts on the bench's machine, a pull on a new TLS connection
 * (Node 20, the agents' flags) beside as many always-runnable processes as
 * the bench's run queue holds while the directory's pulls run: session 32's
 * machine (2 cores Intel Xeon 2.8 GHz) held 24-45 (runs CA-CE), so
 * `--load 30`: the host's side 4.24 ms, median of three runs of 200. The
 * machine of sessions 20-31 (2 cores AMD EPYC) held 68-149 and took 4.7 ms
 * at `--load 70`. A busy machine costs more than an idle one (2.15-2.53 ms
 * there; with it the model predicted the directory at 0.36-0.53 of the real
 * one until session 20): the cost comes from the number of processes taking
 * turns (2 of them: 2.23 ms; 35: 4.61 ms), not from their working sets (1 MB
 * each: 4.45 ms).
 */
export const HOST_CPU_MS = 4.2;
/** The same pull, the puller's side: 3.66 ms (the AMD machine at `--load 70`: 5.1 ms; idle: 2.07-2.18 ms). */
export const PULLER_CPU_MS = 3.7;

/**
 * A heal's call, from the same bench on the same machine and load
 * (`bench/pull-cost.ts --route reserve --load 30`): the healer's reserve of
 * the slice's sliver on its new host, reserved and committed in one call, on
 * a new TLS connection, three runs of 60 calls: the new host's side 5.58 ms
 * (median), the healer's 4.18 ms (the AMD machine at `--load 70`: 9.8 and
 * 6.9 ms; idle, 4.8 and 3.1 ms). Until session 30 the model took a list
 * pull's cost for it: the host's side is the route's work (the user's
 * signature checked, the lease and the sliver written to SQLite) on top of
 * the handshake.
 */
export const HEAL_HOST_CPU_MS = 5.6;
export const HEAL_CALLER_CPU_MS = 4.2;

/** What one peer call costs each side, in ms of CPU. */
interface CallCost { callerMs: number; calleeMs: number }
const HEAL_CALL: CallCost = { callerMs: HEAL_CALLER_CPU_MS, calleeMs: HEAL_HOST_CPU_MS };
const PULL: CallCost = { callerMs: PULLER_CPU_MS, calleeMs: HOST_CPU_MS };

/** The bench's slice has 3 hosts, and each announces its service at once: three lists change together. */
export const BENCH_SLICE_LISTS = 3;

/**
 * The bench's slice runs a service; after a heal its new host announces it
 * (and publishes its services digest at once): a median 0.33 s after "slice
 * healed" (17 runs, W-AM: 0.02-1.82 s). The load slices a drain heals run none.
 */
export const BENCH_SERVICE_AFTER_HEAL_MS = 330;

/** One pull: `puller` pulls `host`'s list, having seen it change at `seenAt` (ms). */
export interface Pull {
  host: number;
  puller: number;
  seenAt: number;
}

type PullEvent = { kind: 'seen' | 'asked' | 'answered'; pull: number };

/**
 * When each pull is done (ms, in the order of `pulls`), on `machine`, with
 * `roundTripMs` of network for each: the puller's side (PULLER_CPU_MS at the
 * machine's share), then the host's (HOST_CPU_MS, one request at a time, in
 * the order they reach it), then the answer's way back. A puller has at most
 * `slots` pulls under way; the others wait, in the order it saw them.
 */
export function pullsOnOneMachine(pulls: readonly Pull[], machine: MachineModel, roundTripMs: number, slots = DEFAULT_ANTI_ENTROPY.maxInFlight): number[] {
  const { share } = machine;
  const done = new Array<number>(pulls.length).fill(0);
  const queue = createDeadlineQueue<PullEvent>();
  const busy = new Map<number, number>();
  const waiting = new Map<number, number[]>();
  const hostFreeAt = new Map<number, number>();
  const start = (i: number, at: number): void => {
    const p = pulls[i] as Pull;
    busy.set(p.puller, (busy.get(p.puller) ?? 0) + 1);
    queue.push(at + PULLER_CPU_MS / share + roundTripMs / 2, { kind: 'asked', pull: i });
  };
  pulls.forEach((p, i) => queue.push(p.seenAt, { kind: 'seen', pull: i }));
  for (let at = queue.nextDeadline(); at !== undefined; at = queue.nextDeadline()) {
    for (const e of queue.popDue(at)) {
      const p = pulls[e.pull] as Pull;
      if (e.kind === 'seen') {
        if ((busy.get(p.puller) ?? 0) < slots) start(e.pull, at);
        else {
          const queued = waiting.get(p.puller);
          if (queued === undefined) waiting.set(p.puller, [e.pull]);
          else queued.push(e.pull);
        }
      } else if (e.kind === 'asked') {
        const answeredAt = Math.max(at, hostFreeAt.get(p.host) ?? 0) + HOST_CPU_MS / share;
        hostFreeAt.set(p.host, answeredAt);
        queue.push(answeredAt + roundTripMs / 2, { kind: 'answered', pull: e.pull });
      } else {
        done[e.pull] = at;
        busy.set(p.puller, (busy.get(p.puller) ?? 1) - 1);
        const next = waiting.get(p.puller)?.shift();
        if (next !== undefined) start(next, at);
      }
    }
  }
  return done;
}

/**
 * The community on shared cores (processor sharing, src/sim/shared-cores.ts):
 * what the record's trip to another holder waits for on the bench's machine.
 * Every change of the community makes each gateway's agent and Serf work (a
 * member's failure: its view, its slices' keeper; a member's new tags: its
 * record read, the view), each on one event loop, all on the same cores, and
 * the pull of a healed record waits its turn behind that work on the holder
 * and on the healer. bench/scale.ts measures the costs: the gateways' CPU
 * in the burst of a failure with nothing to heal and in the 20 s after a
 * drain, above their rate before, and the tag updates each Serf learnt
 * meanwhile.
 */
export interface SharedMachine {
  cores: number;
  /** What the community takes of them with nothing happening (agents' and Serfs' CPU, settled). */
  settledCores: number;
  /** A gateway's CPU (ms of one core) for a member's failure, as its agent sees it. */
  failureMs: number;
  /** And once Serf hands the failure on to its agent's event stream, coalesced with the member events after it (coalescedAt). */
  failureEventMs: number;
  /** A gateway's CPU for one member's new tags, as its agent sees them, and once Serf hands the update on. */
  updateMs: number;
  updateEventMs: number;
}

/** What a member event costs each gateway, as its agent sees it and once its Serf hands it on; whether it is a member's death (SeenAfter). */
interface EventCost { seenMs: number; handedOnMs: number; death: boolean }

/** What a failure costs each member, as its agent sees it and once its Serf hands it on. */
const failureCost = (machine: SharedMachine): EventCost => ({ seenMs: machine.failureMs, handedOnMs: machine.failureEventMs, death: true });

/**
 * bench/scale.ts's machine and community at 100 gateways, serf on one thread, with the agent as it is since session 36
 * (6ac44fc: its event stream leaves member-update out; BENCHMARKS.md, session 37, runs IA and JA-JH, 2 cores Intel
 * Xeon 2.8 GHz): of its 2 cores the settled community, the bench and its tracer take 0.61 (the machine 25.1-42.4% busy
 * in the 8 s before the failure's first detection, median 30.7). A failure costs each gateway 7 ms as its agent sees
 * it and 9 ms once its Serf hands the event on, a second or more later (coalescedAt): the CPU above the rate before,
 * in the first second after the first detection and from 1 s to 4 s, of a gateway that never held a sliver killed at
 * the end of the run (medians; 4-9 and 4-12 ms). A member's new tags: 7 ms, the median of the CPU in the 20 s after a
 * drain over the tag updates meanwhile (4.0-10.2 ms each), split 4.2 and 2.8 as an isolated zone change splits
 * (medians 6 and 4 ms). An update alone costs more (3 zone changes 10 s apart, a median 14 ms each): in a burst the agents
 * read several members' news in one Serf call and Serf hands on several events as one.
 * Sessions 32-36 measured the agent before 6ac44fc, when Serf's stream resent with every member event the
 * member-update of every member that had ever changed its tags (hashicorp/serf#555): a failure 5 and 11 ms, a new
 * member's tags 3.4 and 4.6 (runs CA-CI, DA-DE). Until session 31 the
 * model charged the whole failure as the agents saw it (22 ms on the AMD machine of sessions 20-31, read from bursts
 * that had the heal's work in them), and the heal waited behind it.
 */
export const BENCH_MACHINE: SharedMachine = { cores: 2, settledCores: 0.61, failureMs: 7, failureEventMs: 9, updateMs: 4.2, updateEventMs: 2.8 };

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

/** When member `member`'s agent sees rumor `rumor`, after it starts (ms): the gossip model's draw, a member's death's when `death` (deathSpreadCurve). */
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
 * hands it on, coalesced with the events around it (coalescedAt).
 */
function memberEvents(n: number, live: number, seenAfter: SeenAfter, machine: SharedMachine): {
  cores: SharedCores;
  spread: (origin: number, at: number, cost: EventCost, seen?: (member: number, seenAt: number) => void) => void;
} {
  const cores = createSharedCores(machine.cores, machine.settledCores);
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
  const { cores, spread } = memberEvents(n, 1, seenAfter, machine);
  let firstSawAt = Number.POSITIVE_INFINITY;
  spread(0, 0, failureCost(machine), (_m, t) => void (firstSawAt = Math.min(firstSawAt, t)));
  cores.run();
  return failureLoad(cores, machine, firstSawAt);
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
 * HEAL_CALLER_CPU_MS and HEAL_HOST_CPU_MS), after which the healer's tags change at once and the new
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
  const { cores, spread } = memberEvents(n, cause === 'failure' ? 1 : 0, seenAfter, machine);
  const failure = failureCost(machine);
  const update: EventCost = { seenMs: machine.updateMs, handedOnMs: machine.updateEventMs, death: false };
  /** A call from `caller` to `callee`: the caller's side, half a round trip, the callee's, half a round trip. */
  const call = (caller: number, callee: number, at: number, cost: CallCost, done: (at: number) => void): void =>
    cores.submit(caller, at, cost.callerMs, (t) => cores.submit(callee, t + roundTripMs / 2, cost.calleeMs, (u) => done(u + roundTripMs / 2)));
  // The new host's services list, pulled by every member as it sees the update that carries its digest. The host
  // answers one pull at a time in the order they come, as in the directory's model (pullsOnOneMachine), and a
  // puller's side of the TLS handshake is mostly its answer to the host's: each puller spends its CPU once the
  // host has had its turn, so the pulls' CPU is spread over the list's whole trip, not spent as the news arrives.
  const asked: number[] = [];
  let answering = false;
  const answerNext = (at: number): void => {
    const member = asked.shift();
    answering = member !== undefined;
    if (member === undefined) return;
    cores.submit(NEW_HOST, at, HOST_CPU_MS, (done) => {
      cores.submit(member, done + roundTripMs / 2, PULLER_CPU_MS);
      answerNext(done);
    });
  };
  const pullList = (member: number, seenAt: number): void => cores.submit(member, seenAt + roundTripMs / 2, 0, (at) => {
    asked.push(member);
    if (!answering) answerNext(at);
  });
  let sawAt = Number.NaN;
  let healedAt = Number.NaN;
  let tookAt = Number.NaN;
  let firstSawAt = Number.POSITIVE_INFINITY;
  spread(0, 0, cause === 'failure' ? failure : update, (m, t) => {
    firstSawAt = Math.min(firstSawAt, t);
    if (m === HEALER) {
      sawAt = t;
      call(HEALER, NEW_HOST, t, HEAL_CALL, (at) => {
        healedAt = at;
        for (const u of newHostUpdates(newHost)) spread(NEW_HOST, at + u.afterMs, update, u.service ? pullList : undefined);
        spread(HEALER, at, update, (holder, seenAt) => {
          if (holder === HOLDER) call(HOLDER, HEALER, seenAt, PULL, (took) => void (tookAt = took));
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
