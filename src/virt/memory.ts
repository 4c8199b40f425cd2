// An in-memory Driver: the same contract as the LXC driver
// (test/contract/driver.contract.ts), no processes, no files. Pure tests of
// the reconciler use it, and so does a gateway configured without containers
// (virt.driver none, agent/no-containers.ts), whose slivers are only records.
// Commands are not run: `exec` understands a handful of words (echo, cat,
// true, false, `sh -c 'exit N'`, and `dpkg-query -W P`, which finds the extra
// packages the container was made with) and answers 127 to the rest.
// Must never: be used where a sliver is expected to run; whoever uses it
// outside a test says so (the agent in its log and node view).

import { PassThrough } from 'node:stream';
import { HearthError } from '../model/errors.js';
import { packagesFor } from '../model/image.js';
import { TEMPLATES, validateName, type TemplateName } from '../model/sliver.js';
import type { ContainerSpec, ContainerState, Driver, ExecOptions, ExecResult, ExecSession } from './driver.js';

export type MemoryDriverOp = 'create' | 'start' | 'stop' | 'destroy' | 'state' | 'stats' | 'list' | 'exec';

export interface MemoryDriver extends Driver {
  /** Leave a container as a crash in the middle of `create` would. */
  simulateIncomplete(spec: ContainerSpec): void;
  /** Make the next call of `op` reject with `error`. */
  failNext(op: MemoryDriverOp, error: Error): void;
}

export interface MemoryDriverInit {
  /** Templates this fake can make; the others are refused like an unavailable one. */
  templates?: readonly TemplateName[];
}

interface FakeContainer {
  spec: ContainerSpec;
  state: Exclude<ContainerState, 'absent'>;
  cpuNs: number;
}

const FAKE_MEMORY_BYTES = 4 * 1024 * 1024;
const FAKE_CPU_STEP_NS = 1_000_000;

