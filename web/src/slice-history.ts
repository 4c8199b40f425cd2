// A slice's healing history as this gateway knows it: the slice.sliver-moved
// events of its log (each holder of a slice logs every index a newer
// placement moves, src/slivers/hosting.ts) that the stream has brought the
// page. A gateway that holds none of the slice's slivers knows none.

import type { HearthEvent } from './types.js';

export interface SliverMove {
  seq: number;
  at: string;
  /** The placement version that moved it. */
  version: number;
  index: number;
  from: string;
  to: string;
}

/** The moves of `user`'s slice `slice` among `events`, oldest first. */
export function movesOf(events: readonly HearthEvent[], slice: string, user: string): SliverMove[] {
  return events.flatMap((e) => {
    const { slice: s, user: u, version, index, from, to } = e.detail;
    if (e.type !== 'slice.sliver-moved' || s !== slice || u !== user) return [];
    if (typeof version !== 'number' || typeof index !== 'number' || typeof from !== 'string' || typeof to !== 'string') return [];
    return [{ seq: e.seq, at: e.at, version, index, from, to }];
  });
}
