// A few cores shared by many single-threaded processes (processor sharing):
// the one-machine model's picture of bench/scale.ts, where 100 agents and
// their Serfs run on 2 cores. At any moment the cores left over by the
// background are split evenly among the processes that have work, none
// getting more than one core; and a process's share is split evenly among
// its jobs under way: one event loop interleaves its tasks a callback at a
// time (a pull's TLS handshake between a view update's Serf calls), it does
// not finish one before it starts the next. A job that ends may submit more
// (a pull's request reaching its host, a heal's news reaching the others).
// Pure. Must never: read a clock or Math.random.

import { createDeadlineQueue } from '../kit/deadline-queue.js';

export interface SharedCores {
  /** Starts `cpuMs` of work on `process` at `at` (not before the present); `then` runs at its end. */
  submit(process: number, at: number, cpuMs: number, then?: (doneAt: number) => void): void;
  /** Runs every job, and every job those submit, to its end; returns the time the last one ended. */
  run(): number;
  /** After run(): the cores in use on average from `fromMs` to `toMs`, the background's included. */
  busyCores(fromMs: number, toMs: number): number;
}

interface Job { cpuMs: number; then: ((doneAt: number) => void) | undefined }

/** `cores` shared by the processes, `backgroundCores` of them always taken by work not modelled as jobs. */
export function createSharedCores(cores: number, backgroundCores = 0): SharedCores {
  const capacity = cores - backgroundCores;
  if (!(capacity > 0)) throw new RangeError(`the background (${backgroundCores}) leaves nothing of ${cores} cores`);
  const arrivals = createDeadlineQueue<{ process: number; job: Job }>();
  /** Each process's jobs under way, with the CPU each has left. */
  const running = new Map<number, Job[]>();
  let now = 0;
  /** The jobs' cores in use, in spans of time: [from, to, cores]. */
  const used: [number, number, number][] = [];

  const submit = (process: number, at: number, cpuMs: number, then?: (doneAt: number) => void): void => {
    arrivals.push(Math.max(at, now), { process, job: { cpuMs: Math.max(0, cpuMs), then } });
  };

  const run = (): number => {
    for (;;) {
      const busy = [...running.values()].filter((jobs) => jobs.length > 0);
      const processRate = busy.length === 0 ? 0 : Math.min(1, capacity / busy.length);
      // The next job to end: the least work left per unit of its rate (its process's share over its jobs).
      let nextEnd = Number.POSITIVE_INFINITY;
      for (const jobs of busy) for (const j of jobs) nextEnd = Math.min(nextEnd, now + (j.cpuMs * jobs.length) / processRate);
      const until = Math.min(nextEnd, arrivals.nextDeadline() ?? Number.POSITIVE_INFINITY);
      if (until === Number.POSITIVE_INFINITY) return now;
      const ended: Job[] = [];
      for (const jobs of busy) {
        const done = ((until - now) * processRate) / jobs.length;
        let kept = 0;
        for (const j of jobs) {
          j.cpuMs -= done;
          if (j.cpuMs > 1e-9) jobs[kept++] = j;
          else ended.push(j);
        }
        jobs.length = kept;
      }
      if (busy.length > 0) used.push([now, until, busy.length * processRate]);
      now = until;
      // Ends first (their follow-ups may arrive now), then the arrivals due.
      for (const j of ended) j.then?.(now);
      for (const { process, job } of arrivals.popDue(now)) {
        const jobs = running.get(process);
        if (jobs === undefined) running.set(process, [job]);
        else jobs.push(job);
      }
    }
  };

  const busyCores = (fromMs: number, toMs: number): number => {
    if (!(toMs > fromMs)) throw new RangeError(`an empty window (${fromMs} to ${toMs})`);
    let sum = 0;
    for (const [from, to, inUse] of used) sum += Math.max(0, Math.min(to, toMs) - Math.max(from, fromMs)) * inUse;
    return backgroundCores + sum / (toMs - fromMs);
  };

  return { submit, run, busyCores };
}
