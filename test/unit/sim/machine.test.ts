// The one-machine model: pulls share the cores the idle gateways leave,
// each at most one core; off, nothing of the community model changes; on,
// a burst of pulls can be no faster than its CPU on the free cores, and a
// busier machine is slower.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freeCores, processorSharing, type MachineModel } from '../../../src/sim/machine.js';
import { COMMUNITY_LINK, propagation, SERF_AGENT_EVENTS, WAN_CONFIG } from '../../../src/sim/memberlist.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig } from '../../../src/sim/scenario.js';

const bench = (busy: number, over: Partial<MachineModel> = {}): MachineModel => ({ cores: 2, busy, pullCpuMs: 6.8, lists: 3, ...over });

void describe('one machine', () => {
  test('processor sharing: jobs under way share the cores, each at most one; results in the order given', () => {
    // Alone on two cores, a job still takes its work: one core at most.
    assert.deepEqual(processorSharing([5], 10, 2), [15]);
    // Three at once on two cores: each at 2/3 of a core.
    assert.deepEqual(processorSharing([0, 0, 0], 10, 2), [15, 15, 15]);
    // One core: the first alone for 5 ms, then both at half; the later one finishes alone.
    assert.deepEqual(processorSharing([5, 0], 10, 1), [20, 15]);
    // Work done is never faster than the cores allow, and no job ends before it arrives plus its work.
    const arrivals = Array.from({ length: 99 }, (_, i) => (i * 37) % 500);
    const done = processorSharing(arrivals, 6.8, 1.26);
    assert.ok(Math.max(...done) >= (99 * 6.8) / 1.26 - 1e-9, String(Math.max(...done)));
    done.forEach((d, i) => assert.ok(d >= (arrivals[i] as number) + 6.8 - 1e-9));
    // Free work is done on arrival.
    assert.deepEqual(processorSharing([3, 1, 2], 0, 2), [3, 1, 2]);
  });

  test('free pulls on one list: the community model exactly', () => {
    const off = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    assert.deepEqual(propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.5, { pullCpuMs: 0, lists: 1 })), off);
  });

  test('a burst of pulls waits for its CPU: no faster than the free cores allow, slower when the machine is busier', () => {
    const off = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    const quiet = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.37));
    const busy = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.75));
    // The gossip is the same: only the pulls cost.
    assert.deepEqual(quiet.toAll, off.toAll);
    assert.deepEqual(busy.toAll, off.toAll);
    const work = (3 * 99 * 6.8) / freeCores(bench(0.75));
    assert.ok(busy.directory.medianMs >= work, JSON.stringify({ busy, work }));
    assert.ok(busy.directory.medianMs > quiet.directory.medianMs && quiet.directory.medianMs >= off.directory.medianMs, JSON.stringify({ off, quiet, busy }));
    assert.ok(busy.toOne.medianMs > off.toOne.medianMs, JSON.stringify({ off, busy }));
    assert.deepEqual(propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, bench(0.75)), busy);
  });

  test('a run reports the machine only when it modelled one', () => {
    const base = { gateways: 60, hours: 1, seed: 5, utilisation: 0.3, profile: 'wan' as const };
    const off = runSim(scenarioConfig('steady', base));
    assert.equal('machine' in off, false);
    const on = runSim(scenarioConfig('steady', { ...base, machine: bench(0.75) }));
    assert.deepEqual(on.machine, bench(0.75));
    assert.ok(on.propagation.directory.medianMs > off.propagation.directory.medianMs);
    // Placement and healing do not see the machine.
    assert.deepEqual({ ...on, machine: undefined, propagation: undefined }, { ...off, machine: undefined, propagation: undefined });
  });
});
