// A testbed gateway's processes: `hearth` commands run inside the gateway's
// namespace (its API listens on the namespace's loopback, so the CLI must
// run there too), and its `hearth agent`, started detached so it outlives the
// `hearth testbed` command that started it.
// Namespaces are entered with nsenter --net, never `ip netns exec`: that
// remounts /sys and so hides the cgroup mounts LXC needs (the agent gets a
// sysfs of its own that keeps them; see WITH_OWN_SYSFS).
// Must never: signal a process that is not the agent of the data dir it was
// asked about (see processes.ts).

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { delay } from '../kit/delay.js';
import { HearthError } from '../model/errors.js';
import { enterArgs } from './netns.js';
import { pidExists } from '../kit/pid.js';
import { childrenNamed, commandName, isOurProcess, isRunning, processState, signalOurProcess, waitUntilGone } from './processes.js';

/**
 * Node's flags for a long-running agent. V8's young generation grows to
 * 16 MB per semi-space by default, and an agent's is mostly empty pages it
 * keeps: 1 MB halves an idle agent's private memory (73.6 → 42.1 MB USS,
 * BENCHMARKS.md "A community at size") for scavenges that stay cheap.
 * setup.sh's `hearth` wrapper passes the same.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** The argv that runs this build's `hearth` (with Node's `flags`): main.js when built, main.ts through tsx when run from source. */
export function hearthCommand(flags: readonly string[] = []): string[] {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    // An absolute loader path, so it resolves whatever the caller's working directory is.
    return [process.execPath, ...flags, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, fileURLToPath(new URL('../cli/main.ts', import.meta.url))];
  }
  return [process.execPath, ...flags, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

/** What a gateway's processes need to know about it. */
export interface GatewayHandle {
  name: string;
  namespace: string;
  dataDir: string;
  apiPort: number;
}

// Variables that would point a `hearth` command at some other gateway, or
// change how an agent behaves, are not inherited from the user's shell.
const NOT_INHERITED = ['HEARTH_API', 'HEARTH_TOKEN', 'HEARTH_DATA_DIR', 'HEARTH_CRASH_POINT', 'NODE_TEST_CONTEXT'];

/** The environment of a command run for `gateway`: HEARTH_DATA_DIR names its data dir. */
export function gatewayEnv(gateway: GatewayHandle): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of NOT_INHERITED) delete env[name];
  env['HEARTH_DATA_DIR'] = gateway.dataDir;
  return env;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Exit code as a shell reports it: a death by signal N is 128 + N. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return 128 + (signal === null ? 0 : (numbers[signal] ?? 0));
}

/** Runs `argv` inside the gateway's namespace and collects its output. */
export function runInGateway(
  gateway: GatewayHandle,
  argv: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const { signal } = options;
  const [command, ...args] = [...enterArgs(gateway.namespace), ...argv];
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command as string, args, { env: gatewayEnv(gateway), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(new HearthError('internal', `cannot run ${argv[0] ?? ''} in ${gateway.namespace}: ${error.message}`, {}, { cause: error }));
    });
    child.once('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(signal.reason);
      else resolve({ code: exitCodeOf(code, exitSignal), stdout, stderr });
    });
  });
}

