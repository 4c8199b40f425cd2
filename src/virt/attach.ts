// Runs commands in a running container with lxc-attach: to completion with
// bounded output (`runAttached`) or as a live session (`openAttached`). A TTY
// comes from util-linux `script`, which gives lxc-attach a host pseudo-terminal
// so that lxc-attach in turn opens one inside the container.
// Must never: build a shell string from unquoted input, or leave a command
// running in the container after its caller aborted or killed it.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { delay } from '../kit/delay.js';
import { HearthError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import type { ExecOptions, ExecResult, ExecSession } from './driver.js';
import { descendantsOf, killTree } from './proc-tree.js';
import { lxcCommand, signalNumber, spawnLxc, toolEnv } from './runner.js';

/** Bytes kept of stdout and of stderr each when the caller sets no bound. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const DEFAULT_COLS = 80;
const INSIDE_POLL_MS = 20;
const INSIDE_POLLS = 500;
const DEFAULT_ROWS = 24;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// lxc-attach's own words when it cannot enter the container or start the
// command there (no init, pids limit reached); a command that could not be
// executed is reported by the command's exit code (127), not by these.
const ATTACH_FAILED_RE = /lxc-attach: [^:\n]+: \S*attach\.c: (lxc_attach|get_attach_context): /;

export interface AttachTarget {
  lxcPath: string;
  name: string;
}

export interface AttachOptions {
  tty: boolean;
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
}

export function attachArgs(target: AttachTarget, argv: readonly string[], env: Record<string, string>): string[] {
  if (argv.length === 0) throw new HearthError('invalid_request', 'the command is empty');
  const args = ['-P', target.lxcPath, '-n', target.name, '--clear-env'];
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_KEY_RE.test(key)) throw new HearthError('invalid_request', `environment variable name ${JSON.stringify(key)} is not valid`);
    args.push('--set-var', `${key}=${value}`);
  }
  return [...args, '--', ...argv];
}

/** POSIX single-quoting: the result is one word for any input. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function checkSize(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new HearthError('invalid_request', `${what} must be a whole number from 1 to 10000`);
  return n;
}

/**
 * The `script` invocation that runs lxc-attach on a fresh host pty. The pty
 * is first made raw (no host-side echo or newline mangling; the container's
 * pty does that) and sized, then the shell is replaced by lxc-attach.
 */
export function ttyCommand(target: AttachTarget, argv: readonly string[], opts: AttachOptions): { file: string; args: string[] } {
  const env = { TERM: 'xterm-256color', ...opts.env };
  const cmd = lxcCommand('lxc-attach', attachArgs(target, argv, env));
  const cols = checkSize(opts.cols ?? DEFAULT_COLS, 'cols');
  const rows = checkSize(opts.rows ?? DEFAULT_ROWS, 'rows');
  const line = `stty raw -echo cols ${cols} rows ${rows} && exec ${[cmd.file, ...cmd.args].map(shellQuote).join(' ')}`;
  return { file: 'script', args: ['-q', '-e', '-f', '-E', 'never', '-c', line, '/dev/null'] };
}

function spawnAttached(target: AttachTarget, argv: readonly string[], opts: AttachOptions): ChildProcess {
  if (opts.tty) {
    const cmd = ttyCommand(target, argv, opts);
    // script runs its -c line with $SHELL; pin it to a POSIX shell.
    return spawn(cmd.file, cmd.args, { stdio: 'pipe', env: toolEnv({ SHELL: '/bin/sh' }) });
  }
  return spawnLxc('lxc-attach', attachArgs(target, argv, opts.env ?? {}), 'pipe');
}

/**
 * Set the size of a TTY session: find lxc-attach under script, and size the
 * host pty it holds; the kernel then signals SIGWINCH to lxc-attach, which
 * passes the size on to the container's pty.
 */
async function resizePty(scriptPid: number, cols: number, rows: number): Promise<void> {
  for (const pid of await descendantsOf(scriptPid)) {
    let tty: string;
    try {
      tty = await readlink(`/proc/${pid}/fd/0`);
    } catch {
      continue;
    }
    if (!tty.startsWith('/dev/pts/')) continue;
    await new Promise<void>((resolve, reject) => {
      execFile('stty', ['-F', tty, 'cols', String(cols), 'rows', String(rows)], { env: toolEnv() }, (err) => (err ? reject(err) : resolve()));
    });
    return;
  }
}

/**
 * Resolves once a process under `pid` runs in another user namespace, i.e.
 * the command is inside the container. lxc-attach flushes its terminal's
 * pending input while it sets up, so TTY input is held back until then.
 */
async function whenInside(pid: number, isDone: () => boolean): Promise<void> {
  const ours = await readlink('/proc/self/ns/user');
  for (let i = 0; i < INSIDE_POLLS && !isDone(); i++) {
    for (const p of await descendantsOf(pid)) {
      const ns = await readlink(`/proc/${p}/ns/user`).catch(() => ours);
      if (ns !== ours) return;
    }
    await delay(INSIDE_POLL_MS);
  }
}

class BoundedSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    const room = this.max - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  get buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function exitCodeOf(code: number | null, sig: NodeJS.Signals | null): number {
  return code ?? 128 + signalNumber(sig);
}

/** Run a command to completion. Its exit code is the result; failing to attach throws `exec_failed`. */
export function runAttached(target: AttachTarget, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const tty = opts.tty ?? false;
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const child = spawnAttached(target, argv, { tty, ...(opts.env ? { env: opts.env } : {}) });
  const out = new BoundedSink(max);
  const err = new BoundedSink(max);
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  // A command that does not read its input closes the pipe: not an error.
  child.stdin?.on('error', () => undefined);
  const input = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
  if (!tty) {
    child.stdin?.end(input);
  } else if (input !== undefined && child.pid !== undefined) {
    // A terminal has no end of input; end-of-file is typed as ^D (twice if mid-line).
    // The pipe stays open: script ends its session when its input ends.
    const typed = Buffer.concat([input, Buffer.from(input.at(-1) === 0x0a || input.length === 0 ? '\x04' : '\x04\x04')]);
    const type = (): void => void child.stdin?.write(typed);
    whenInside(child.pid, () => child.exitCode !== null || child.signalCode !== null).then(type, type);
  }
  return new Promise<ExecResult>((resolve, reject) => {
    const onAbort = (): void => {
      if (child.pid !== undefined) killTree(child.pid).catch(() => child.kill('SIGKILL'));
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new HearthError('exec_failed', `could not run lxc-attach: ${e.message}`, {}, { cause: e }));
    });
    // 'close', not 'exit': output is complete only once every holder of the
    // pipes is gone (a command that leaves a daemon on its stdout waits for it).
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      child.stdin?.destroy();
      const exitCode = exitCodeOf(code, sig);
      const stderr = err.buffer;
      const stdout = out.buffer;
      const diagnostics = (tty ? stdout : stderr).toString('utf8');
      if (exitCode === 1 && ATTACH_FAILED_RE.test(diagnostics)) {
        reject(new HearthError('exec_failed', `cannot attach to ${target.name}: ${diagnostics.trim().split('\n').at(-1) ?? ''}`));
        return;
      }
      resolve({ exitCode, stdout, stderr, truncated: out.truncated || err.truncated });
    });
  });
}

