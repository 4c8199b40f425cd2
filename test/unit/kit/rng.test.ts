import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/kit/rng.js';

void describe('createRng', () => {
  void test('the same seed gives the same sequence, another seed another', () => {
    const take = (seed: number): number[] => {
      const rng = createRng(seed);
      return Array.from({ length: 5 }, () => rng());
    };
    assert.deepEqual(take(7), take(7));
    assert.notDeepEqual(take(7), take(8));
  });

  void test('values stay in [0, 1) and spread over it', () => {
    const rng = createRng(123);
    const values = Array.from({ length: 10_000 }, () => rng());
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  });
});
