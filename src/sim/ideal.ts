// The yardstick: an omniscient central scheduler run on the same workload,
// churn and seed as the community. It knows every gateway's true load at
// once, puts each sliver on the least-loaded (by dominant share: the larger
// of its cpu and memory fractions) live production gateway that fits it,
// and moves the slivers of a failed gateway at the instant it fails. It keeps
// its own books (shadow loads), so it never disturbs the simulated community.
// Must never: read a clock or Math.random; share load with the community.

import type { ResourceVector } from '../model/resources.js';
import type { Gateway } from './community.js';

export interface IdealScheduler {
  /** N distinct gateways for N slivers of `need`, or undefined when the community cannot take them. */
  place(n: number, need: ResourceVector, avoid: ReadonlySet<number>): number[] | undefined;
  release(gateway: number, need: ResourceVector): void;
  /** A gateway came back up: it can take slivers again. */
  revive(gateway: number): void;
  /** Dominant share of a gateway's contribution the scheduler has used. */
  share(gateway: number): number;
}

interface Entry { share: number; gateway: number; version: number }

export function createIdealScheduler(gateways: readonly Gateway[]): IdealScheduler {
  const used = gateways.map(() => ({ cpu: 0, memoryMb: 0, diskMb: 0, slivers: 0 }));
  const version = gateways.map(() => 0);
  const heap: Entry[] = [];
  const less = (a: Entry, b: Entry): boolean => a.share < b.share || (a.share === b.share && a.gateway < b.gateway);
  const push = (e: Entry): void => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i] as Entry, heap[p] as Entry)) break;
      [heap[i], heap[p]] = [heap[p] as Entry, heap[i] as Entry];
      i = p;
    }
  };
  const pop = (): Entry | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l] as Entry, heap[m] as Entry)) m = l;
      if (r < heap.length && less(heap[r] as Entry, heap[m] as Entry)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as Entry, heap[i] as Entry];
      i = m;
    }
    return top;
  };
  const shareOf = (i: number): number => {
    const c = (gateways[i] as Gateway).contributed;
    const u = used[i] as ResourceVector;
    return Math.max(u.cpu / c.cpu, u.memoryMb / c.memoryMb);
  };
  const enqueue = (i: number): void => {
    version[i] = (version[i] as number) + 1;
    const g = gateways[i] as Gateway;
    if (g.up && g.mode === 'production') push({ share: shareOf(i), gateway: i, version: version[i] as number });
  };
  const fits = (i: number, need: ResourceVector): boolean => {
    const c = (gateways[i] as Gateway).contributed;
    const u = used[i] as ResourceVector;
    return u.cpu + need.cpu <= c.cpu + 1e-9 && u.memoryMb + need.memoryMb <= c.memoryMb && u.diskMb + need.diskMb <= c.diskMb && u.slivers + need.slivers <= c.slivers;
  };
  const add = (i: number, need: ResourceVector, sign: 1 | -1): void => {
    const u = used[i] as ResourceVector;
    used[i] = { cpu: u.cpu + sign * need.cpu, memoryMb: u.memoryMb + sign * need.memoryMb, diskMb: u.diskMb + sign * need.diskMb, slivers: u.slivers + sign * need.slivers };
  };
  for (let i = 0; i < gateways.length; i++) enqueue(i);

  return {
    place(n, need, avoid) {
      const chosen: number[] = [];
      const aside: Entry[] = [];
      while (chosen.length < n) {
        const e = pop();
        if (e === undefined) break;
        const g = gateways[e.gateway] as Gateway;
        // Stale entries (an older version, or a gateway gone down since) are dropped; the current one is in the heap.
        if (e.version !== version[e.gateway] || !g.up) continue;
        if (avoid.has(e.gateway) || !fits(e.gateway, need)) aside.push(e);
        else chosen.push(e.gateway);
      }
      for (const e of aside) push(e);
      if (chosen.length < n) {
        for (const i of chosen) enqueue(i);
        return undefined;
      }
      for (const i of chosen) {
        add(i, need, 1);
        enqueue(i);
      }
      return chosen;
    },
    release(i, need) {
      add(i, need, -1);
      enqueue(i);
    },
    revive(i) {
      enqueue(i);
    },
    share: shareOf,
  };
}
