// A real gateway for integration tests: a fresh data dir with its own
// bridge, subnet, nft table, lxcpath and API port, and `hearth agent` run as
// a child process that tests can stop, kill -9 and restart.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { initDataDir, type AgentConfig } from '../../src/agent/config.js';
import { createApiClient, type ApiClient } from '../../src/cli/client.js';
import { findNetworkClash } from '../../src/net/claims.js';
import { createSliverNetwork, readNetworkClaims } from '../../src/net/sliver-net.js';
import { unmountAllBelow } from '../../src/virt/disk.js';
import { createLxcDriver } from '../../src/virt/lxc.js';

/** The CLI entry of this build: main.js under dist/, main.ts when run through tsx. */
export function cliEntry(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return { command: process.execPath, args: ['--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))] };
  }
  return { command: process.execPath, args: [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))] };
}

export { freePort };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs this build's `hearth` CLI on data dir `dataDir`; resolves with its exit code and output, whatever the code. */
export function runCli(dataDir: string, ...args: string[]): Promise<CliResult> {
  const { command, args: pre } = cliEntry();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...pre, '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface TestGateway {
  dataDir: string;
  config: AgentConfig;
  api: ApiClient;
  token: string;
  /** Start `hearth agent`; resolves once the API answers. */
  start(env?: Record<string, string>): Promise<ChildProcess>;
  /** Wait for the running agent to exit (e.g. after a crash point); resolves with its signal. */
  exited(): Promise<NodeJS.Signals | null>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Stop the agent, destroy its containers, remove its bridge, tables and data dir. */
  destroy(): Promise<void>;
  /** The agent's log so far (for failure messages). */
  log(): string;
  /** The running agent's pid. */
  pid(): number | undefined;
}

export interface TestGatewayOptions {
  name?: string;
  /** Loopback address for gossip and the peer API: 127.0.0.1 (default) or ::1. */
  loopback?: '127.0.0.1' | '::1';
  contribution?: Partial<AgentConfig['contribution']>;
}

/** 10.100.0.0/24 to 10.249.255.0/24, the test gateways' sliver subnets. */
const TEST_SUBNETS = 150 * 256;
/**
 * Where the next test gateway's subnet is looked for: a random start, then
 * one after another, so the gateways of one test file never share one (four
 * drawn at random once did, and the fourth refused to start: subnet_taken).
 */
let nextSubnet = randomBytes(2).readUInt16BE(0) % TEST_SUBNETS;

/**
 * A sliver network no gateway on this host holds: the next free subnet, so a
 * gateway another file (or the developer) left running is never clashed with.
 */
async function freeTestNetwork(suffix: string): Promise<AgentConfig['network']> {
  const claims = await readNetworkClaims();
  for (let tries = 0; tries < TEST_SUBNETS; tries++) {
    const n = nextSubnet++ % TEST_SUBNETS;
    const network = { bridge: `hit${suffix}`, subnet: `10.${100 + Math.floor(n / 256)}.${n % 256}.0/24`, table: `hit_${suffix}` };
    if (findNetworkClash(network, claims, { fresh: true }) === undefined) return network;
  }
  throw new Error('no free test subnet in 10.100.0.0-10.249.255.0');
}

export async function createTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const suffix = randomBytes(3).toString('hex').slice(0, 5);
  const dataDir = join(tmpdir(), `hearth-it-${suffix}`);
  const port = await freePort();
  // Gossip and peer API on loopback with free ports, so test gateways can form communities.
  const [serfPort, rpcPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const { config, paths } = await initDataDir({
    dataDir, name: opts.name ?? `gw-${suffix}`, apiPort: port,
    community: { bind: opts.loopback === '::1' ? `[::1]:${serfPort}` : `127.0.0.1:${serfPort}`, rpcPort, profile: 'local' },
    peer: { host: opts.loopback ?? '127.0.0.1', port: peerPort },
    contribution: { cpu: 1, memoryMb: 2048, diskMb: 8192, slivers: 32, ...opts.contribution },
    network: await freeTestNetwork(suffix),
    // Test gateways share the host's network namespace: no slice networks (the testbed has them).
    sliceNet: { enabled: false },
  });
  const { readFile } = await import('node:fs/promises');
  const token = (await readFile(paths.ownerToken, 'utf8')).trim();
  const api = createApiClient({ baseUrl: `http://127.0.0.1:${port}`, token });
  let child: ChildProcess | undefined;
  let exit: Promise<NodeJS.Signals | null> | undefined;
  let output = '';

  const waitReady = async (): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      if (child?.exitCode !== null || child.signalCode !== null) throw new Error(`agent exited during start:\n${output.slice(-3000)}`);
      try {
        await api.request('GET', '/api/v1/node');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`agent did not answer within 30 s:\n${output.slice(-3000)}`);
  };

  const gw: TestGateway = {
    dataDir, config, api, token,
    async start(env = {}) {
      // One agent per gateway: a start after a failed story replaces the
      // agent it left running, which would otherwise hold the port and keep
      // this test process alive through its pipes.
      await gw.stop();
      const { command, args } = cliEntry();
      child = spawn(command, [...args, 'agent', '--data-dir', dataDir], {
        env: { ...process.env, HEARTH_LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const c = child;
      c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      exit = new Promise((resolve) => c.on('exit', (_code, signal) => resolve(signal)));
      if (env['HEARTH_CRASH_POINT'] === undefined) await waitReady();
      else {
        // A crash point may fire during start-up repair; ready or dead, both are fine here.
        await Promise.race([waitReady().catch(() => undefined), exit]);
      }
      return c;
    },
    async exited() {
      if (exit === undefined) throw new Error('agent not started');
      const waited = exit;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the agent did not exit within 60 s:\n${output.slice(-2000)}`)), 60_000);
      });
      try {
        return await Promise.race([waited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async kill9() {
      child?.kill('SIGKILL');
      await exit;
    },
    async stop() {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const c = child;
      c.kill('SIGTERM');
      // An agent that does not finish its shutdown is killed, not waited for forever.
      const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(timer);
    },
    async destroy() {
      await gw.stop();
      const driver = createLxcDriver({ lxcPath: paths.containers });
      for (const c of await driver.list()) await driver.destroy(c.name);
      await createSliverNetwork(config.network).teardown();
      await unmountAllBelow(dataDir); // an unfinished sliver's disk, which list() does not show
      await rm(dataDir, { recursive: true, force: true });
    },
    log: () => output,
    pid: () => (child === undefined || child.exitCode !== null || child.signalCode !== null ? undefined : child.pid),
  };
  return gw;
}
