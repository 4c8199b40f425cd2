// The one way net/ runs a tool (ip, nft): argv without a shell, optional
// stdin, output collected, abortable. Must never: build a shell command line,
// or be used outside net/ (and the testbed) to run ip or nft.

import { spawn } from 'node:child_process';
import { HearthError } from '../model/errors.js';

export interface ToolResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunToolOptions {
  /** Written to the tool's stdin, which is then closed (e.g. a script for `nft -f -`). */
  input?: string;
  signal?: AbortSignal;
}

/**
 * Run a tool to completion. Resolves with its exit code, whatever it is, so
 * callers can treat "already absent" as success; rejects only when the tool
 * cannot be started (network_error) or `signal` aborts (its reason).
 */
export function runTool(file: string, args: readonly string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const { signal } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const onAbort = (): void => {
      child.kill('SIGKILL');
      finish(() => reject(signal?.reason));
    };
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      finish(() => reject(new HearthError('network_error', `cannot run ${file}: ${err.message}`, { tool: file }, { cause: err })));
    });
    child.on('close', (code) => {
      finish(() =>
        resolve({
          // null: killed by a signal, which no tool here does to itself.
          exitCode: code ?? -1,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        }),
      );
    });
    // A tool that exits before reading all of stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Run a tool and reject with network_error (carrying its stderr) unless it exits 0. */
export async function runToolChecked(file: string, args: readonly string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const result = await runTool(file, args, opts);
  if (result.exitCode !== 0) throw toolFailure(file, args, result);
  return result;
}

export function toolFailure(file: string, args: readonly string[], result: ToolResult): HearthError {
  const stderr = result.stderr.trim();
  return new HearthError('network_error', `${file} ${args.join(' ')} failed (exit ${result.exitCode}): ${stderr}`, {
    tool: file,
    exitCode: result.exitCode,
    stderr,
  });
}
