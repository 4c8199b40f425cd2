// Removes whatever an earlier test run left on this machine: testbeds,
// agents and their serfs, LXC containers, sliver bridges and nft tables,
// network namespaces, and the run's scratch directory. Every test cleans up
// after itself, also when it fails; this is for a run that was killed before
// its `after` hooks ran, so that the next run never inherits anything.
// Must never: touch anything outside the test root, or a namespace that
// does not carry a test prefix.

import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createSliverNetwork, readNetworkClaims } from '../../src/net/sliver-net.js';
import { teardownTestbed } from '../../src/testbed/controller-down.js';
import { removeTunDevices, runIp } from '../../src/testbed/netns.js';
import { readTestbedState } from '../../src/testbed/state.js';
import { unmountAllBelow } from '../../src/virt/disk.js';
import { createLxcDriver } from '../../src/virt/lxc.js';
import { wgPair } from './wg-pair.js';

/** Every test run keeps its scratch files (data dirs, testbeds) below this directory. */
export const TEST_ROOT = '/tmp/hearth-tests';

/** Namespaces and root links test testbeds make: a random three-letter prefix, then their kind. */
const TEST_NAMESPACE = /^t[a-z]{3}-?gw\d+$/;
const TEST_LINK = /^t[a-z]{3}-?(tbbr|tbu\d+)$/;
/**
 * Sliver bridges of test gateways (support/gateway.ts: hit + 5 hex) and of
 * the net tests (h2a-h2d, htn + 5 characters); their tables are marked with them.
 */
export const TEST_BRIDGE = /^(hit[0-9a-f]{5}|h2[a-d][a-z0-9]{5}|htn[a-z0-9]{5})$/;

function directoriesBelow(root: string, depth: number): string[] {
  if (depth < 0) return [];
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of entries) {
    const path = join(root, name);
    try {
      if (!statSync(path).isDirectory()) continue;
    } catch {
      continue;
    }
    out.push(path, ...directoriesBelow(path, depth - 1));
  }
  return out;
}

/** Pids whose command line names something below `root`. */
function processesUnder(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${root}/`)) pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

export interface SweepReport {
  testbeds: number;
  gateways: number;
  processes: number;
  namespaces: number;
  links: number;
  networks: number;
}

export async function sweepTestLeftovers(root = TEST_ROOT): Promise<SweepReport> {
  const report: SweepReport = { testbeds: 0, gateways: 0, processes: 0, namespaces: 0, links: 0, networks: 0 };
  const dirs = directoriesBelow(root, 4);
  for (const dir of dirs) {
    const state = readTestbedState(dir);
    if (state === undefined) continue;
    await teardownTestbed(state).catch(() => undefined);
    report.testbeds++;
  }
  // Agents first (their serfs die with them), then what they made.
  for (const pid of processesUnder(root)) {
    try {
      process.kill(pid, 'SIGKILL');
      report.processes++;
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) {
    let network: { bridge: string; subnet: string; table: string } | undefined;
    try {
      network = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { network?: typeof network }).network;
    } catch {
      continue;
    }
    if (network === undefined) continue;
    const driver = createLxcDriver({ lxcPath: join(dir, 'containers') });
    for (const c of await driver.list().catch(() => [])) await driver.destroy(c.name).catch(() => undefined);
    await createSliverNetwork(network).teardown().catch(() => undefined);
    report.gateways++;
  }
  // Sliver networks whose gateway's directory is gone (a run killed, and its
  // scratch removed by hand): found by the test bridge their tables' markers name.
  const claims = await readNetworkClaims().catch(() => ({ tables: [] }));
  for (const { table, bridge, subnet } of claims.tables) {
    if (bridge === undefined || subnet === undefined || !TEST_BRIDGE.test(bridge)) continue;
    await createSliverNetwork({ bridge, subnet, table }).teardown().catch(() => undefined);
    report.networks++;
  }
  // The WireGuard tests' pairs have names of their own: their daemons, namespaces and sockets
  // (and the slice segments and shaper tests' namespaces).
  for (const prefix of ['wgt', 'sgt']) await wgPair(prefix).remove().catch(() => undefined);
  for (const ns of ['sgts1', 'sgts2', 'sgts3', 'bwtgw', 'bwts1', 'bwts2']) await runIp(['netns', 'delete', ns]).catch(() => undefined);
  const namespaces = (JSON.parse((await runIp(['-j', 'netns', 'list'])) || '[]') as { name: string }[]).map((n) => n.name);
  for (const name of namespaces.filter((n) => TEST_NAMESPACE.test(n))) {
    await removeTunDevices(name);
    await runIp(['netns', 'delete', name]).catch(() => undefined);
    report.namespaces++;
  }
  const links = (JSON.parse((await runIp(['-j', 'link', 'show'])) || '[]') as { ifname: string }[]).map((l) => l.ifname);
  for (const name of links.filter((l) => TEST_LINK.test(l) || TEST_BRIDGE.test(l))) {
    await runIp(['link', 'delete', name]).catch(() => undefined);
    report.links++;
  }
  // The disks of slivers a killed run left (an incomplete one is not in list()).
  await unmountAllBelow(root);
  rmSync(root, { recursive: true, force: true });
  return report;
}