/** Runs `hearth ARGS` against the gateway (inside its namespace, on its data dir); a non-zero exit is an error carrying hearth's message. */
export async function runHearth(
  gateway: GatewayHandle,
  args: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<string> {
  const result = await runInGateway(gateway, [...hearthCommand(), '--data-dir', gateway.dataDir, ...args], { timeoutMs: 120_000, ...options });
  if (result.code !== 0) {
    const message = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new HearthError('internal', `${gateway.name}: hearth ${args.join(' ')} failed (exit ${result.code}): ${message.replace(/^hearth: /, '')}`);
  }
  return result.stdout;
}

export function agentLogPath(gateway: GatewayHandle): string {
  return join(gateway.dataDir, 'agent.log');
}

export function logTail(gateway: GatewayHandle, lines = 5): string {
  try {
    return readFileSync(agentLogPath(gateway), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** True while the gateway's agent, by `pid`, runs. */
export function isAgentAlive(gateway: GatewayHandle, pid: number | null): pid is number {
  return isOurProcess(pid, gateway.dataDir);
}

// LXC looks gateway bridges up under /sys/class/net, and sysfs shows the
// network devices of the namespace that mounted it: with the root's /sys a
// sliver's veth cannot find the gateway's bridge. So the agent gets a mount
// namespace of its own with a sysfs of its network namespace, as `ip netns
// exec` would give it, but with the cgroup mounts carried over (ip netns exec
// loses them, and LXC cannot start a container without them). A failed step
// fails the start: an agent whose slivers cannot start is worse than none.
const WITH_OWN_SYSFS = `set -e
mount --make-rslave /
if mountpoint -q /sys/fs/cgroup; then
  keep=$(mktemp -d /run/hearth-testbed-cgroup.XXXXXX)
  trap 'rmdir "$keep"' EXIT
  mount --rbind /sys/fs/cgroup "$keep"
  mount -t sysfs sysfs /sys
  mount --move "$keep" /sys/fs/cgroup
  trap - EXIT
  rmdir "$keep"
else
  mount -t sysfs sysfs /sys
fi
exec "$@"`;

/** The argv that runs the gateway's agent in its namespace, with a /sys of that namespace. */
function agentArgv(gateway: GatewayHandle): string[] {
  return [
    ...enterArgs(gateway.namespace), 'unshare', '--mount', '--propagation', 'slave', '--', 'sh', '-c', WITH_OWN_SYSFS, 'sh',
    ...hearthCommand(AGENT_NODE_FLAGS), 'agent', '--data-dir', gateway.dataDir,
  ];
}

/**
 * Starts `hearth agent` in the gateway's namespace in a session of its own
 * (so it outlives the caller and a Ctrl-C in the caller's terminal), its
 * output appended to `<data dir>/agent.log`; returns its pid. nsenter,
 * unshare and sh each exec the next in place, so the pid is the agent's.
 */
export function startAgent(gateway: GatewayHandle): number {
  const [command, ...args] = agentArgv(gateway);
  const log = openSync(agentLogPath(gateway), 'a');
  let pid: number | undefined;
  try {
    const child = spawn(command as string, args, { env: gatewayEnv(gateway), detached: true, stdio: ['ignore', log, log] });
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  if (pid === undefined) throw new HearthError('internal', `${gateway.name}: the agent could not be started`);
  return pid;
}

// Polls the API from inside the namespace in one small process rather than
// one process per attempt: the CLI costs a second of CPU to start, and
// twenty agents starting at once on a small machine have little to spare.
// Each attempt gives up after a few seconds, so a connection the agent
// accepts but never answers cannot hold the wait past its deadline; on
// giving up the probe prints what its last attempt got.
const PROBE = `
const [url, deadline] = [process.argv[1], Date.now() + Number(process.argv[2])];
const token = process.env.HEARTH_PROBE_TOKEN;
(async () => {
  let last = 'no attempt';
  for (;;) {
    try {
      const res = await fetch(url, { headers: { authorization: 'Bearer ' + token }, signal: AbortSignal.timeout(5000) });
      if (res.ok) process.exit(0);
      last = 'HTTP ' + res.status;
    } catch (error) {
      last = error.name === 'TimeoutError' ? 'connected, but no answer within 5 s' : String(error.cause?.code ?? error.message);
    }
    if (Date.now() > deadline) {
      process.stdout.write(last);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
`;

/** Resolves once the gateway's API answers; fails at once if the agent `pid` dies, or after `timeoutMs`. */
export async function waitForApi(
  gateway: GatewayHandle,
  pid: number,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<void> {
  const { signal } = options;
  const timeoutMs = options.timeoutMs ?? 90_000;
  signal?.throwIfAborted();
  const token = readFileSync(join(gateway.dataDir, 'owner.token'), 'utf8').trim();
  const [command, ...args] = [...enterArgs(gateway.namespace), process.execPath, '-e', PROBE, `http://127.0.0.1:${gateway.apiPort}/api/v1/node`, String(timeoutMs)];
  const since = new Date();
  const probe = spawn(command as string, args, { env: { ...gatewayEnv(gateway), HEARTH_PROBE_TOKEN: token }, stdio: ['ignore', 'pipe', 'ignore'] });
  let lastAttempt = '';
  probe.stdout.setEncoding('utf8').on('data', (chunk: string) => (lastAttempt += chunk));
  const answered = new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.once('close', (code) => resolve(code === 0));
  });
  let done: boolean | undefined;
  void answered.then((ok) => (done = ok));
  try {
    while (done === undefined) {
      if (!isAgentAlive(gateway, pid)) {
        throw new HearthError('internal', `${gateway.name}: the agent exited while starting; its log ends with:\n${logTail(gateway)}`);
      }
      await delay(100, signal ? { signal } : {});
    }
  } finally {
    if (done === undefined) probe.kill('SIGKILL');
  }
  if (!done) {
    throw new HearthError('internal', [
      `${gateway.name}: the agent's API did not answer within ${timeoutMs / 1000} s (asked from ${since.toISOString()}; last attempt: ${lastAttempt || 'none'})`,
      processState(pid),
      `its log ends with:\n${logTail(gateway, 20)}`,
    ].join('\n'));
  }
}

/**
 * SIGKILLs the agent. Its serf child should die with it (the agent runs serf
 * under a parent-death signal); any serf child still alive a moment later is
 * killed too, so a killed gateway really stops gossiping.
 */
export async function killAgent(gateway: GatewayHandle, pid: number | null, options: { signal?: AbortSignal } = {}): Promise<{ killed: boolean; orphans: number }> {
  if (!isAgentAlive(gateway, pid)) return { killed: false, orphans: 0 };
  const serfs = childrenNamed(pid, 'serf');
  signalOurProcess(pid, gateway.dataDir, 'SIGKILL');
  await waitUntilGone(() => pidExists(pid), 5_000, options);
  // The pids were the agent's serf children a moment ago; the name check guards against reuse since.
  const serfAlive = (serf: number): boolean => isRunning(serf) && isOurProcess(serf, 'agent') && commandName(serf) === 'serf';
  await waitUntilGone(() => serfs.some(serfAlive), 2_000, options);
  let orphans = 0;
  for (const serf of serfs.filter(serfAlive)) {
    if (signalOurProcess(serf, 'agent', 'SIGKILL')) orphans++;
  }
  return { killed: true, orphans };
}

/** SIGTERM, then SIGKILL if the agent has not stopped within `graceMs`. */
export async function stopAgent(gateway: GatewayHandle, pid: number | null, options: { signal?: AbortSignal; graceMs?: number } = {}): Promise<void> {
  if (!isAgentAlive(gateway, pid)) return;
  signalOurProcess(pid, gateway.dataDir, 'SIGTERM');
  if (await waitUntilGone(() => pidExists(pid), options.graceMs ?? 15_000, options)) return;
  await killAgent(gateway, pid, options);
}
