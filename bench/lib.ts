// Small helpers the benches share: statistics, progress lines, the agents'
// own log lines (pino JSON, one clock for every gateway of a testbed) and
// databases (read-only), a process run in a gateway's namespace with an open
// stdin, where the machine's CPU goes, and a line describing the machine.
// Must never: act on a testbed; the benches do that through src/testbed.

import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { gatewayEnv, type GatewayHandle } from '../src/testbed/gateway-process.js';
import { enterArgs } from '../src/testbed/netns.js';
import type { TestbedState } from '../src/testbed/state.js';

const run = promisify(execFile);

/** The median; NaN for an empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The median and the largest of the values given (nulls are runs without one), formatted; n is how many there were. */
export function medianMax(values: readonly (number | null)[], format: (x: number) => string = sec): { median: string; max: string; n: number } {
  const v = values.filter((x): x is number => x !== null);
  return { median: v.length === 0 ? '–' : format(median(v)), max: v.length === 0 ? '–' : format(Math.max(...v)), n: v.length };
}

/** Milliseconds as seconds with two decimals; – for none. */
export const sec = (ms: number | undefined | null): string => (ms === undefined || ms === null || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);

/** A progress line on stderr, stamped with the time of day (UTC). */
export function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
}

/** Polls `probe` every `everyMs` until it returns something; undefined after `timeoutMs`. */
export async function until<T>(timeoutMs: number, everyMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** One line of an agent's log: its time (ms since the epoch), message and fields. */
export interface LogLine {
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

/** The lines of `<dataDir>/agent.log` whose message is one of `messages` (all lines when none is given). */
export function logLines(dataDir: string, messages?: readonly string[]): LogLine[] {
  let text: string;
  try {
    text = readFileSync(`${dataDir}/agent.log`, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((raw) => parseLogLine(raw, messages) ?? []);
}

/** One line of an agent's log, when it is JSON and its message starts with one of `messages` (any, without). */
export function parseLogLine(raw: string, messages?: readonly string[]): LogLine | undefined {
  // The cheap test first: most lines are not wanted.
  if (messages !== undefined && !messages.some((m) => raw.includes(`"msg":"${m}`))) return undefined;
  try {
    const j = JSON.parse(raw) as { time: string; msg: string };
    if (messages !== undefined && !messages.some((m) => j.msg.startsWith(m))) return undefined;
    return { at: Date.parse(j.time), msg: j.msg, fields: j as unknown as Record<string, unknown> };
  } catch {
    // a line cut by a kill, or not JSON
    return undefined;
  }
}

export interface StateLine {
  at: number;
  member: string;
  status: string;
}

/** The membership's "member state" lines: one per change of a member's status as this gateway saw it. */
export function memberLines(dataDir: string): StateLine[] {
  return logLines(dataDir, ['member state']).map((l) => ({ at: l.at, member: String(l.fields['member']), status: String(l.fields['status']) }));
}

/** The time of the first log line with message `msg`, if any. */
export function firstLogTime(dataDir: string, msg: string): number | undefined {
  return logLines(dataDir, [msg]).find((l) => l.msg === msg)?.at;
}

/**
 * Spawns `argv` in the gateway's namespace (HEARTH_DATA_DIR set, `env`
 * added), stdin open for the caller to write to.
 */
export function spawnInGateway(gateway: GatewayHandle, argv: readonly string[], env: Record<string, string> = {}): ChildProcessByStdio<Writable, Readable, Readable> {
  const [command, ...args] = [...enterArgs(gateway.namespace), ...argv];
  return spawn(command as string, args, { env: { ...gatewayEnv(gateway), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

async function version(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args)).stdout.trim().split('\n')[0] ?? '?';
  } catch {
    return '?';
  }
}

/** One line: cores, CPU model, memory, kernel, Node, LXC and Serf versions. */
export async function machineLine(): Promise<string> {
  const kernel = await version('uname', ['-r']);
  const lxc = await version('lxc-create', ['--version']);
  const serf = (await version('serf', ['version'])).replace(/^Serf\s+/i, '');
  return `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, kernel ${kernel}, Node ${process.version}, LXC ${lxc}, serf ${serf}`;
}

/** Reads a gateway's database beside its agent (WAL lets us), read-only; undefined when it cannot be read now. */
export function withDb<T>(gateway: { dataDir: string }, read: (db: Database.Database) => T): T | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(`${gateway.dataDir}/hearth.db`, { readonly: true, fileMustExist: true, timeout: 1000 });
    return read(db);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** utime + stime of `pid` in clock ticks (100 a second); 0 when it is gone. */
export function ticksOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The wireguard-go processes in this testbed's gateway namespaces (matched by their network namespace), read-only. */
function ourWireguards(state: TestbedState): number[] {
  const inodes = new Set<number>();
  for (const m of state.members) {
    try {
      inodes.add(statSync(`/var/run/netns/${m.namespace}`).ino);
    } catch {
      // a namespace being made or removed
    }
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'wireguard-go') continue;
      if (inodes.has(statSync(`/proc/${entry}/ns/net`).ino)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The machine's CPU time so far from /proc/stat (all cores, in USER_HZ ticks): busy (not idle nor waiting on I/O) and in all; and the threads runnable now (`procs_running`, the reader included). */
export function machineStat(): { busy: number; total: number; running: number } {
  const stat = readFileSync('/proc/stat', 'utf8');
  const cpu = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((x, y) => x + y, 0);
  return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total, running: Number(/^procs_running (\d+)$/m.exec(stat)?.[1]) };
}

/** `at` is Date.now(), the clock the agents' logs and the slivers' `date` read. */
export interface CpuSnapshot { at: number; emulator: number; wireguard: number; busy: number; all: number }

/** What the machine, the testbed's link emulator and its wireguard-go processes have used so far (read-only). */
export function cpuSnapshot(state: TestbedState): CpuSnapshot {
  const { busy, total } = machineStat();
  return {
    at: Date.now(),
    emulator: state.emulator.pid === null ? 0 : ticksOf(state.emulator.pid),
    wireguard: ourWireguards(state).reduce((x, pid) => x + ticksOf(pid), 0),
    busy,
    all: total,
  };
}

/** Cores used between two snapshots by the link emulator and our wireguard-go processes, and the machine's busy share. */
export interface CpuUse { emulatorCores: number; wireguardCores: number; machineBusy: number }
export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const sec = (b.at - a.at) / 1000;
  return { emulatorCores: (b.emulator - a.emulator) / 100 / sec, wireguardCores: (b.wireguard - a.wireguard) / 100 / sec, machineBusy: (b.busy - a.busy) / Math.max(1, b.all - a.all) };
}

/** How many sliver rows of the slice the gateways' databases hold; undefined when one could not be read. */
export function sliversLeft(members: readonly { dataDir: string }[], slice: string): number | undefined {
  let n = 0;
  for (const m of members) {
    const c = withDb(m, (db) => (db.prepare('SELECT count(*) AS n FROM slivers WHERE slice = ?').get(slice) as { n: number }).n);
    if (c === undefined) return undefined;
    n += c;
  }
  return n;
}
