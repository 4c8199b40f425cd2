// Vivaldi distance as Serf computes it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateRttMs } from '../../../src/overlay/vivaldi.js';

const at = (vec: number[], height = 0, adjustment = 0) => ({ vec, height, adjustment, error: 0.1 });

test('distance is the vector distance plus heights, in ms', () => {
  assert.equal(estimateRttMs(at([0, 0]), at([0.003, 0.004])), 5);
  assert.equal(estimateRttMs(at([0, 0], 0.001), at([0.003, 0.004], 0.002)), 8);
});

test('adjustments apply only while the result stays positive', () => {
  assert.equal(estimateRttMs(at([0], 0, 0.001), at([0.002], 0, 0.001)), 4);
  assert.equal(estimateRttMs(at([0], 0, -0.01), at([0.002], 0, 0)), 2);
});

test('mismatched dimensions give NaN, not a made-up figure', () => {
  assert.ok(Number.isNaN(estimateRttMs(at([0, 0]), at([0]))));
});
