// The ideal central scheduler: least loaded first, never two slivers of a
// slice on one gateway, never a down or non-production gateway, all or none.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/kit/rng.js';
import { createGateways, type GatewayMix } from '../../../src/sim/community.js';
import { createIdealScheduler } from '../../../src/sim/ideal.js';

const mix: GatewayMix = { cpu: [[2, 1]], memoryPerCpuMb: [[1024, 1]], diskMb: [[10_000, 1]], slivers: 8, modes: [['production', 1]] };
const need = { cpu: 1, memoryMb: 512, diskMb: 1000, slivers: 1 };

void describe('the ideal scheduler', () => {
  test('puts each sliver on the least-loaded gateway that fits, and refuses what does not fit anywhere', () => {
    const gateways = createGateways(3, mix, createRng(1));
    const ideal = createIdealScheduler(gateways);
    assert.deepEqual(ideal.place(2, need, new Set()), [0, 1]);
    // Gateway 2 is the emptiest now; then 0 (a tie with 1, broken by index).
    assert.deepEqual(ideal.place(2, need, new Set()), [2, 0]);
    assert.equal(ideal.share(0), 1);
    // Two slivers, but only gateways 1 and 2 have a core left, and 1 is to be avoided.
    assert.equal(ideal.place(2, need, new Set([1])), undefined);
    assert.deepEqual(ideal.place(2, need, new Set()), [1, 2]);
    assert.equal(ideal.place(1, need, new Set()), undefined);
    ideal.release(1, need);
    assert.deepEqual(ideal.place(1, need, new Set()), [1]);
  });

  test('leaves out gateways that are down until they come back, and those not in production', () => {
    const gateways = createGateways(3, mix, createRng(1));
    const [first, , third] = gateways;
    assert.ok(first !== undefined && third !== undefined);
    third.mode = 'drain';
    const ideal = createIdealScheduler(gateways);
    first.up = false;
    assert.deepEqual(ideal.place(1, need, new Set()), [1]);
    assert.deepEqual(ideal.place(1, need, new Set()), [1]);
    assert.equal(ideal.place(1, need, new Set()), undefined);
    first.up = true;
    ideal.revive(0);
    assert.deepEqual(ideal.place(1, need, new Set()), [0]);
  });
});
