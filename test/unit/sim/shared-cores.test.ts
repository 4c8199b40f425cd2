// The shared cores: processes with one event loop each share a few cores
// evenly, none above one core, and each its share among its jobs; and a heal
// on them: its calls share the cores with every gateway's reaction.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSharedCores } from '../../../src/sim/shared-cores.js';
import { PUBLISH_GATHER_MS } from '../../../src/overlay/tags.js';
import { BENCH_MACHINES, BURST_WINDOW_MS, burstEndMs, coalescedAt, failureAloneOnSharedCores, healOnSharedCores, newHostUpdates, SERF_COALESCE_MS, SERF_QUIET_MS, SERF_TAGS_CALL_MS, type SharedMachine } from '../../../src/sim/machine.js';

const near = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) < 1e-6, `${actual} ≠ ${expected}`);

/** Runs jobs [process, at, cpuMs] and returns when each ended. */
function ends(cores: number, background: number, jobs: [number, number, number][]): number[] {
  const shared = createSharedCores(cores, background);
  const done: number[] = [];
  jobs.forEach(([p, at, cpu], i) => shared.submit(p, at, cpu, (t) => void (done[i] = t)));
  shared.run();
  return done;
}

void describe('shared cores', () => {
  test('a process alone gets one core, not more', () => {
    near(ends(2, 0, [[0, 5, 10]])[0] as number, 15);
  });

  test('busy processes split the cores evenly', () => {
    // Three 10 ms jobs on 2 cores: each at 2/3 of a core, all done at 15.
    for (const t of ends(2, 0, [[0, 0, 10], [1, 0, 10], [2, 0, 10]])) near(t, 15);
    // One ends early: the other then has a core to itself.
    const [a, b] = ends(1, 0, [[0, 0, 2], [1, 0, 10]]);
    near(a as number, 4);
    near(b as number, 12);
  });

  test("a process's jobs share its one core, as an event loop interleaves its tasks", () => {
    // Two jobs of one process on 2 cores: one core between them, not one each.
    const [first, second] = ends(2, 0, [[0, 0, 10], [0, 0, 10]]);
    near(first as number, 20);
    near(second as number, 20);
    // The shorter ends first, and the other then has the process's core to itself.
    const [short, long] = ends(2, 0, [[0, 0, 2], [0, 0, 10]]);
    near(short as number, 4);
    near(long as number, 12);
  });

  test('the background takes its cores first', () => {
    near(ends(2, 1.5, [[0, 0, 10]])[0] as number, 20);
    assert.throws(() => createSharedCores(2, 2), RangeError);
  });

  test('the cores in use over a window count the background and every busy process', () => {
    const shared = createSharedCores(2, 0.5);
    // Three jobs of 3 ms at 0: 1.5 cores left, half a core each, all done at 6; then 4 ms alone on one core, 10 to 14.
    shared.submit(0, 0, 3);
    shared.submit(1, 0, 3);
    shared.submit(2, 0, 3);
    shared.submit(0, 10, 4);
    shared.run();
    near(shared.busyCores(0, 6), 2);
    near(shared.busyCores(6, 10), 0.5);
    near(shared.busyCores(0, 12), (1.5 * 6 + 2) / 12 + 0.5);
    near(shared.busyCores(10, 14), 1.5);
    assert.throws(() => shared.busyCores(5, 5), RangeError);
  });

  test('a job that ends may queue more, on any process, now or later', () => {
    const shared = createSharedCores(1);
    let last = 0;
    shared.submit(0, 0, 10, (t) => shared.submit(1, t + 5, 10, (u) => void (last = u)));
    near(shared.run(), 25);
    near(last, 25);
  });
});

