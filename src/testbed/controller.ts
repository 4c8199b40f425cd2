// `hearth testbed up`: a whole community on one machine. Builds the emulated
// network (namespaces, VXLAN, the link emulator), gives every gateway a data
// dir and a real `hearth agent` in its namespace, forms the community with
// the real CLI, and waits until every gateway sees every other alive.
// Each step is recorded in the state file as it happens, and a failure (or
// an abort) tears down what was built through the same path as `down`.
// Must never: touch a namespace, link, process or directory it did not make;
// in particular it refuses to start over another testbed's names.

import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HearthError } from '../model/errors.js';
import { DEFAULT_UNDERLAY, DEFAULT_COMMUNITY, hostAddress } from './addressing.js';
import type { Subnet } from './addressing.js';
import { formCommunity, waitForFullView } from './community.js';
import { teardownTestbed } from './controller-down.js';
import { isAgentAlive, runHearth, startAgent, waitForApi } from './gateway-process.js';
import { gatewayName } from './gateway-ref.js';
import { layoutMesh, meshLinkMatrix } from './layout.js';
import { isOurProcess } from './processes.js';
import { spawnLinkEmulator } from './linkemu-process.js';
import { mapBounded } from './map-bounded.js';
import { createTestbedNetwork, runIp, testbedNames } from './netns.js';
import { getLinkProfile } from './profiles.js';
import { DEFAULT_TESTBED_DIR, MAX_TESTBED_GATEWAYS } from './defaults.js';
import { readTestbedState, writeTestbedState } from './state.js';
import type { TestbedState } from './state.js';

export const COMMUNITY_NAME = 'testbed';
/** Inside every gateway's namespace the ports are the same; only the addresses differ. */
export const TESTBED_PORTS = { api: 7470, peer: 7471, serf: 7946 } as const;
/** What each emulated gateway offers: small, so many fit on one machine. */
const CONTRIBUTION = ['--cpu', '1', '--memory', '1024', '--disk', '4096', '--slivers', '8'];

export interface TestbedUpInit {
  gateways: number;
  /** Link profile name (lan, wifi, poor); default lan. */
  link?: string;
  seed?: number;
  dir?: string;
  /** Namespace and link name prefix, so testbeds can coexist; default ''. */
  prefix?: string;
  /** The emulator's UDP port (default 4789). */
  port?: number;
  /** Root-namespace subnet of the emulator and the veths (default 172.30.0.0/16); must not clash with another testbed's. */
  underlay?: Subnet;
  /** How many gateway steps (each a Node process) run at once. */
  concurrency?: number;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

export interface TestbedUpResult {
  state: TestbedState;
  /** Milliseconds spent in each phase; `fullView` runs from the last agent's start until every gateway saw all alive. */
  timings: { network: number; agents: number; community: number; fullView: number; total: number };
}

/** `172.31.5.0/24` → a subnet, checked to hold at least the emulator and one gateway. */
export function parseSubnet(cidr: string): Subnet {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (match === null) throw new HearthError('invalid_request', `"${cidr}" is not an IPv4 subnet such as 172.30.0.0/16`);
  const subnet = { network: match[1] as string, prefixLength: Number(match[2]) };
  hostAddress(subnet, 2);
  return subnet;
}

function checkGatewayCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_TESTBED_GATEWAYS) {
    throw new HearthError('invalid_request', `--gateways must be a whole number in 1..${MAX_TESTBED_GATEWAYS}, not ${String(n)}`);
  }
}

// Unprivileged containers' root file systems live below the data dirs, so
// every directory above them must be traversable by their mapped root.
function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o011) !== 0o011) chmodSync(dir, mode | 0o011);
}

async function refuseForeignNames(prefix: string, signal: AbortSignal | undefined): Promise<void> {
  const names = testbedNames(prefix);
  const options = signal ? { signal } : {};
  const ours = new RegExp(`^${prefix.replace(/-/g, '\\-')}(gw|tbu)\\d+$`);
  const namespaces = (JSON.parse((await runIp(['-j', 'netns', 'list'], options)) || '[]') as Array<{ name: string }>).map((n) => n.name);
  const links = (JSON.parse((await runIp(['-j', 'link', 'show'], options)) || '[]') as Array<{ ifname: string }>).map((l) => l.ifname);
  const taken = [...namespaces, ...links].filter((name) => ours.test(name) || name === names.bridge);
  if (taken.length > 0) {
    throw new HearthError(
      'name_taken',
      `namespaces or links of testbed prefix "${prefix}" already exist (${taken.slice(0, 4).join(', ')}${taken.length > 4 ? ', …' : ''}): ` +
        'another testbed uses this prefix; take it down with "hearth testbed down --dir <its dir>" or choose another --prefix',
    );
  }
}

