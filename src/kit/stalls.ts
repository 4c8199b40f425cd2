// Watches the process's event loop: a timer due every `intervalMs` that
// fires more than `reportMs` late means nothing in the process could run for
// that long. Each such stall is reported with what the process did
// meanwhile: the CPU it used (its own work kept the loop), and its context
// switches (involuntary: it was ready and waited for a core; voluntary: it
// was blocked in the kernel, a disk sync for one). At 100 gateways on one
// machine a host's new tags left it seconds late while nothing it logged
// said why.
// Must never: keep the process alive, or cost more than a timer and a
// getrusage a second.

import type { Logger } from '../model/logger.js';

/** What the watch reads at each tick. */
export interface LoopSample {
  /** performance.now() */
  at: number;
  /** User and system CPU, µs. */
  cpuUs: number;
  voluntary: number;
  involuntary: number;
}

export interface Stall {
  /** How late the timer fired. */
  ms: number;
  cpuMs: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
}

/** The stall between two ticks, if the second came more than `reportMs` late. Pure. */
export function stallBetween(before: LoopSample, after: LoopSample, intervalMs: number, reportMs: number): Stall | undefined {
  const late = after.at - before.at - intervalMs;
  if (late < reportMs) return undefined;
  return {
    ms: Math.round(late),
    cpuMs: Math.round((after.cpuUs - before.cpuUs) / 1000),
    voluntarySwitches: after.voluntary - before.voluntary,
    involuntarySwitches: after.involuntary - before.involuntary,
  };
}

function sample(): LoopSample {
  const u = process.resourceUsage();
  return { at: performance.now(), cpuUs: u.userCPUTime + u.systemCPUTime, voluntary: u.voluntaryContextSwitches, involuntary: u.involuntaryContextSwitches };
}

export function watchStalls(log: Logger, opts: { intervalMs?: number; reportMs?: number } = {}): { stop(): void } {
  const intervalMs = opts.intervalMs ?? 1000;
  const reportMs = opts.reportMs ?? 1000;
  let last = sample();
  const timer = setInterval(() => {
    const now = sample();
    const stall = stallBetween(last, now, intervalMs, reportMs);
    last = now;
    if (stall !== undefined) log.warn(stall, 'event loop stalled');
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
