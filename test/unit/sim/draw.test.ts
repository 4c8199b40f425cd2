// The simulator's draws: Weibull samples average to the mean the workload's
// rate is computed from, and quantiles are by nearest rank.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/kit/rng.js';
import { exponential, quantile, weibull, weibullMean } from '../../../src/sim/draw.js';

void describe('draws', () => {
  test('Weibull samples average to weibullMean, heavy tail or not', () => {
    for (const w of [{ shape: 0.6, scale: 12 }, { shape: 1, scale: 3 }, { shape: 2, scale: 5 }]) {
      const rng = createRng(11);
      let sum = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) sum += weibull(rng, w);
      const mean = weibullMean(w);
      assert.ok(Math.abs(sum / n - mean) / mean < 0.02, `shape ${w.shape}: ${sum / n} vs ${mean}`);
    }
    // Shape 1 is the exponential.
    assert.ok(Math.abs(weibullMean({ shape: 1, scale: 3 }) - 3) < 1e-9);
    const rng = createRng(2);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) sum += exponential(rng, 4);
    assert.ok(Math.abs(sum / 100_000 - 4) < 0.1);
  });

  test('quantile by nearest rank', () => {
    assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
    assert.equal(quantile([5, 1, 4, 2, 3], 0.95), 5);
    assert.equal(quantile([7], 0), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });
});
