// Where the emulated gateways stand and how far apart they are: random
// positions in a plane from a seed, a mesh graph like a community network's
// (each gateway linked to its nearest neighbours, plus a minimum spanning tree
// so the mesh is always connected), hop counts between every pair, and the
// per-pair link matrix those hops imply for a link profile.
// Index i of every array stands for gateway i + 1.
// Must never: do I/O, read the clock or call Math.random.

import { HearthError } from '../model/errors.js';
import type { LinkMatrix } from './link-matrix.js';
import type { LinkProfile } from './profiles.js';
import { createRng } from '../kit/rng.js';

export interface MeshLayoutInit {
  gateways: number;
  seed: number;
  /** Each gateway links to this many nearest neighbours (default 2). */
  neighbours?: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface MeshLayout {
  positions: Point[];
  /** Undirected mesh links as index pairs, lower index first, sorted. */
  edges: Array<[number, number]>;
  /** Fewest mesh links between two gateways; 0 on the diagonal. */
  hops: number[][];
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

// Prim's algorithm on the complete graph: O(n²), fine for the hundreds of
// gateways one machine can run.
function spanningTree(positions: Point[]): Array<[number, number]> {
  const n = positions.length;
  const inTree = new Array<boolean>(n).fill(false);
  const best = new Array<number>(n).fill(Infinity);
  const parent = new Array<number>(n).fill(-1);
  const edges: Array<[number, number]> = [];
  best[0] = 0;
  for (let step = 0; step < n; step++) {
    let u = -1;
    for (let i = 0; i < n; i++) if (!inTree[i] && (u === -1 || (best[i] as number) < (best[u] as number))) u = i;
    inTree[u] = true;
    const p = parent[u] as number;
    if (p >= 0) edges.push([Math.min(p, u), Math.max(p, u)]);
    for (let v = 0; v < n; v++) {
      if (inTree[v]) continue;
      const d = distance(positions[u] as Point, positions[v] as Point);
      if (d < (best[v] as number)) {
        best[v] = d;
        parent[v] = u;
      }
    }
  }
  return edges;
}

function nearestNeighbourEdges(positions: Point[], k: number): Array<[number, number]> {
  const edges: Array<[number, number]> = [];
  positions.forEach((p, i) => {
    const others = positions
      .map((q, j) => ({ j, d: distance(p, q) }))
      .filter(({ j }) => j !== i)
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, k);
    for (const { j } of others) edges.push([Math.min(i, j), Math.max(i, j)]);
  });
  return edges;
}

function hopCounts(n: number, edges: Array<[number, number]>): number[][] {
  const adjacent: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    (adjacent[a] as number[]).push(b);
    (adjacent[b] as number[]).push(a);
  }
  return Array.from({ length: n }, (_, source) => {
    const hops = new Array<number>(n).fill(Infinity);
    hops[source] = 0;
    const queue = [source];
    for (let head = 0; head < queue.length; head++) {
      const u = queue[head] as number;
      for (const v of adjacent[u] as number[]) {
        if (hops[v] === Infinity) {
          hops[v] = (hops[u] as number) + 1;
          queue.push(v);
        }
      }
    }
    return hops;
  });
}

/** Places `gateways` gateways in a square whose area grows with their number, so density stays constant. */
export function layoutMesh(init: MeshLayoutInit): MeshLayout {
  const { gateways: n, seed } = init;
  const k = init.neighbours ?? 2;
  if (!Number.isInteger(n) || n < 1) throw new HearthError('invalid_request', `a mesh needs at least one gateway, not ${n}`);
  if (!Number.isInteger(k) || k < 0) throw new HearthError('invalid_request', `neighbours must be a non-negative integer, not ${k}`);
  const rng = createRng(seed);
  const side = Math.sqrt(n);
  const positions = Array.from({ length: n }, () => ({ x: rng() * side, y: rng() * side }));
  const unique = new Map<string, [number, number]>();
  for (const edge of [...spanningTree(positions), ...nearestNeighbourEdges(positions, k)]) unique.set(`${edge[0]}-${edge[1]}`, edge);
  const edges = [...unique.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { positions, edges, hops: hopCounts(n, edges) };
}

/**
 * The link matrix of a mesh under a profile: delay grows with hops; loss
 * compounds per hop, 1 - (1 - p)^hops; independent per-hop jitter adds in
 * variance, so its span grows with √hops; rate is the profile's.
 */
export function meshLinkMatrix(layout: MeshLayout, profile: LinkProfile): LinkMatrix {
  const per = (f: (hops: number) => number): number[][] => layout.hops.map((row) => row.map((h) => (h === 0 ? 0 : f(h))));
  return {
    delayMs: per((h) => h * profile.perHopDelayMs),
    jitterMs: per((h) => Math.sqrt(h) * profile.perHopJitterMs),
    loss: per((h) => 1 - (1 - profile.perHopLoss) ** h),
    rateBitsPerSecond: per(() => profile.rateBitsPerSecond),
  };
}
