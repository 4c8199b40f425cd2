// How busy this box's processors were between two readings, from the
// kernel's per-core counters (os.cpus()), as a fraction of all its cores.

import { cpus } from 'node:os';

export interface CpuTimes {
  busy: number;
  total: number;
}

export function readCpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** The busy fraction (0..1) between two readings; 0 when no time passed. */
export function busyBetween(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total <= 0 ? 0 : Math.min(1, Math.max(0, (after.busy - before.busy) / total));
}
