// The sampler of procs.ts's traceCpu, as a process of its own: every
// `--every` ms it prints one JSON line with the summed CPU seconds of each
// `--group NAME=PID,PID,...` (a process that ended keeps its last reading)
// and its own (`tracer`), the machine's busy and total time and its
// runnable threads (lib.ts's machineStat). The bench
// runs it at a high priority (nice -15): in a burst that takes every core,
// the bench's own event loop waits its turn, and a sample every 250 ms came
// once in 1-2 s. It ends when its stdin closes.
// Must never: write anything but the samples to stdout.

import { parseArgs } from 'node:util';
import { machineStat } from './lib.js';
import { cpuSecondsOf } from './procs.js';

const { values } = parseArgs({ options: { every: { type: 'string', default: '100' }, group: { type: 'string', multiple: true, default: [] }, hz: { type: 'string', default: '100' } } });
const everyMs = Number(values.every);
const ticksPerSec = Number(values.hz);
const groups = values.group.map((g) => {
  const [name = '', pids = ''] = g.split('=');
  return { name, pids: pids.split(',').filter((p) => p !== '').map(Number) };
});
const last = new Map<number, number>();

const sample = (): void => {
  const at = Date.now();
  const machine = machineStat();
  const cpuSec: Record<string, number> = {};
  for (const { name, pids } of groups) {
    cpuSec[name] = pids.reduce((sum, pid) => {
      const now = cpuSecondsOf(pid, ticksPerSec) ?? last.get(pid) ?? 0;
      last.set(pid, now);
      return sum + now;
    }, 0);
  }
  // Its own CPU, to tell it apart from the machine's busy time.
  const own = process.cpuUsage();
  cpuSec['tracer'] = (own.user + own.system) / 1e6;
  process.stdout.write(`${JSON.stringify({ at, cpuSec, ...machine })}\n`);
};

sample();
const timer = setInterval(sample, everyMs);
process.stdin.on('end', () => clearInterval(timer));
process.stdin.resume();
