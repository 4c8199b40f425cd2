// The one door to the lxc-* tools. Every lxc-* invocation of the driver is
// built by `lxcCommand`, so running the tools differently (a wrapper, another
// namespace) is a change to one function. The few disk tools the driver needs
// for a sliver's filesystem (disk.ts) come through here too. Arguments are
// always an argv, never a shell string. Must never: run anything but lxc-*
// and those disk tools, or hide a failure.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { HearthError } from '../model/errors.js';

export type LxcTool =
  | 'lxc-attach' | 'lxc-copy' | 'lxc-create' | 'lxc-destroy' | 'lxc-info'
  | 'lxc-ls' | 'lxc-start' | 'lxc-stop' | 'lxc-wait';

/** What makes, checks and (un)mounts a sliver's own filesystem (disk.ts), and lists the blocks of a fresh one (disk-template.ts). */
export type DiskTool = 'e2fsck' | 'filefrag' | 'mkfs.ext4' | 'mount' | 'umount';

export interface Command {
  file: string;
  args: string[];
}

/** The argv that runs `tool` with `args`. */
export function lxcCommand(tool: LxcTool, args: readonly string[]): Command {
  return { file: tool, args: [...args] };
}

/** Start an lxc-* tool with the given stdio; the caller owns the process. */
export function spawnLxc(tool: LxcTool, args: readonly string[], stdio: StdioOptions): ChildProcess {
  const cmd = lxcCommand(tool, args);
  return spawn(cmd.file, cmd.args, { stdio, env: toolEnv() });
}

// mkfs.ext4, e2fsck and filefrag live in sbin, which a non-login PATH may lack.
const SBIN = ['/usr/sbin', '/sbin'];

function spawnTool(tool: LxcTool | DiskTool, args: readonly string[], stdio: StdioOptions): ChildProcess {
  if (tool.startsWith('lxc-')) return spawnLxc(tool as LxcTool, args, stdio);
  const path = [...(process.env['PATH'] ?? '/usr/bin:/bin').split(':'), ...SBIN].filter((p, i, all) => p !== '' && all.indexOf(p) === i);
  return spawn(tool, [...args], { stdio, env: toolEnv({ PATH: path.join(':') }) });
}

/** A minimal, predictable environment for tools (no caller locale or LXC_* surprises). */
export function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', ...extra };
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a tool to completion and report its exit code, whatever it is. */
export function runLxcStatus(tool: LxcTool | DiskTool, args: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<ToolResult> {
  const { signal } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const child = spawnTool(tool, args, ['ignore', 'pipe', 'pipe']);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const onAbort = (): void => {
      child.kill('SIGKILL');
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new HearthError('driver_error', `${tool} could not be run: ${e.message}`, { tool }, { cause: e }));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({
        code: code ?? 128 + signalNumber(sig),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Run a tool; a non-zero exit becomes a `driver_error` carrying the end of its stderr. */
export async function runLxc(tool: LxcTool | DiskTool, args: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<ToolResult> {
  const result = await runLxcStatus(tool, args, opts);
  if (result.code !== 0) throw toolFailure(tool, result);
  return result;
}

function toolFailure(tool: string, result: ToolResult): HearthError {
  return new HearthError('driver_error', `${tool} failed: ${tail(result.stderr || result.stdout)}`, {
    tool,
    exitCode: result.code,
  });
}

/** The last few lines of a tool's output: where lxc-* put the reason. */
export function tail(text: string, lines = 4): string {
  const kept = text.trim().split('\n').slice(-lines).join(' | ');
  return kept.length > 600 ? `…${kept.slice(-600)}` : kept || '(no output)';
}

/** Shell convention: a command killed by signal N reports 128 + N. */
export function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : osConstants.signals[sig];
}
