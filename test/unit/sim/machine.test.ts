// The one-machine model: each gateway is a process that gets the machine's
// share of a core while busy; a host answers its pullers one at a time, a puller has two
// pulls under way at most; off, nothing of the community model changes; on,
// a burst of pulls on one host is no faster than the host's CPU allows, and
// a busier machine is slower.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAL_CALLER_CPU_MS, HEAL_HOST_CPU_MS, HOST_CPU_MS, PULLER_CPU_MS, pullsOnOneMachine, type MachineModel } from '../../../src/sim/machine.js';
import { COMMUNITY_LINK, propagation, SERF_AGENT_EVENTS, WAN_CONFIG } from '../../../src/sim/memberlist.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig } from '../../../src/sim/scenario.js';

const bench = (share: number): MachineModel => ({ share });
const CPU = HOST_CPU_MS + PULLER_CPU_MS;
/** The same times but for floating-point rounding (the costs are decimal fractions of a ms). */
const assertTimes = (actual: number[], expected: number[]): void => {
  assert.equal(actual.length, expected.length, JSON.stringify({ actual, expected }));
  actual.forEach((t, i) => assert.ok(Math.abs(t - (expected[i] as number)) < 1e-9, JSON.stringify({ actual, expected })));
};

void describe('one machine', () => {
  test('one pull alone: its two sides at the process share, and the round trip', () => {
    assertTimes(pullsOnOneMachine([{ host: 0, puller: 1, seenAt: 100 }], bench(1), 10), [100 + CPU + 10]);
    assertTimes(pullsOnOneMachine([{ host: 0, puller: 1, seenAt: 100 }], bench(0.1), 10), [100 + CPU * 10 + 10]);
  });

  test('a host answers one request at a time, in the order they come', () => {
    // Three pullers see the change at once: their requests reach the host together, and it answers them in turn.
    const done = pullsOnOneMachine([0, 1, 2].map((i) => ({ host: 0, puller: i + 1, seenAt: 0 })), bench(1), 0);
    assertTimes(done, [PULLER_CPU_MS + HOST_CPU_MS, PULLER_CPU_MS + 2 * HOST_CPU_MS, PULLER_CPU_MS + 3 * HOST_CPU_MS]);
    // Two hosts are two processes: their pullers do not wait for each other.
    assertTimes(pullsOnOneMachine([{ host: 0, puller: 2, seenAt: 0 }, { host: 1, puller: 3, seenAt: 0 }], bench(1), 0), [CPU, CPU]);
  });

  test('a puller has two pulls under way at most: the third waits for the first to end', () => {
    const done = pullsOnOneMachine([0, 1, 2].map((host) => ({ host, puller: 9, seenAt: host })), bench(1), 0);
    assertTimes(done, [CPU, 1 + CPU, CPU + CPU]);
  });

  test('a burst of pulls waits for the host: no faster than its answers at its share, slower when the machine is busier', () => {
    const off = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    const quiet = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(1));
    const busy = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.05));
    // The gossip is the same: only the pulls cost.
    assert.deepEqual(quiet.toAll, off.toAll);
    assert.deepEqual(busy.toAll, off.toAll);
    const answers = (99 * HOST_CPU_MS) / 0.05;
    assert.ok(busy.directory.medianMs >= answers, JSON.stringify({ busy, answers }));
    assert.ok(busy.directory.medianMs > quiet.directory.medianMs && quiet.directory.medianMs >= off.directory.medianMs, JSON.stringify({ off, quiet, busy }));
    // The record's trip is a heal's on the bench's shared cores, not a pull at the share: the same whatever the share.
    assert.deepEqual(busy.toOne, quiet.toOne);
    assert.ok(busy.toOne.medianMs > off.toOne.medianMs + CPU, JSON.stringify({ off: off.toOne, busy: busy.toOne }));
    assert.equal(off.toOneAfterFailure, undefined);
    assert.ok(busy.toOneAfterFailure !== undefined && busy.toOneAfterFailure.medianMs > off.toOne.medianMs + CPU, JSON.stringify(busy));
    // The heal itself is reported beside its record: a reserve in the failure's burst, slower than the call alone.
    assert.equal(off.healerAfterFailure, undefined);
    assert.ok(busy.healerAfterFailure !== undefined && busy.healerAfterFailure.medianMs > HEAL_CALLER_CPU_MS + HEAL_HOST_CPU_MS, JSON.stringify(busy));
    // And the failure's own burst on the bench's cores: every agent's reaction as it sees the failure keeps them 90% busy
    // for a quarter second or more (the bench's runs IA and JA-JJ: 0.25-4.5 s, median 1.75 s).
    assert.equal(off.failureBurst, undefined);
    assert.ok(busy.failureBurst !== undefined && busy.failureBurst.medianMs >= 250, JSON.stringify(busy));
    // Over the window from the first agent seeing it, a failure with its heal keeps the cores busier than one alone.
    assert.equal(off.failureMeanBusy, undefined);
    assert.ok(busy.failureMeanBusy !== undefined && busy.failureAlone !== undefined, JSON.stringify(busy));
    assert.ok(busy.failureMeanBusy.median > busy.failureAlone.meanBusy.median && busy.failureMeanBusy.median <= 1, JSON.stringify(busy));
    assert.deepEqual(propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.05)), busy);
  });

  test('a run reports the machine only when it modelled one', () => {
    const base = { gateways: 60, hours: 1, seed: 5, utilisation: 0.3, profile: 'wan' as const };
    const off = runSim(scenarioConfig('steady', base));
    assert.equal('machine' in off, false);
    const on = runSim(scenarioConfig('steady', { ...base, machine: bench(0.05) }));
    assert.deepEqual(on.machine, bench(0.05));
    assert.ok(on.propagation.directory.medianMs > off.propagation.directory.medianMs);
    // Placement and healing do not see the machine.
    assert.deepEqual({ ...on, machine: undefined, propagation: undefined }, { ...off, machine: undefined, propagation: undefined });
  });
});
