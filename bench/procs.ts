// What the benches read from /proc and from the agents' log files: the
// serf child of an agent, a process's private (USS) and proportional (PSS)
// memory, and a log read a little at a time, so that following a hundred
// logs costs only what they grew by.
// Must never: signal a process; the bench does that for its own children.

import { execFileSync, spawn } from 'node:child_process';
import { openSync, readdirSync, readFileSync, readSync, closeSync, fstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLogLine, type LogLine } from './lib.js';

/** Kilobytes from /proc/PID/smaps_rollup: USS = Private_Clean + Private_Dirty; PSS; RSS. Undefined when the process is gone. */
export function memoryKb(pid: number): { uss: number; pss: number; rss: number } | undefined {
  let rollup: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  return { uss: field('Private_Clean') + field('Private_Dirty'), pss: field('Pss'), rss: field('Rss') };
}

/** Pids of the `serf` processes whose parent is one of `parents`, by parent. */
export function serfChildren(parents: ReadonlySet<number>): Map<number, number> {
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(serf)')) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parents.has(ppid)) found.set(ppid, Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Pids of processes whose command line mentions `text` (the bench's temp dir: serfs its agents left). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A log file read from where the last read stopped; keeps the lines whose message starts with one of `messages`. */
export interface LogFollower {
  /** Reads what was appended since the last call; returns the new kept lines. */
  read(): LogLine[];
  /** Every kept line so far. */
  readonly lines: LogLine[];
}

export function followLog(path: string, messages: readonly string[]): LogFollower {
  let offset = 0;
  let partial = '';
  const lines: LogLine[] = [];
  return {
    lines,
    read() {
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch {
        return [];
      }
      const fresh: LogLine[] = [];
      try {
        const size = fstatSync(fd).size;
        if (size <= offset) return [];
        const buf = Buffer.alloc(size - offset);
        const got = readSync(fd, buf, 0, buf.length, offset);
        offset += got;
        const text = partial + buf.subarray(0, got).toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        fresh.push(...parts.flatMap((raw) => parseLogLine(raw, messages) ?? []));
      } finally {
        closeSync(fd);
      }
      lines.push(...fresh);
      return fresh;
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat; undefined once it is gone. */
export function cpuSecondsOf(pid: number, ticksPerSec: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime, the stat file's 14th and 15th fields, 12th and 13th after the command's name.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSec;
  } catch {
    return undefined;
  }
}

/** The CPU of groups of processes and of the whole machine over a window of a traceCpu: cores per group (and the tracer's own, `tracer`), the machine's busy share, runnable threads. */
export interface CpuWindow { cores: Record<string, number>; machineBusyPercent: number; runnable: number; samples: number }

/**
 * Samples the summed CPU of each group of `groups` (their pids fixed at the
 * start: a process that ends keeps its last reading), the machine's busy and
 * total time and its runnable threads, every `everyMs` until stopped, in a
 * process of its own at nice -15 (bench/cpu-trace.ts): in the bench's own
 * event loop, a burst that takes every core spaced 250 ms samples 1-2 s
 * apart. `over` is a window's CPU from its first to its last sample. One
 * read of /proc/stat and of each process's stat file a sample: at 200
 * processes and 100 ms, about 5% of a core.
 */
export function traceCpu(groups: Record<string, readonly number[]>, everyMs = 100): { stop(): void; over(fromMs: number, toMs: number): CpuWindow | undefined } {
  const hz = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
  const args = [fileURLToPath(new URL('./cpu-trace.js', import.meta.url)), '--every', String(everyMs), '--hz', hz,
    ...Object.entries(groups).flatMap(([name, pids]) => ['--group', `${name}=${pids.join(',')}`])];
  const child = spawn('nice', ['-n', '-15', process.execPath, ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
  const samples: { at: number; cpuSec: Record<string, number>; busy: number; total: number; running: number }[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '') samples.push(JSON.parse(line) as (typeof samples)[number]);
  });
  child.unref();
  return {
    stop: () => void child.stdin.end(),
    over(fromMs, toMs) {
      const within = samples.filter((s) => s.at >= fromMs && s.at <= toMs);
      const first = within[0];
      const end = within[within.length - 1];
      if (first === undefined || end === undefined || end === first) return undefined;
      const secs = (end.at - first.at) / 1000;
      const cores = Object.fromEntries([...Object.keys(groups), 'tracer'].map((g) => [g, Math.round((((end.cpuSec[g] ?? 0) - (first.cpuSec[g] ?? 0)) / secs) * 100) / 100]));
      return {
        cores, machineBusyPercent: Math.round(((end.busy - first.busy) / Math.max(1, end.total - first.total)) * 1000) / 10,
        runnable: Math.round((within.reduce((n, s) => n + s.running, 0) / within.length) * 10) / 10, samples: within.length,
      };
    },
  };
}

/**
 * Samples how much CPU each of `pids` uses, every `everyMs` until stopped;
 * `shareOver` is the CPU a process used over a window (its first and last
 * samples within it) as a share of a core, when the window held samples
 * a second apart.
 */
export function sampleCpu(pids: readonly number[], everyMs = 100): { stop(): void; shareOver(pid: number, fromMs: number, toMs: number): number | undefined } {
  const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const samples = new Map<number, { at: number; cpuSec: number }[]>(pids.map((pid) => [pid, []]));
  const read = (): void => {
    const at = Date.now();
    for (const [pid, of] of samples) {
      const cpuSec = cpuSecondsOf(pid, ticksPerSec);
      if (cpuSec !== undefined) of.push({ at, cpuSec });
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    shareOver(pid, fromMs, toMs) {
      const within = (samples.get(pid) ?? []).filter((s) => s.at >= fromMs && s.at <= toMs);
      const first = within[0];
      const last = within[within.length - 1];
      if (first === undefined || last === undefined || last.at - first.at < 1000) return undefined;
      return Math.round(((last.cpuSec - first.cpuSec) / ((last.at - first.at) / 1000)) * 1000) / 1000;
    },
  };
}
