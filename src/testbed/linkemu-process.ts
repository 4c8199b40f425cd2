// Starts the link emulator as its own detached process, so it outlives the
// `hearth testbed up` that started it and any shell can steer it through its
// control socket; and stops it again.
// Must never: signal a process other than the one it started.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { delay } from '../kit/delay.js';
import { canSignal } from '../kit/pid.js';
import { HearthError } from '../model/errors.js';
import type { LinkEmulatorConfig } from './linkemu-config.js';
import { requestLinkEmulator } from './linkemu-control.js';
import type { LinkEmulatorStats } from './linkemu.js';

export interface SpawnLinkEmulatorInit {
  config: LinkEmulatorConfig;
  /** Where the configuration is written for the process to read. */
  configPath: string;
  /** The process's stdout and stderr go here. */
  logPath: string;
  /** How long to wait for the control socket to answer (default 10 s). */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface LinkEmulatorProcess {
  pid: number;
  stats: LinkEmulatorStats;
}

const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

// Under tsx this module is a .ts file and the entry must be too, loaded the
// same way; built, both are .js. Only loader flags are passed on: a test
// runner's own flags must not turn the emulator into a test run.
function entryCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  const entry = self.replace(/linkemu-process\.(ts|js)$/, 'linkemu-main.$1');
  const loaders: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const [name] = flag.split('=', 1);
    if (name === undefined || !LOADER_FLAGS.has(name)) continue;
    if (flag.includes('=')) loaders.push(flag);
    else if (i + 1 < argv.length) loaders.push(flag, argv[++i] as string);
  }
  return [...loaders, entry];
}

export async function spawnLinkEmulator(init: SpawnLinkEmulatorInit): Promise<LinkEmulatorProcess> {
  const { config, configPath, logPath, signal } = init;
  signal?.throwIfAborted();
  await writeFileAtomic(configPath, `${JSON.stringify(config)}\n`, { mode: 0o600 });
  const log = openSync(logPath, 'a');
  let child;
  try {
    child = spawn(process.execPath, [...entryCommand(), configPath], { detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const pid = child.pid;
  if (pid === undefined) throw new HearthError('network_error', 'the link emulator process could not be started');
  const deadline = performance.now() + (init.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (signal?.aborted) {
      child.kill('SIGTERM');
      throw signal.reason;
    }
    try {
      const response = await requestLinkEmulator(config.control, { op: 'stats' }, signal ? { signal } : {});
      if (response.ok) return { pid, stats: response.stats };
    } catch {
      // Not listening yet; the loop retries until the deadline.
    }
    if (exited || performance.now() > deadline) {
      child.kill('SIGTERM');
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-5).join('\n');
      throw new HearthError('network_error', `the link emulator did not become ready: ${tail}`);
    }
    await delay(50, signal ? { signal } : {}).catch(() => undefined);
  }
}

/** Asks the emulator on `control` to stop, and waits until its process `pid` is gone. */
export async function stopLinkEmulator(control: string, pid: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  await requestLinkEmulator(control, { op: 'stop' }, options).catch(() => {
    if (canSignal(pid)) process.kill(pid, 'SIGTERM');
  });
  for (let i = 0; i < 100 && canSignal(pid); i++) await delay(20, options);
  if (canSignal(pid)) process.kill(pid, 'SIGKILL');
}
