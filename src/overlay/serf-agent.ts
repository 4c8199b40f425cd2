// Supervises this gateway's own `serf agent` child: writes its config,
// starts it, waits until its RPC answers a handshake, restarts it with
// backoff when it dies, and stops it with a graceful leave (SIGINT) so peers
// see 'left' rather than 'failed'. A child that exits 0 on its own (it left
// through the RPC `leave`) is not restarted.
// Must never: leave a serf process behind — it runs under `setpriv
// --pdeathsig KILL` when available, and is SIGKILLed from a process 'exit'
// hook otherwise; nor join any address it was not given.

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { access, constants, mkdir, open } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { delay } from '../kit/delay.js';
import { realTimers, type Timers } from '../kit/timers.js';
import { HearthError } from '../model/errors.js';
import { buildSerfAgentFiles, type SerfAgentConfigInit } from './serf-agent-config.js';
import { silentLogger, type Logger } from '../model/logger.js';
import { memberNewsIn, parseSerfLogLine, type MemberNews } from './serf-log.js';
import { createSerfRpc } from './serf-rpc.js';

export interface SerfAgentInit extends SerfAgentConfigInit {
  /** Where the JSON config (with the RPC and encrypt keys) is written, mode 0600. */
  configFile: string;
  /** The serf executable; default `serf` from PATH. */
  binary?: string;
  log?: Logger;
  /** Restart backoff after a crash: doubles per consecutive crash. */
  restart?: { initialDelayMs?: number; maxDelayMs?: number };
  /** How long `start` waits for the RPC to answer. */
  startTimeoutMs?: number;
  /** How long `stop` waits for the graceful leave before SIGKILL. */
  stopTimeoutMs?: number;
  /** Run serf under `setpriv --pdeathsig KILL` so it dies even if we are SIGKILLed. Default true when setpriv exists. */
  killOnParentDeath?: boolean;
  timers?: Timers;
}

/**
 * Go's collector lets a heap grow to twice its live size (GOGC=100) before it
 * collects. Serf's live heap is small, so at 100 members on one machine that
 * headroom was a third of its private memory: GOGC=50 takes 2.3 MB off each
 * serf for 12% more of its CPU (bench/serf-gc.ts; BENCHMARKS.md, "Serf's collector"). An owner's
 * own GOGC is kept.
 */
export const SERF_GOGC = '50';

/**
 * Go runs goroutines on as many threads as the machine has cores, and a
 * thread that runs out of work spins a while looking for more before it
 * sleeps. On a box whose cores are busy (the containers it offers, or 100
 * gateways on one machine), each wake-up of serf then makes several threads
 * runnable that mostly spin. At 100 gateways on 2 cores, in the 1.5 s after
 * a member's failure, the serfs took 0.9-1.1 cores with up to 246 threads
 * runnable; on one thread each, 0.6-0.9 with up to 176, and an isolated tag
 * update cost each gateway 7-17 ms instead of 22-28 (BENCHMARKS.md, session
 * 31). Serf's work (a few packets a second, an RPC call now and then) needs
 * no more than one. An owner's own GOMAXPROCS is kept.
 */
export const SERF_GOMAXPROCS = '1';

/** The environment serf runs in: ours, with SERF_GOGC and SERF_GOMAXPROCS unless the owner set GOGC or GOMAXPROCS. */
export function serfEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GOGC: env['GOGC'] ?? SERF_GOGC, GOMAXPROCS: env['GOMAXPROCS'] ?? SERF_GOMAXPROCS };
}

export interface SerfExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type SerfAgentEvents = {
  /** A serf process answers on its RPC port. */
  ready: [pid: number];
  /** The process died unexpectedly and will be started again after `delayMs`; `count` restarts so far. */
  restart: [info: SerfExitInfo & { count: number; delayMs: number }];
  /** The process ended for good (stopped, or left on its own). */
  exit: [info: SerfExitInfo];
  /** Serf printed that it learnt a change of this member (before its agent streams the event). */
  'member-news': [news: MemberNews];
};

export interface SerfAgent {
  readonly events: EventEmitter<SerfAgentEvents>;
  /** pid of the running serf, if any. */
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly rpcAddress: string;
  /** The last lines serf printed (at most 20), oldest first: its last words when it stops. */
  lastOutput(): string[];
  start(opts?: { signal?: AbortSignal }): Promise<void>;
  stop(opts?: { signal?: AbortSignal }): Promise<void>;
}