/** The fake's tiny command language, in a container made with `packages`. */
function interpret(argv: readonly string[], stdin: Buffer, packages: readonly string[]): { exitCode: number; stdout: Buffer; stderr: Buffer } {
  const [cmd, ...args] = argv;
  const ok = (out: string | Buffer): { exitCode: number; stdout: Buffer; stderr: Buffer } => ({ exitCode: 0, stdout: Buffer.from(out), stderr: Buffer.alloc(0) });
  switch (cmd) {
    case 'echo':
      return ok(`${args.join(' ')}\n`);
    case 'cat':
      return ok(stdin);
    case 'true':
      return ok('');
    case 'false':
      return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    case 'dpkg-query': {
      const pkg = args[0] === '-W' && args.length === 2 ? args[1] ?? '' : null;
      if (pkg === null) break;
      if (packages.includes(pkg)) return ok(`${pkg}\t1.0\n`);
      return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`dpkg-query: no packages found matching ${pkg}\n`) };
    }
    case 'sh': {
      const exit = args[0] === '-c' ? /^\s*exit\s+(\d+)\s*$/.exec(args[1] ?? '') : null;
      if (exit) return { exitCode: Number(exit[1]) & 0xff, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      break;
    }
  }
  return { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${cmd ?? ''}: not found in the memory driver\n`) };
}

function bound(buf: Buffer, max: number): { kept: Buffer; truncated: boolean } {
  return buf.length > max ? { kept: buf.subarray(0, max), truncated: true } : { kept: buf, truncated: false };
}

export function createMemoryDriver(init: MemoryDriverInit = {}): MemoryDriver {
  const templates = new Set(init.templates ?? TEMPLATES);
  const containers = new Map<string, FakeContainer>();
  const faults = new Map<MemoryDriverOp, Error>();

  function enter(op: MemoryDriverOp, signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    const fault = faults.get(op);
    if (fault) {
      faults.delete(op);
      throw fault;
    }
  }

  function stateOf(name: string): ContainerState {
    validateName('container', name);
    return containers.get(name)?.state ?? 'absent';
  }

  function existing(name: string): FakeContainer {
    const c = containers.get(name);
    if (!c) throw new HearthError('sliver_not_found', `container ${name} does not exist`, { name });
    return c;
  }

  function run(name: string, argv: readonly string[], opts: ExecOptions): ExecResult {
    const state = stateOf(name);
    if (state !== 'running') throw new HearthError('exec_failed', `container ${name} is ${state}, not running`, { name, state });
    if (argv.length === 0) throw new HearthError('invalid_request', 'the command is empty');
    const result = interpret(argv, Buffer.from(opts.stdin ?? ''), containers.get(name)?.spec.packages ?? []);
    const max = opts.maxOutputBytes ?? Number.POSITIVE_INFINITY;
    const out = bound(result.stdout, max);
    const err = bound(result.stderr, max);
    return { exitCode: result.exitCode, stdout: out.kept, stderr: err.kept, truncated: out.truncated || err.truncated };
  }

  return {
    async create(spec, opts) {
      enter('create', opts?.signal);
      const state = stateOf(spec.name);
      if (state === 'running' || state === 'stopped') return;
      if (!templates.has(spec.template)) {
        throw new HearthError('unknown_template', `template ${spec.template} is not available in this memory driver`, { template: spec.template });
      }
      const packages = packagesFor(spec.template, spec.packages);
      containers.set(spec.name, { spec: { ...structuredClone(spec), packages }, state: 'stopped', cpuNs: 0 });
    },

    async start(name, opts) {
      enter('start', opts?.signal);
      const c = existing(name);
      if (c.state === 'incomplete') throw new HearthError('invalid_state', `container ${name} was not completely created`, { name });
      c.state = 'running';
    },

    async stop(name, opts) {
      enter('stop', opts?.signal);
      const c = existing(name);
      if (c.state === 'running') c.state = 'stopped';
    },

    async destroy(name, opts) {
      enter('destroy', opts?.signal);
      validateName('container', name);
      containers.delete(name);
    },

    async state(name, opts) {
      enter('state', opts?.signal);
      return stateOf(name);
    },

    async stats(name, opts) {
      enter('stats', opts?.signal);
      const c = existing(name);
      const memoryLimitBytes = c.spec.limits.memoryMb * 1024 * 1024;
      const disk = { diskBytes: 0, diskLimitBytes: c.spec.limits.diskMb * 1024 * 1024 };
      if (c.state !== 'running') return { cpuNs: 0, memoryBytes: 0, memoryLimitBytes, pids: 0, rxBytes: 0, txBytes: 0, ...disk };
      c.cpuNs += FAKE_CPU_STEP_NS;
      return { cpuNs: c.cpuNs, memoryBytes: Math.min(FAKE_MEMORY_BYTES, memoryLimitBytes), memoryLimitBytes, pids: 1, rxBytes: 0, txBytes: 0, ...disk };
    },

    async list(opts) {
      enter('list', opts?.signal);
      return [...containers.entries()]
        .filter(([, c]) => c.state !== 'incomplete')
        .map(([name, c]) => ({ name, state: c.state }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async exec(name, argv, opts = {}) {
      enter('exec', opts.signal);
      return run(name, argv, opts);
    },

    async netns(name, opts) {
      enter('state', opts?.signal);
      validateName('container', name);
      existing(name);
      // In memory there are no namespaces to enter.
      return null;
    },

    session(name, argv, opts = {}): ExecSession {
      validateName('container', name);
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let result: ExecResult | undefined;
      let failure: unknown;
      try {
        result = run(name, argv, opts.env ? { env: opts.env } : {});
      } catch (e) {
        failure = e;
      }
      // With a TTY both streams share the terminal.
      stdout.end(result && opts.tty ? Buffer.concat([result.stdout, result.stderr]) : result?.stdout);
      stderr.end(opts.tty ? undefined : result?.stderr);
      const exited = result ? Promise.resolve(result.exitCode) : Promise.reject(failure);
      exited.catch(() => undefined);
      return { stdin, stdout, stderr, exited, resize: () => undefined, kill: () => stdin.destroy() };
    },

    simulateIncomplete(spec) {
      validateName('container', spec.name);
      containers.set(spec.name, { spec: structuredClone(spec), state: 'incomplete', cpuNs: 0 });
    },

    failNext(op, error) {
      faults.set(op, error);
    },
  };
}
