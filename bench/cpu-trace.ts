// The sampler of procs.ts's traceCpu, as a process of its own: every
// `--every` ms it prints one JSON line with the summed CPU seconds of each
// `--group NAME=PID,PID,...` (a process that ended keeps its last reading)
// and its own (`tracer`),
// the machine's busy and total jiffies and its runnable threads. The bench
// runs it at a high priority (nice -15): in a burst that takes every core,
// the bench's own event loop waits its turn, and a sample every 250 ms came
// once in 1-2 s. It ends when its stdin closes.
// Must never: write anything but the samples to stdout.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
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
  const stat = readFileSync('/proc/stat', 'utf8');
  const f = (stat.split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
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
  const running = Number(/^procs_running (\d+)$/m.exec(stat)?.[1]);
  process.stdout.write(`${JSON.stringify({ at, cpuSec, busy: total - (f[3] ?? 0) - (f[4] ?? 0), total, running })}\n`);
};

sample();
const timer = setInterval(sample, everyMs);
process.stdin.on('end', () => clearInterval(timer));
process.stdin.resume();