/** Start an interactive command; the caller wires its streams. */
export function openAttached(target: AttachTarget, argv: readonly string[], opts: AttachOptions, log: Logger): ExecSession {
  let child: ChildProcess;
  try {
    child = spawnAttached(target, argv, opts);
  } catch (e) {
    return failedSession(e);
  }
  child.stdin?.on('error', () => undefined);
  let stdin = child.stdin;
  if (opts.tty && child.stdin && child.pid !== undefined) {
    // Hold the caller's keystrokes until lxc-attach stopped flushing its terminal.
    const held = new PassThrough();
    const target = child.stdin;
    const connect = (): void => void held.pipe(target);
    whenInside(child.pid, () => child.exitCode !== null || child.signalCode !== null).then(connect, connect);
    stdin = held;
  }
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new HearthError('exec_failed', `could not run lxc-attach: ${e.message}`, {}, { cause: e })));
    child.on('close', (code, sig) => resolve(exitCodeOf(code, sig)));
  });
  const stderr = opts.tty ? new PassThrough().end() : child.stderr;
  if (!stdin || !child.stdout || !stderr) throw new HearthError('internal', 'lxc-attach was started without pipes');
  return {
    stdin,
    stdout: child.stdout,
    stderr,
    exited,
    resize(cols: number, rows: number): void {
      if (!opts.tty || child.pid === undefined) return;
      const pid = child.pid;
      resizePty(pid, checkSize(cols, 'cols'), checkSize(rows, 'rows')).catch((e: unknown) => log.debug({ err: e, name: target.name }, 'tty resize failed'));
    },
    kill(): void {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        killTree(child.pid).catch(() => child.kill('SIGKILL'));
      }
    },
  };
}

/** A session that never started: its streams are empty and `exited` rejects with the reason. */
function failedSession(reason: unknown): ExecSession {
  const exited = Promise.reject(reason);
  exited.catch(() => undefined);
  return {
    stdin: new PassThrough(),
    stdout: new PassThrough().end(),
    stderr: new PassThrough().end(),
    exited,
    resize: () => undefined,
    kill: () => undefined,
  };
}
