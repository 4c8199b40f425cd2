// The gateway's own recent history for the portal's charts: every
// SAMPLE_INTERVAL_MS, how busy the box is and what its slivers hold, kept in
// a ring of the last hour (memory only: a restart starts a new hour).
// Must never: grow past its ring, or keep the process alive by itself.

import type { ResourceVector } from '../model/resources.js';
import type { Sample, SampleList } from '../model/sample.js';
import { busyBetween, readCpuTimes, type CpuTimes } from '../host/load.js';
import type { Inventory } from '../host/inventory.js';
import { createRounds } from '../kit/rounds.js';
import type { Logger } from '../model/logger.js';

export const SAMPLE_INTERVAL_MS = 10_000;
/** One hour of samples. */
export const SAMPLE_RING = 360;

export interface Samples {
  list(): SampleList;
  /** Take a sample now (start takes one, then one every interval). */
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createSamples(init: {
  inventory: () => Promise<Inventory>;
  reserved: () => ResourceVector;
  running: () => number;
  log: Logger;
  now?: () => Date;
  ring?: number;
}): Samples {
  const ring = init.ring ?? SAMPLE_RING;
  const now = init.now ?? (() => new Date());
  const items: Sample[] = [];
  let cpu: CpuTimes = readCpuTimes();
  const rounds = createRounds({
    intervalMs: SAMPLE_INTERVAL_MS,
    onError: (err) => init.log.warn({ err: String(err) }, 'sampling failed'),
    round: async () => {
      const inv = await init.inventory();
      const next = readCpuTimes();
      const { cpu: rc, memoryMb, diskMb, slivers } = init.reserved();
      items.push({
        at: now().toISOString(),
        cpuBusy: Math.round(busyBetween(cpu, next) * 1000) / 1000,
        memoryUsedMb: inv.memoryMb - inv.memoryFreeMb,
        diskUsedMb: inv.diskMb - inv.diskFreeMb,
        reserved: { cpu: rc, memoryMb, diskMb, slivers },
        running: init.running(),
      });
      cpu = next;
      if (items.length > ring) items.splice(0, items.length - ring);
    },
  });
  return {
    list: () => ({ intervalSec: SAMPLE_INTERVAL_MS / 1000, items: [...items] }),
    tick: () => rounds.tick(),
    start() {
      rounds.start();
      void rounds.tick();
    },
    stop: () => rounds.stop(),
  };
}
