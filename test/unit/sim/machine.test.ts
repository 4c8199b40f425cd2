// The one-machine model: pulls of changed lists on shared cores, a host
// answering its pullers one at a time and a puller with two pulls under way
// at most; the service directory on those cores; off, nothing of the
// community model changes; on, a burst of pulls on one host is no faster
// than the host's CPU allows, and a busier machine is slower.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BENCH_MACHINES, directoryOnSharedCores, listPulls, type SharedMachine } from '../../../src/sim/machine.js';
import { createSharedCores } from '../../../src/sim/shared-cores.js';
import { COMMUNITY_LINK, propagation, SERF_AGENT_EVENTS, WAN_CONFIG } from '../../../src/sim/memberlist.js';
import { PUBLISH_GATHER_MS } from '../../../src/overlay/tags.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig } from '../../../src/sim/scenario.js';

const bench: SharedMachine = BENCH_MACHINES.xeon;
const { callerMs, calleeMs } = bench.pull;
const CPU = callerMs + calleeMs;
/** The same times but for floating-point rounding (the costs are decimal fractions of a ms). */
const assertTimes = (actual: number[], expected: number[]): void => {
  assert.equal(actual.length, expected.length, JSON.stringify({ actual, expected }));
  actual.forEach((t, i) => assert.ok(Math.abs(t - (expected[i] as number)) < 1e-9, JSON.stringify({ actual, expected })));
};

/** Pulls [host, puller, seenAt] on `cores` idle cores, `roundTripMs` apart: when each puller had its list. */
function pulled(cores: number, roundTripMs: number, pulls: [number, number, number][]): number[] {
  const shared = createSharedCores(cores);
  const pull = listPulls(shared, bench.pull, roundTripMs);
  const done: number[] = [];
  pulls.forEach(([host, puller, seenAt], i) => pull(host, puller, seenAt, (_started, at) => void (done[i] = at)));
  shared.run();
  return done;
}