void describe('a heal on shared cores', () => {
  const free: SharedMachine = { ...BENCH_MACHINES.xeon, cores: 1, settledCores: 0, quietCores: 0, failureMs: 0, failureEventMs: 0, updateMs: 0, updateEventMs: 0 };
  const atOnce = (): number => 0;
  const call = free.pull.callerMs + free.pull.calleeMs;
  const heal = free.heal.callerMs + free.heal.calleeMs;

  test("nothing else to do: the heal is one reserve call, the record one pull, each with its round trip", () => {
    // A reserve costs its host the route's work on top of the handshake: more than a pull.
    assert.ok(free.heal.calleeMs > free.pull.calleeMs);
    for (const cause of ['failure', 'drain'] as const) {
      const quiet = healOnSharedCores(cause, 4, atOnce, free, 0);
      near(quiet.healerMs, heal);
      near(quiet.recordMs, call);
      const far = healOnSharedCores(cause, 4, atOnce, free, 40);
      near(far.healerMs, heal + 40);
      near(far.recordMs, call + 40);
    }
  });

  test("the heal and the record share the cores with everyone's reaction, and their own process with its own", () => {
    // Everyone reacts to the failure at once: the heal's call runs beside the healer's reaction, the others' too.
    const busy = healOnSharedCores('failure', 4, atOnce, { ...free, failureMs: 100 }, 0);
    assert.ok(busy.healerMs > 3 * heal, `the healer's call got a share of a share: ${busy.healerMs}`);
    // A bigger community on the same core: more reactions beside the heal, a slower heal.
    const bigger = healOnSharedCores('failure', 40, atOnce, { ...free, failureMs: 100 }, 0);
    assert.ok(bigger.healerMs > busy.healerMs, JSON.stringify({ busy, bigger }));
    // More cores: faster.
    const twoCores = healOnSharedCores('failure', 40, atOnce, { ...free, cores: 2, failureMs: 100 }, 0);
    assert.ok(twoCores.healerMs < bigger.healerMs, JSON.stringify({ bigger, twoCores }));
    // A drain costs what an update costs, not a failure's reaction.
    const drain = healOnSharedCores('drain', 40, atOnce, { ...free, failureMs: 100 }, 0);
    near(drain.healerMs, heal);
  });

  test('a burst ends with the first quarter second below 90% after one at or above it', () => {
    // Busy from 0.5 s to 2 s (a quiet first half second does not end it).
    assert.equal(burstEndMs((from) => (from >= 500 && from < 2000 ? 0.95 : 0.5)), 2000);
    assert.equal(burstEndMs(() => 0.89), null);
    // Never below 90% within 60 s: no end.
    assert.equal(burstEndMs(() => 1), null);
  });

  test("the failure's own burst: as long as the cores stay 90% busy after the first gateway saw it, in quarter seconds", () => {
    // Nothing to do but the heal's few ms: the cores are never 90% busy over a quarter second.
    assert.equal(healOnSharedCores('failure', 4, atOnce, free, 0).burstMs, null);
    // 40 live gateways with 100 ms each on one core from 0 (and the heal's 27 ms): 4 s busy, then a quarter second below 90%.
    const busy = healOnSharedCores('failure', 41, atOnce, { ...free, failureMs: 100 }, 0);
    assert.equal(busy.burstMs, 4000);
    // Seen from 1 s on: the burst counts from the first gateway that saw it.
    assert.equal(healOnSharedCores('failure', 41, () => 1000, { ...free, failureMs: 100 }, 0).burstMs, 4000);
    // Half the work: half as long. A background of half the core: the same work keeps it busy twice as long.
    const half = healOnSharedCores('failure', 41, atOnce, { ...free, failureMs: 50 }, 0);
    assert.equal(half.burstMs, 2000);
    assert.equal(healOnSharedCores('failure', 41, atOnce, { ...free, settledCores: 0.5, failureMs: 100 }, 0).burstMs, 8000);
    // The mean busy share over the window: the whole window busy, then half of it, the heal's few ms beside it.
    assert.equal(busy.meanBusy, 1);
    assert.ok(Math.abs(half.meanBusy - (2000 + 27) / BURST_WINDOW_MS) < 0.01, String(half.meanBusy));
  });

  test('a failure alone: the same reactions without the heal, its updates and its pulls', () => {
    // 40 live gateways with 100 ms each on one core: 4 s busy, as with the heal's few ms beside it.
    assert.deepEqual(failureAloneOnSharedCores(41, atOnce, { ...free, failureMs: 100 }), { burstMs: 4000, meanBusy: 1 });
    // With nothing but the reactions, a cheap failure never makes the cores 90% busy: 40 ms of 4 s, 1% busy.
    const cheap = failureAloneOnSharedCores(41, atOnce, { ...free, failureMs: 1 });
    assert.equal(cheap.burstMs, null);
    assert.ok(Math.abs(cheap.meanBusy - 0.01) < 1e-9, String(cheap.meanBusy));
    // The second part comes when Serf hands it on, a quiet second after the agents saw it: a cheap first part and a dear
    // second keep the cores busy from 1 s to 5 s, counted from the first seeing: 3 of the window's 4 s and the first 40 ms.
    const late = failureAloneOnSharedCores(41, atOnce, { ...free, failureMs: 1, failureEventMs: 100 });
    assert.equal(late.burstMs, 5000);
    assert.ok(Math.abs(late.meanBusy - (3000 + 40) / BURST_WINDOW_MS) < 1e-9, String(late.meanBusy));
    // With this machine's figures (seen over half a second), the first part alone does not make two cores 90% busy;
    // the burst is the handing on's, and ends after it.
    const machine = { ...free, cores: 2, quietCores: 0.6, failureMs: 4, failureEventMs: 12, updateMs: 3, updateEventMs: 5 };
    const spreadOut = (_k: number, m: number): number => (m % 50) * 10;
    const firstPart = failureAloneOnSharedCores(100, spreadOut, { ...machine, failureEventMs: 0 });
    assert.equal(firstPart.burstMs, null);
    const alone = failureAloneOnSharedCores(100, spreadOut, machine);
    assert.ok(alone.burstMs !== null && alone.burstMs > SERF_QUIET_MS, JSON.stringify(alone));
    // The settled share is in the mean, and the second part adds to it.
    assert.ok(firstPart.meanBusy > machine.quietCores / machine.cores && alone.meanBusy > firstPart.meanBusy, JSON.stringify({ firstPart, alone }));
  });

  test("Serf hands a failure on once no member event came for a second, three seconds after it at the latest", () => {
    assert.equal(coalescedAt(500, [500]), 500 + SERF_QUIET_MS);
    // Each event within the quiet second puts the handing-on back; one after it waits for the next batch.
    assert.equal(coalescedAt(0, [1800, 0, 900]), 1800 + SERF_QUIET_MS);
    assert.equal(coalescedAt(0, [0, 1000, 1500]), SERF_QUIET_MS);
    // Never later than SERF_COALESCE_MS after the first, whatever keeps coming.
    assert.equal(coalescedAt(0, [0, 900, 1800, 2700, 3500]), SERF_COALESCE_MS);
    // Events before the batch's first are not in it.
    assert.equal(coalescedAt(1000, [0, 500, 1000]), 1000 + SERF_QUIET_MS);
  });

  test("the failure's coalesced event comes after a heal seen at once: it lengthens the burst, not the heal", () => {
    const now = { ...free, failureMs: 100 };
    const split = { ...free, failureMs: 10, failureEventMs: 90 };
    const atOnceAll = healOnSharedCores('failure', 41, atOnce, now, 0);
    const later = healOnSharedCores('failure', 41, atOnce, split, 0);
    // Each gateway spends as much, but the heal now waits for the 40 × 10 ms everyone spends as they see it, not 40 × 100.
    assert.ok(later.healerMs < atOnceAll.healerMs - 300, JSON.stringify({ atOnceAll, later }));
    near(later.healerMs, 400 + heal);
    // The burst found from the first detection is the first busy stretch: 40 × 10 ms and the heal from 0, over
    // before a second has passed, when the Serfs hand the failure on.
    assert.equal(later.burstMs, 250);
    // With nothing to spend as they see it, the burst is the hand-on's: from a second after the first detection (the
    // healer's update, seen a moment after the heal, puts it back 17 ms), 40 × 90 ms on the one core.
    const handedOn = healOnSharedCores('failure', 41, atOnce, { ...free, failureEventMs: 90 }, 0);
    assert.equal(handedOn.burstMs, 4500);
  });

  test('a holder that sees the healed record while it still reacts to the failure pulls it slower than an idle one', () => {
    // The other holder (member 2) sees the failure late, at 150: it is still reacting when the healer's news comes.
    const lateHolder = (rumor: number, member: number): number => (rumor === 0 && member === 2 ? 150 : rumor === 0 ? 0 : 160);
    const idleHolder = (rumor: number): number => (rumor === 0 ? 0 : 400);
    const machine = { ...free, failureMs: 100 };
    const late = healOnSharedCores('failure', 4, lateHolder, machine, 0);
    const idle = healOnSharedCores('failure', 4, idleHolder, machine, 0);
    near(idle.recordMs, 400 + call);
    assert.ok(late.recordMs > 160 + call + 5, JSON.stringify({ late, idle }));
  });

  test("a service the new host announces has every member pull its list while the record travels", () => {
    const machine = { ...free, updateMs: 10 };
    const none = healOnSharedCores('failure', 10, atOnce, machine, 0);
    // Announced at the heal: the record shares the cores with the list's pulls. The host answers them one at a
    // time and each puller spends its side after the host's turn, so the nine pulls' CPU comes spread over the
    // list's trip: the record waits for a few of them, not for all (all at once, it took 101 ms more here).
    const withService = healOnSharedCores('failure', 10, atOnce, machine, 0, { timerMs: 0, keeperMs: 0, serviceMs: 0 });
    assert.ok(withService.recordMs > none.recordMs + free.pull.callerMs, JSON.stringify({ none, withService }));
    assert.ok(withService.recordMs < none.recordMs + 5 * call, JSON.stringify({ none, withService }));
    near(withService.healerMs, none.healerMs);
    // Announced once the record is there: it costs the record nothing.
    near(healOnSharedCores('failure', 10, atOnce, machine, 0, { timerMs: 0, keeperMs: 0, serviceMs: 10_000 }).recordMs, none.recordMs);
    // The new host's digest a round later: its update no longer comes beside the healer's.
    const later = healOnSharedCores('failure', 10, atOnce, machine, 0, { timerMs: 10_000, keeperMs: 10_000, serviceMs: null });
    assert.ok(later.recordMs < none.recordMs - 5 * call, JSON.stringify({ none, later }));
  });

  test("the new host's updates: each publish gathers for PUBLISH_GATHER_MS and sends every change not sent yet", () => {
    const g = PUBLISH_GATHER_MS;
    // The timer first sends the commit's free resources; the keeper's round, the slices digest.
    assert.deepEqual(newHostUpdates({ timerMs: 100, keeperMs: 1500, serviceMs: null }), [{ afterMs: 100 + g, service: false }, { afterMs: 1500 + g, service: false }]);
    // The keeper first sends both: the timer finds nothing new.
    assert.deepEqual(newHostUpdates({ timerMs: 500, keeperMs: 100, serviceMs: null }), [{ afterMs: 100 + g, service: false }]);
    // A service announced first sends its digest with the resources; the keeper's round, the slices digest, once
    // Serf is done with the first (SERF_TAGS_CALL_MS).
    assert.deepEqual(newHostUpdates({ timerMs: 1500, keeperMs: 1000, serviceMs: 300 }), [{ afterMs: 300 + g, service: true }, { afterMs: 300 + g + SERF_TAGS_CALL_MS, service: false }]);
    // A service announced within the gathering goes with the timer's publish; one announced after it, in an update of its own.
    assert.deepEqual(newHostUpdates({ timerMs: 10, keeperMs: 1900, serviceMs: 30 }),
      [{ afterMs: 10 + g, service: true }, { afterMs: 1900 + g, service: false }]);
    assert.deepEqual(newHostUpdates({ timerMs: 10, keeperMs: 1900, serviceMs: 10 + g + 1 }),
      [{ afterMs: 10 + g, service: false }, { afterMs: 10 + g + SERF_TAGS_CALL_MS, service: true }, { afterMs: 10 + g + 2 * SERF_TAGS_CALL_MS, service: false }]);
    // All within the gathering (a stalled event loop runs them one after the other): one update.
    assert.deepEqual(newHostUpdates({ timerMs: 0, keeperMs: 2, serviceMs: 3 }), [{ afterMs: g, service: true }]);
  });
});
