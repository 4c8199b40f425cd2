// The sweeps: a small plan gives every table and plot, one CSV row per run
// (or sample), the same files from the same seed; and messages per
// placement do not grow with the community.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSweep, type SweepPlan } from '../../../src/sim/sweep.js';

const tiny: SweepPlan = {
  seed: 4,
  utilisation: { gateways: 80, hours: 1, targets: [0.2, 0.5, 0.8] },
  sizes: { utilisation: 0.5, hours: 1, gateways: [50, 400] },
  belowN: { gateways: 80, hours: 2, utilisation: 0.5, sampleEveryMs: 300_000 },
  partition: { gateways: 80, hours: 1, utilisations: [0.3] },
  loss: { gateways: 80, hours: 1, utilisation: 0.3, losses: [0.01, 0.1] },
};

void describe('the sweep', () => {
  const files = runSweep(tiny);
  const byName = new Map(files.map((f) => [f.name, f.text]));
  const rows = (name: string): string[][] => (byName.get(name) ?? '').trim().split('\n').slice(1).map((l) => l.split(','));

  test('writes each table and plot, a row per run', () => {
    assert.deepEqual([...byName.keys()].sort(), [
      'below-n.csv', 'below-n.svg', 'partition-summary.csv', 'partition.csv', 'partition.svg', 'size-heal.svg', 'size-messages.svg', 'size.csv',
      'suspicions.csv', 'suspicions.svg', 'utilisation-imbalance.svg', 'utilisation-messages.svg', 'utilisation-success.svg', 'utilisation.csv',
    ]);
    assert.deepEqual(rows('utilisation.csv').map((r) => r[0]), ['0.2', '0.5', '0.8']);
    assert.deepEqual(rows('size.csv').map((r) => r[0]), ['50', '400']);
    // A sample every 5 minutes over 2 hours.
    assert.equal(rows('below-n.csv').length, 24);
    assert.equal(rows('suspicions.csv').length, 2);
    for (const [name, text] of byName) {
      if (name.endsWith('.svg')) assert.ok(text.startsWith('<svg') && text.includes('<polyline'), name);
    }
  });

  test('the same seed gives the same files', () => {
    assert.deepEqual(runSweep(tiny), files);
  });

  test('messages per placement stay about 3 + 6 per sliver (homes, reserve, commit, read-back, registrations), whatever the size', () => {
    const perPlacement = rows('size.csv').map((r) => Number(r[3]));
    assert.equal(perPlacement.length, 2);
    // 3 + 6n for slices of 1..5 slivers: 9..33; the tiny runs place few slices (11 at 50 gateways), so their mean size varies.
    for (const m of perPlacement) assert.ok(m >= 9 && m <= 33, String(perPlacement));
    // A cost that grew with the community (asking every member) would be 8 times more at 400 than at 50.
    const [small, large] = perPlacement as [number, number];
    assert.ok(large / small < 1.5, String(perPlacement));
  });
});