/** Every serf child of this process, killed if the process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  liveChildren.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Writes through a temp file and rename so serf never reads half a config. */
async function writePrivate(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, { mode: 0o600 });
}

/** Creates `path` with `text` unless it exists; the existing file is the newer truth. */
async function seedPrivate(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function createSerfAgent(init: SerfAgentInit): SerfAgent {
  const files = buildSerfAgentFiles(init);
  const log = init.log ?? silentLogger;
  const timers = init.timers ?? realTimers;
  const initialDelayMs = init.restart?.initialDelayMs ?? 500;
  const maxDelayMs = init.restart?.maxDelayMs ?? 30_000;
  const startTimeoutMs = init.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = init.stopTimeoutMs ?? 15_000;
  const events = new EventEmitter<SerfAgentEvents>();
  /** The last lines serf printed, quoted when it fails to start. */
  const recentOutput: string[] = [];
  let child: ChildProcess | undefined;
  let restarts = 0;
  let crashesInARow = 0;
  let restartTimer: unknown;
  let stableTimer: unknown;
  let running = false;
  /** During `start`, a dying child fails the start instead of being restarted. */
  let starting = false;
  let lifecycle = new AbortController();
  let command: { file: string; args: string[] } | undefined;

  async function prepare(): Promise<{ file: string; args: string[] }> {
    if (files.tagsSeed !== undefined && init.tagsFile !== undefined) {
      await seedPrivate(init.tagsFile, JSON.stringify(files.tagsSeed));
    }
    if (init.keyringFile !== undefined) {
      if (files.keyringSeed !== undefined) await seedPrivate(init.keyringFile, JSON.stringify(files.keyringSeed));
      try {
        await access(init.keyringFile, constants.R_OK);
      } catch {
        throw new HearthError('invalid_request', `keyring file ${init.keyringFile} does not exist and no encrypt key was given to seed it`);
      }
    }
    await writePrivate(init.configFile, JSON.stringify(files.config, null, 2));
    const binary = init.binary ?? 'serf';
    const serfArgs = ['agent', `-config-file=${init.configFile}`];
    const setpriv = init.killOnParentDeath === false ? undefined : await findOnPath('setpriv');
    if (setpriv === undefined) return { file: binary, args: serfArgs };
    return { file: setpriv, args: ['--pdeathsig', 'KILL', '--', binary, ...serfArgs] };
  }

  function pipeOutput(stream: NodeJS.ReadableStream | null, pid: number | undefined): void {
    if (stream === null) return;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const parsed = parseSerfLogLine(line);
      if (parsed === undefined) return;
      recentOutput.push(parsed.text);
      if (recentOutput.length > 20) recentOutput.shift();
      log[parsed.level]({ serfPid: pid, node: init.nodeName }, `serf: ${parsed.text}`);
      const news = memberNewsIn(parsed.text);
      if (news !== undefined) events.emit('member-news', news);
    });
  }

  /** Answers when this serf's RPC accepts our handshake and reports our node name. */
  async function probe(signal: AbortSignal): Promise<boolean> {
    const rpc = createSerfRpc({ address: init.rpcAddress, authKey: init.rpcAuthKey, connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, timers });
    try {
      await rpc.connect({ signal });
      const stats = await rpc.stats({ signal });
      // Another agent may hold the port; only ours has our name.
      return stats['agent']?.['name'] === init.nodeName;
    } catch {
      signal.throwIfAborted();
      return false;
    } finally {
      await rpc.close();
    }
  }

  async function launch(signal: AbortSignal): Promise<void> {
    command ??= await prepare();
    signal.throwIfAborted();
    const proc = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'], env: serfEnv(process.env) });
    track(proc);
    child = proc;
    let exited: SerfExitInfo | undefined;
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
      // A child that could not be spawned may never emit 'exit'.
      if (exited === undefined) onExit(proc, { code: null, signal: null });
    });
    proc.once('exit', (code, sig) => {
      exited = { code, signal: sig };
      onExit(proc, exited);
    });
    pipeOutput(proc.stdout, proc.pid);
    pipeOutput(proc.stderr, proc.pid);

    const deadline = AbortSignal.any([signal, AbortSignal.timeout(startTimeoutMs)]);
    try {
      for (;;) {
        if (spawnError !== undefined) {
          throw new HearthError('overlay_unavailable', `cannot run ${init.binary ?? 'serf'}: ${spawnError.message}`, {}, { cause: spawnError });
        }
        if (exited !== undefined) {
          throw new HearthError('overlay_unavailable', `serf exited (${exited.code ?? exited.signal}) before its RPC answered: ${recentOutput.slice(-5).join(' | ')}`);
        }
        if (await probe(deadline)) break;
        await delay(100, { signal: deadline, timers });
      }
    } catch (err) {
      proc.kill('SIGKILL');
      if (signal.aborted) throw signal.reason;
      if (deadline.aborted) {
        throw new HearthError('overlay_unavailable', `serf's RPC at ${init.rpcAddress} did not answer within ${startTimeoutMs} ms`);
      }
      throw err;
    }
    log.info({ pid: proc.pid, node: init.nodeName, rpc: init.rpcAddress }, 'serf agent ready');
    if (proc.pid !== undefined) events.emit('ready', proc.pid);
    stableTimer = timers.setTimeout(() => {
      crashesInARow = 0;
    }, 60_000);
  }

  function onExit(proc: ChildProcess, info: SerfExitInfo): void {
    liveChildren.delete(proc);
    if (child !== proc) return;
    child = undefined;
    timers.clearTimeout(stableTimer);
    if (starting) return;
    if (!running || info.code === 0) {
      if (running) log.info({ node: init.nodeName }, 'serf agent exited on its own (left the community)');
      running = false;
      events.emit('exit', info);
      return;
    }
    scheduleRestart(info);
  }

  function scheduleRestart(info: SerfExitInfo): void {
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** crashesInARow);
    crashesInARow++;
    restarts++;
    log.warn({ ...info, node: init.nodeName, restarts, delayMs }, 'serf agent died; restarting');
    events.emit('restart', { ...info, count: restarts, delayMs });
    restartTimer = timers.setTimeout(() => {
      restartTimer = undefined;
      if (!running) return;
      // A failed launch kills its child, whose exit schedules the next attempt.
      launch(lifecycle.signal).catch((err: unknown) => {
        if (running) log.error({ err: (err as Error).message, node: init.nodeName }, 'serf agent restart failed');
      });
    }, delayMs);
  }

  function waitExit(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  return {
    events,
    get pid() {
      return child?.pid;
    },
    get restarts() {
      return restarts;
    },
    rpcAddress: init.rpcAddress,
    lastOutput: () => [...recentOutput],

    async start(opts = {}) {
      if (running) return;
      running = true;
      starting = true;
      lifecycle = new AbortController();
      try {
        await launch(opts.signal === undefined ? lifecycle.signal : AbortSignal.any([opts.signal, lifecycle.signal]));
      } catch (err) {
        running = false;
        const proc = child;
        if (proc !== undefined) await waitExit(proc);
        child = undefined;
        throw err;
      } finally {
        starting = false;
      }
    },

    async stop(opts = {}) {
      running = false;
      lifecycle.abort(new HearthError('internal', 'serf agent stopped'));
      timers.clearTimeout(restartTimer);
      timers.clearTimeout(stableTimer);
      restartTimer = undefined;
      const proc = child;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = waitExit(proc);
      // SIGINT is serf's graceful leave (skip_leave_on_interrupt is false in our config).
      proc.kill('SIGINT');
      const { signal } = opts;
      const forced = new Promise<'timeout' | 'aborted'>((resolve) => {
        const handle = timers.setTimeout(() => resolve('timeout'), stopTimeoutMs);
        void exited.then(() => timers.clearTimeout(handle));
        if (signal?.aborted === true) resolve('aborted');
        signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      });
      const outcome = await Promise.race([exited.then(() => 'exited' as const), forced]);
      if (outcome !== 'exited') {
        log.warn({ node: init.nodeName, outcome }, 'serf did not leave in time; killing it');
        proc.kill('SIGKILL');
        await exited;
      }
      if (outcome === 'aborted') throw signal?.reason;
    },
  };
}
