// Finding and ending the testbed's own processes through /proc. A pid in the
// state file may have been reused by the time someone runs `down` or `kill`,
// so a pid is only ever signalled after its command line shows it is ours.
// Must never: signal a pid whose command line does not carry the marker the
// testbed gave it.

import { readdirSync, readFileSync } from 'node:fs';
import { delay } from '../kit/delay.js';

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The command line of `pid`, or undefined once it is gone or a zombie. A
 * process in the middle of execve (nsenter → unshare → sh → node, as every
 * testbed agent starts) or of its exit shows an empty command line for a
 * moment; taking that for "not ours" made a starting agent look dead. So an
 * empty one is read again, a millisecond apart, until the process shows its
 * new program or turns out to be gone.
 */
function commandLine(pid: number): string[] | undefined {
  for (let attempt = 0; attempt < 200; attempt++) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return undefined;
    }
    if (text !== '') return text.split('\0').filter((arg) => arg !== '');
    if (!isRunning(pid)) return undefined;
    Atomics.wait(pause, 0, 0, 1);
  }
  return undefined;
}

/** True while `pid` runs a command that has `marker` as one of its arguments. */
export function isOurProcess(pid: number | null, marker: string): pid is number {
  if (pid === null) return false;
  return commandLine(pid)?.includes(marker) ?? false;
}


/** The kernel's state letter (R, S, D, Z…) of thread `tid` of `pid` (its main thread unless given), or undefined once it is gone. */
function threadState(pid: number, tid: number | string = pid): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** True while `pid` runs: it exists and is not a zombie waiting for its parent to reap it. */
export function isRunning(pid: number): boolean {
  const state = threadState(pid);
  return state !== undefined && state !== 'Z';
}

/**
 * What the kernel says the process `pid` is doing: each thread's state and
 * where it waits, counted, and the main thread's kernel stack when it is
 * blocked in the kernel (D): enough to tell a busy or stuck process from one
 * that waits on its event loop.
 */
export function processState(pid: number): string {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return `pid ${pid} is gone`;
  }
  const threads = new Map<string, number>();
  for (const tid of tids) {
    const key = `${threadState(pid, tid) ?? '?'} ${read(`/proc/${pid}/task/${tid}/wchan`) || '-'}`;
    threads.set(key, (threads.get(key) ?? 0) + 1);
  }
  const main = threadState(pid);
  const counted = [...threads].map(([key, n]) => `${n}× ${key}`).join(', ');
  const stack = main === 'D' ? `; main thread's kernel stack: ${(read(`/proc/${pid}/stack`) ?? '?').split('\n').slice(0, 6).join(' < ')}` : '';
  return `pid ${pid}: main thread ${main ?? '?'}; threads (state, wait): ${counted}${stack}`;
}

/** The kernel's name for `pid` (its comm), or undefined once it is gone. */
export function commandName(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined;
  }
}

/** Pids of the live children of `pid` whose command name (comm) is `name`. */
export function childrenNamed(pid: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid && comm === name) found.push(Number(entry));
  }
  return found;
}

/** Waits up to `timeoutMs` until `isAlive()` is false; returns whether it is gone. */
export async function waitUntilGone(isAlive: () => boolean, timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (isAlive()) {
    if (performance.now() > deadline) return false;
    await delay(50, options);
  }
  return true;
}

/** Sends `signal` to `pid` if it still runs our command; a pid that is already gone is fine. */
export function signalOurProcess(pid: number | null, marker: string, signal: NodeJS.Signals): boolean {
  if (!isOurProcess(pid, marker)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