function plan(init: TestbedUpInit, dir: string, prefix: string): TestbedState {
  const underlay = init.underlay ?? DEFAULT_UNDERLAY;
  const port = init.port ?? 4789;
  const network = createTestbedNetwork({ prefix, port, underlay, community: DEFAULT_COMMUNITY });
  const members = Array.from({ length: init.gateways }, (_, i) => {
    const g = network.gateway(i + 1);
    return {
      gateway: g.gateway,
      name: gatewayName(g.gateway),
      namespace: g.namespace,
      dataDir: join(dir, gatewayName(g.gateway)),
      communityAddress: g.communityAddress,
      underlayAddress: g.underlayAddress,
      apiPort: TESTBED_PORTS.api,
      pid: null,
    };
  });
  return {
    version: 1,
    dir,
    prefix,
    gateways: init.gateways,
    profile: getLinkProfile(init.link ?? 'lan').name,
    seed: init.seed ?? 1,
    underlay,
    community: DEFAULT_COMMUNITY,
    port,
    emulator: { pid: null, control: join(dir, 'linkemu.sock'), configPath: join(dir, 'linkemu.json'), logPath: join(dir, 'linkemu.log') },
    communityName: null,
    members,
  };
}

/** Builds the testbed, or throws having removed everything it had built. */
export async function testbedUp(init: TestbedUpInit): Promise<TestbedUpResult> {
  const { signal, progress = () => undefined } = init;
  const dir = init.dir ?? DEFAULT_TESTBED_DIR;
  const prefix = init.prefix ?? '';
  checkGatewayCount(init.gateways);
  testbedNames(prefix);
  const state = plan(init, dir, prefix);

  const previous = readTestbedState(dir);
  if (previous !== undefined) {
    if (isOurProcess(previous.emulator.pid, previous.emulator.configPath)) {
      throw new HearthError(
        'name_taken',
        `a testbed of ${previous.gateways} gateways is already up in ${dir}; take it down first with "hearth testbed down${dir === DEFAULT_TESTBED_DIR ? '' : ` --dir ${dir}`}"`,
      );
    }
    progress(`removing a stopped testbed left in ${dir}`);
    await teardownTestbed(previous, { progress });
  }
  await refuseForeignNames(prefix, signal);
  prepareDir(dir);
  writeTestbedState(state);

  try {
    return await build(state, init);
  } catch (error) {
    progress(`up failed: ${error instanceof Error ? error.message : String(error)}`);
    progress('removing what was built');
    await teardownTestbed(state, { progress });
    throw error;
  }
}

async function build(state: TestbedState, init: TestbedUpInit): Promise<TestbedUpResult> {
  const { signal, progress = () => undefined } = init;
  const options = signal ? { signal } : {};
  const concurrency = init.concurrency ?? 4;
  const n = state.gateways;
  const started = performance.now();
  const profile = getLinkProfile(state.profile);

  const network = createTestbedNetwork({ prefix: state.prefix, port: state.port, underlay: state.underlay, community: state.community });
  progress(`building the network of ${n} gateway${n === 1 ? '' : 's'} (prefix "${state.prefix}", ${profile.name} links, seed ${state.seed})`);
  await network.createUnderlay(options);
  await mapBounded(state.members, concurrency, (m) => network.addGateway(m.gateway, options));
  const links = meshLinkMatrix(layoutMesh({ gateways: n, seed: state.seed }), profile);
  const emulator = await spawnLinkEmulator({
    config: {
      listen: network.emulatorEndpoint,
      control: state.emulator.control,
      seed: state.seed,
      links,
      gateways: state.members.map((m) => ({ gateway: m.gateway, ...network.gateway(m.gateway).endpoint })),
    },
    configPath: state.emulator.configPath,
    logPath: state.emulator.logPath,
    ...options,
  });
  state.emulator.pid = emulator.pid;
  writeTestbedState(state);
  const networkDone = performance.now();
  progress(`network ready in ${seconds(networkDone - started)} (link emulator pid ${emulator.pid})`);

  let ready = 0;
  let lastStart = networkDone;
  await mapBounded(state.members, concurrency, async (m) => {
    await runHearth(m, [
      'init', '--name', m.name, '--api-host', '127.0.0.1', '--api-port', String(m.apiPort),
      '--community-bind', `${m.communityAddress}:${TESTBED_PORTS.serf}`,
      '--peer-host', m.communityAddress, '--peer-port', String(TESTBED_PORTS.peer),
      ...CONTRIBUTION,
    ], options);
    m.pid = startAgent(m);
    lastStart = performance.now();
    writeTestbedState(state);
    await waitForApi(m, m.pid, options);
    ready++;
    progress(`${m.name} agent answers (pid ${m.pid}, ${ready}/${n})`);
  });
  const agentsDone = performance.now();

  await formCommunity(state.members, COMMUNITY_NAME, { ...options, progress, concurrency });
  state.communityName = COMMUNITY_NAME;
  writeTestbedState(state);
  await waitForFullView(state.members, n, { ...options, progress, concurrency });
  const done = performance.now();
  for (const m of state.members) {
    if (!isAgentAlive(m, m.pid)) throw new HearthError('internal', `${m.name}: the agent (pid ${String(m.pid)}) stopped during up`);
  }
  progress(`every gateway sees all ${n} alive, ${seconds(done - lastStart)} after the last agent started (${seconds(done - started)} in all)`);
  return {
    state,
    timings: {
      network: networkDone - started,
      agents: agentsDone - networkDone,
      community: done - agentsDone,
      fullView: done - lastStart,
      total: done - started,
    },
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
