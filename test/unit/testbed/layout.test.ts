import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutMesh, meshLinkMatrix } from '../../../src/testbed/layout.js';
import type { MeshLayout } from '../../../src/testbed/layout.js';
import { LINK_PROFILES } from '../../../src/testbed/profiles.js';

function distance(layout: MeshLayout, a: number, b: number): number {
  const p = layout.positions[a]!;
  const q = layout.positions[b]!;
  return Math.hypot(p.x - q.x, p.y - q.y);
}

void describe('layoutMesh', () => {
  void test('every gateway reaches every other, for many seeds and sizes', () => {
    for (const gateways of [1, 2, 3, 7, 20, 60]) {
      for (let seed = 0; seed < 10; seed++) {
        const layout = layoutMesh({ gateways, seed, neighbours: 1 });
        assert.equal(layout.hops.length, gateways);
        for (const row of layout.hops) assert.ok(row.every(Number.isFinite), `gateways ${gateways} seed ${seed}`);
      }
    }
  });

  void test('hops are symmetric, zero only on the diagonal, and one along each mesh link', () => {
    const layout = layoutMesh({ gateways: 25, seed: 3 });
    layout.hops.forEach((row, i) =>
      row.forEach((h, j) => {
        assert.equal(h, layout.hops[j]![i]);
        assert.equal(h === 0, i === j);
      }),
    );
    for (const [a, b] of layout.edges) assert.equal(layout.hops[a]![b], 1);
  });

  void test('the same seed gives the same mesh; another seed another', () => {
    assert.deepEqual(layoutMesh({ gateways: 15, seed: 42 }), layoutMesh({ gateways: 15, seed: 42 }));
    assert.notDeepEqual(layoutMesh({ gateways: 15, seed: 42 }).positions, layoutMesh({ gateways: 15, seed: 43 }).positions);
  });

  void test('far gateways are more hops apart than near ones', () => {
    const layout = layoutMesh({ gateways: 40, seed: 9 });
    const pairs: Array<{ d: number; h: number }> = [];
    for (let a = 0; a < 40; a++) for (let b = a + 1; b < 40; b++) pairs.push({ d: distance(layout, a, b), h: layout.hops[a]![b]! });
    pairs.sort((x, y) => x.d - y.d);
    const quarter = Math.floor(pairs.length / 4);
    const mean = (xs: Array<{ h: number }>): number => xs.reduce((s, x) => s + x.h, 0) / xs.length;
    const near = mean(pairs.slice(0, quarter));
    const far = mean(pairs.slice(-quarter));
    assert.ok(far > 2 * near, `near ${near} far ${far}`);
  });
});

void describe('meshLinkMatrix', () => {
  void test('delay is hops × per-hop delay, so it grows with distance in the mesh', () => {
    const layout = layoutMesh({ gateways: 12, seed: 5 });
    const links = meshLinkMatrix(layout, LINK_PROFILES.wifi);
    layout.hops.forEach((row, i) => row.forEach((h, j) => assert.equal(links.delayMs[i]![j], h * 5)));
  });

  void test('loss compounds per hop and rate is the profile rate', () => {
    const layout = layoutMesh({ gateways: 12, seed: 5 });
    const links = meshLinkMatrix(layout, LINK_PROFILES.poor);
    for (let i = 0; i < 12; i++) {
      for (let j = 0; j < 12; j++) {
        if (i === j) continue;
        const h = layout.hops[i]![j]!;
        assert.ok(Math.abs(links.loss[i]![j]! - (1 - 0.95 ** h)) < 1e-12);
        assert.equal(links.rateBitsPerSecond[i]![j], 4_000_000);
        assert.equal(links.delayMs[i]![j], links.delayMs[j]![i]);
      }
    }
  });

  void test('a lan mesh loses nothing', () => {
    const links = meshLinkMatrix(layoutMesh({ gateways: 8, seed: 1 }), LINK_PROFILES.lan);
    assert.ok(links.loss.flat().every((p) => p === 0));
  });
});
