// Round-trip estimates from Serf's Vivaldi coordinates, as Serf's own
// coordinate.DistanceTo computes them: the Euclidean distance of the
// vectors plus both heights, plus both adjustments when that stays positive.
// Pure.

import type { SerfCoordinate } from './serf-records.js';

/** Estimated round-trip time between two coordinates, in milliseconds. */
export function estimateRttMs(a: SerfCoordinate, b: SerfCoordinate): number {
  if (a.vec.length !== b.vec.length) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < a.vec.length; i++) {
    const d = (a.vec[i] as number) - (b.vec[i] as number);
    sum += d * d;
  }
  const raw = Math.sqrt(sum) + a.height + b.height;
  const adjusted = raw + a.adjustment + b.adjustment;
  return (adjusted > 0 ? adjusted : raw) * 1000;
}