void describe('one machine', () => {
  test('one pull alone: its two sides, and the round trip', () => {
    assertTimes(pulled(1, 10, [[0, 1, 100]]), [100 + CPU + 10]);
  });

  test('a host answers one request at a time, in the order they come', () => {
    // Three pullers see the change at once: their requests reach the host together, and it answers them in turn;
    // each puller spends its side once the host had its turn.
    assertTimes(pulled(8, 0, [0, 1, 2].map((i) => [0, i + 1, 0])), [calleeMs + callerMs, 2 * calleeMs + callerMs, 3 * calleeMs + callerMs]);
    // Two hosts are two processes: their pullers do not wait for each other.
    assertTimes(pulled(8, 0, [[0, 2, 0], [1, 3, 0]]), [CPU, CPU]);
  });

  test('a puller has two pulls under way at most: the third waits for the first to end', () => {
    const [first, second, third] = pulled(8, 0, [0, 1, 2].map((host) => [host, 9, host])) as [number, number, number];
    // The puller's sides of its first two share its one event loop, so both end later than one alone would.
    assert.ok(first > CPU && second > 1 + CPU, JSON.stringify({ first, second }));
    // The third is asked as the first ends, and nothing else is under way on its host or its puller by then.
    assertTimes([third], [first + CPU]);
  });

  test('the directory: every member reacts to the hosts\' updates and pulls each list, on the shared cores', () => {
    const atOnce = (): number => 0;
    const free: SharedMachine = { ...bench, cores: 64, settledCores: 0, quietCores: 0, failureMs: 0, failureEventMs: 0, updateMs: 0, updateEventMs: 0 };
    // One list, three others: the host's answers in turn after its publish gathered, nothing else on the cores.
    const one = directoryOnSharedCores(4, 1, atOnce, free, 0);
    assertTimes(one.doneMs, [PUBLISH_GATHER_MS + 3 * calleeMs + callerMs]);
    assertTimes(one.lastStartedMs, [PUBLISH_GATHER_MS]);
    assertTimes(one.slowestMs, [3 * calleeMs + callerMs]);
    // The reactions to the updates share the cores with the pulls: on two cores, a slower directory than with none.
    const two = { ...free, cores: 2 };
    const quiet = directoryOnSharedCores(100, 3, atOnce, two, 0);
    const reacting = directoryOnSharedCores(100, 3, atOnce, { ...two, updateMs: 20 }, 0);
    assert.ok(Math.min(...reacting.doneMs) > Math.max(...quiet.doneMs), JSON.stringify({ quiet: quiet.doneMs, reacting: reacting.doneMs }));
    // A quiet community that takes more of the cores: slower still, and the cores busier meanwhile; the
    // settled share a failure finds (just after the bench's load) is not the directory's.
    const settled = directoryOnSharedCores(100, 3, atOnce, { ...two, updateMs: 20, quietCores: 1 }, 0);
    assert.deepEqual(directoryOnSharedCores(100, 3, atOnce, { ...two, updateMs: 20, settledCores: 1 }, 0), reacting);
    assert.ok(Math.min(...settled.doneMs) > Math.max(...reacting.doneMs), JSON.stringify({ reacting: reacting.doneMs, settled: settled.doneMs }));
    assert.ok(settled.meanBusy > reacting.meanBusy && settled.meanBusy <= 1, JSON.stringify({ reacting, settled }));
    // Three lists, two slots: some puller's third pull starts only once one of its first two ended.
    assert.ok(Math.max(...quiet.lastStartedMs) >= PUBLISH_GATHER_MS + CPU, JSON.stringify(quiet));
  });

  test('a burst of pulls waits for the host: no faster than its answers', () => {
    const off = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    const busy = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench);
    // The gossip is the same: only the pulls and the reactions cost.
    assert.deepEqual(busy.toAll, off.toAll);
    assert.ok(busy.directory.medianMs >= (99 * calleeMs) / (bench.cores - bench.quietCores), JSON.stringify(busy.directory));
    assert.ok(busy.directory.medianMs > off.directory.medianMs, JSON.stringify({ off: off.directory, busy: busy.directory }));
    assert.equal(off.directoryPulls, undefined);
    assert.ok(busy.directoryPulls !== undefined && busy.directoryPulls.slowest.medianMs < busy.directory.medianMs, JSON.stringify(busy.directoryPulls));
    // The record's trip is a heal's on the bench's shared cores.
    assert.ok(busy.toOne.medianMs > off.toOne.medianMs + CPU, JSON.stringify({ off: off.toOne, busy: busy.toOne }));
    assert.equal(off.toOneAfterFailure, undefined);
    assert.ok(busy.toOneAfterFailure !== undefined && busy.toOneAfterFailure.medianMs > off.toOne.medianMs + CPU, JSON.stringify(busy));
    // The heal itself is reported beside its record: a reserve in the failure's burst, slower than the call alone.
    assert.equal(off.healerAfterFailure, undefined);
    assert.ok(busy.healerAfterFailure !== undefined && busy.healerAfterFailure.medianMs > bench.heal.callerMs + bench.heal.calleeMs, JSON.stringify(busy));
    // And the failure's own burst on the bench's cores: every agent's reaction as it sees the failure keeps them 90% busy
    // for a quarter second or more (the bench's runs IA and JA-JJ: 0.25-4.5 s, median 1.75 s).
    assert.equal(off.failureBurst, undefined);
    assert.ok(busy.failureBurst !== undefined && busy.failureBurst.medianMs >= 250, JSON.stringify(busy));
    // Over the window from the first agent seeing it, a failure with its heal keeps the cores busier than one alone.
    assert.equal(off.failureMeanBusy, undefined);
    assert.ok(busy.failureMeanBusy !== undefined && busy.failureAlone !== undefined, JSON.stringify(busy));
    assert.ok(busy.failureMeanBusy.median > busy.failureAlone.meanBusy.median && busy.failureMeanBusy.median <= 1, JSON.stringify(busy));
    assert.deepEqual(propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench), busy);
  });

  test('a run reports the machine only when it modelled one', () => {
    const base = { gateways: 60, hours: 1, seed: 5, utilisation: 0.3, profile: 'wan' as const };
    const off = runSim(scenarioConfig('steady', base));
    assert.equal('machine' in off, false);
    const on = runSim(scenarioConfig('steady', { ...base, machine: bench }));
    assert.deepEqual(on.machine, bench);
    assert.ok(on.propagation.directory.medianMs > off.propagation.directory.medianMs);
    // Placement and healing do not see the machine.
    assert.deepEqual({ ...on, machine: undefined, propagation: undefined }, { ...off, machine: undefined, propagation: undefined });
  });

  test('`hearth sim --one-machine` takes a measured machine by name, and refuses any other', () => {
    const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
    const sim = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [cli, 'sim', 'steady', '-n', '20', '--hours', '0.5', '--profile', 'wan', '--json', ...args], { encoding: 'utf8' });
    const on = sim('--one-machine', 'xeon');
    assert.equal(on.status, 0, String(on.stderr));
    const result = JSON.parse(String(on.stdout)) as { machine?: SharedMachine; propagation: { directoryPulls?: unknown } };
    assert.deepEqual(result.machine, BENCH_MACHINES.xeon);
    assert.ok(result.propagation.directoryPulls !== undefined);
    const unknown = sim('--one-machine', 'pentium');
    assert.notEqual(unknown.status, 0);
    assert.match(String(unknown.stderr), /pentium/);
    for (const name of Object.keys(BENCH_MACHINES)) assert.match(String(unknown.stderr), new RegExp(name));
  });
});
