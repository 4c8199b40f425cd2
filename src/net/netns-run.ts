// Running net/'s tools inside a gateway's network namespace: `nsenter --net`
// on /var/run/netns/NAME (not `ip netns exec`, whose /sys remount hides
// LXC's cgroups), or in the agent's own namespace when none is named.
// Must never: run a tool through a shell.

import { HearthError } from '../model/errors.js';
import { runTool, toolFailure, type RunToolOptions, type ToolResult } from './run.js';

const NAMESPACE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export interface NamespaceRunner {
  /** Resolves with the exit code, whatever it is (see runTool). */
  run(argv: readonly string[], opts?: RunToolOptions): Promise<ToolResult>;
  /** Rejects with network_error unless the tool exits 0. */
  runChecked(argv: readonly string[], opts?: RunToolOptions): Promise<ToolResult>;
}

/** A runner for the namespace at `path` (a /var/run/netns file or /proc/PID/ns/net). */
export function pathRunner(path: string | undefined): NamespaceRunner {
  const enter = path === undefined ? [] : ['nsenter', `--net=${path}`, '--'];
  const run = (argv: readonly string[], opts: RunToolOptions = {}): Promise<ToolResult> => {
    const [file, ...args] = [...enter, ...argv];
    return runTool(file as string, args, opts);
  };
  return {
    run,
    async runChecked(argv, opts = {}) {
      const result = await run(argv, opts);
      if (result.exitCode !== 0) throw toolFailure(argv[0] as string, argv.slice(1), result);
      return result;
    },
  };
}

/** A runner for the named namespace under /var/run/netns, or the agent's own. */
export function namespaceRunner(namespace: string | undefined): NamespaceRunner {
  if (namespace !== undefined && !NAMESPACE_RE.test(namespace)) {
    throw new HearthError('invalid_request', `network namespace ${JSON.stringify(namespace)} must be letters, digits, '_', '.' or '-'`, { field: 'namespace' });
  }
  return pathRunner(namespace === undefined ? undefined : `/var/run/netns/${namespace}`);
}
