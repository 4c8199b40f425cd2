// The verbs that act on a running testbed, found through its state file:
// status, exec in a gateway's namespace, kill and restart a gateway's agent,
// partition and heal the emulated network.
// Must never: act on a gateway or process the state file does not name.

import { spawn } from 'node:child_process';
import { HearthError } from '../model/errors.js';
import { aliveCount, readNodes } from './community.js';
import { exitCodeOf, gatewayEnv, hearthCommand, isAgentAlive, killAgent, startAgent, stopAgent, waitForApi } from './gateway-process.js';
import { parseGatewayRef, parsePartition } from './gateway-ref.js';
import { requestLinkEmulator } from './linkemu-control.js';
import type { LinkEmulatorRequest } from './linkemu-control.js';
import type { LinkEmulatorStats } from './linkemu.js';
import { mapBounded } from './map-bounded.js';
import { enterArgs } from './netns.js';
import { isOurProcess } from './processes.js';
import { DEFAULT_TESTBED_DIR } from './defaults.js';
import { memberOf, requireTestbedState, writeTestbedState } from './state.js';
import type { TestbedGatewayState, TestbedState } from './state.js';

export interface TestbedOpInit {
  dir?: string;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

function load(init: TestbedOpInit): TestbedState {
  return requireTestbedState(init.dir ?? DEFAULT_TESTBED_DIR);
}

function member(state: TestbedState, ref: string): TestbedGatewayState {
  return memberOf(state, parseGatewayRef(ref, state.gateways, state.prefix));
}

export interface GatewayStatus {
  name: string;
  namespace: string;
  address: string;
  pid: number | null;
  running: boolean;
  /** What the gateway's own `hearth nodes` says, when it could be asked. */
  view: { alive: number; members: number } | null;
  error?: string;
}

export interface TestbedStatus {
  dir: string;
  prefix: string;
  profile: string;
  seed: number;
  community: string | null;
  emulator: { pid: number | null; running: boolean };
  gateways: GatewayStatus[];
}

/** Each gateway's agent: running or not, and (best effort) how many members it sees alive. */
export async function testbedStatus(init: TestbedOpInit = {}): Promise<TestbedStatus> {
  const state = load(init);
  const options = init.signal ? { signal: init.signal } : {};
  const gateways = await mapBounded(state.members, 4, async (m): Promise<GatewayStatus> => {
    const running = isAgentAlive(m, m.pid);
    const base = { name: m.name, namespace: m.namespace, address: m.communityAddress, pid: running ? m.pid : null, running, view: null };
    if (!running || state.communityName === null) return base;
    try {
      const view = await readNodes(m, { ...options, timeoutMs: 20_000 });
      return { ...base, view: { alive: aliveCount(view), members: view.items.length } };
    } catch (error) {
      return { ...base, error: error instanceof Error ? error.message : String(error) };
    }
  });
  return {
    dir: state.dir,
    prefix: state.prefix,
    profile: state.profile,
    seed: state.seed,
    community: state.communityName,
    emulator: { pid: state.emulator.pid, running: isOurProcess(state.emulator.pid, state.emulator.configPath) },
    gateways,
  };
}

/**
 * Runs `argv` in the gateway's namespace with HEARTH_DATA_DIR set to its
 * data dir, the terminal passed through; resolves with its exit code.
 * `hearth` as the command means this build's CLI, so it works without
 * hearth on PATH.
 */
export async function testbedExec(ref: string, argv: readonly string[], init: TestbedOpInit = {}): Promise<number> {
  const state = load(init);
  const m = member(state, ref);
  if (argv.length === 0) throw new HearthError('invalid_request', 'give the command to run after --, e.g. hearth testbed exec gw1 -- hearth nodes');
  const command = argv[0] === 'hearth' ? [...hearthCommand(), ...argv.slice(1)] : [...argv];
  const [file, ...args] = [...enterArgs(m.namespace), ...command];
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args, { env: gatewayEnv(m), stdio: 'inherit', ...(init.signal ? { signal: init.signal } : {}) });
    child.once('error', (error) => reject(init.signal?.aborted ? init.signal.reason : new HearthError('internal', `cannot run ${argv[0] ?? ''} in ${m.namespace}: ${error.message}`)));
    child.once('close', (code, signal) => resolve(exitCodeOf(code, signal)));
  });
}

export interface KillResult {
  gateway: string;
  /** False when the agent was not running. */
  killed: boolean;
  pid: number | null;
}

/** SIGKILLs a gateway's agent (its Serf agent goes with it), as a crash would. */
export async function testbedKill(ref: string, init: TestbedOpInit = {}): Promise<KillResult> {
  const state = load(init);
  const m = member(state, ref);
  const pid = m.pid;
  const { killed, orphans } = await killAgent(m, pid, init.signal ? { signal: init.signal } : {});
  if (orphans > 0) init.progress?.(`${m.name}: killed ${orphans} serf process${orphans === 1 ? '' : 'es'} that outlived the agent`);
  m.pid = null;
  writeTestbedState(state);
  return { gateway: m.name, killed, pid };
}

/** Starts a gateway's agent again on the same data dir (stopping it first if it runs) and waits until its API answers. */
export async function testbedRestart(ref: string, init: TestbedOpInit = {}): Promise<{ gateway: string; pid: number }> {
  const state = load(init);
  const m = member(state, ref);
  const options = init.signal ? { signal: init.signal } : {};
  if (isAgentAlive(m, m.pid)) {
    init.progress?.(`${m.name}: stopping the running agent (pid ${m.pid})`);
    await stopAgent(m, m.pid, options);
  }
  const pid = startAgent(m);
  m.pid = pid;
  writeTestbedState(state);
  try {
    await waitForApi(m, pid, options);
  } catch (error) {
    if (!isAgentAlive(m, pid)) {
      m.pid = null;
      writeTestbedState(state);
    }
    throw error;
  }
  return { gateway: m.name, pid };
}

async function steer(state: TestbedState, request: LinkEmulatorRequest, options: { signal?: AbortSignal }): Promise<LinkEmulatorStats> {
  if (!isOurProcess(state.emulator.pid, state.emulator.configPath)) {
    throw new HearthError('network_error', `the link emulator of the testbed in ${state.dir} is not running; take the testbed down and up again`);
  }
  const response = await requestLinkEmulator(state.emulator.control, request, options);
  if (!response.ok) throw new HearthError(response.code, response.message);
  return response.stats;
}

/** Cuts the network into groups (`gw1,gw2/gw3`): frames cross only within a group; gateways in no group form one more. */
export async function testbedPartition(spec: string, init: TestbedOpInit = {}): Promise<{ groups: string[][] }> {
  const state = load(init);
  const groups = parsePartition(spec, state.gateways, state.prefix);
  await steer(state, { op: 'partition', groups }, init.signal ? { signal: init.signal } : {});
  return { groups: groups.map((group) => group.map((g) => memberOf(state, g).name)) };
}

/** Removes any partition: every gateway reaches every other again over its emulated links. */
export async function testbedHeal(init: TestbedOpInit = {}): Promise<void> {
  const state = load(init);
  await steer(state, { op: 'heal' }, init.signal ? { signal: init.signal } : {});
}
