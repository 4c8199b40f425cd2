// The sliver network of one gateway on the real kernel: the bridge and its
// gateway address, IPv4 forwarding, and hearth's nftables tables (rendered by
// ruleset.ts, applied atomically). Must never: delete a link that is not
// hearth's kind (only a bridge on teardown, only veths as leftovers), touch a
// table that is not this gateway's (setup refuses another gateway's, and any
// table hearth did not write), or run a tool other than through run.ts.

import { writeFile, readFile } from 'node:fs/promises';
import { HearthError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { createSerial } from '../kit/serial.js';
import { findNetworkClash, parseAddresses, parseNftTables, type NetworkClaims } from './claims.js';
import { validateLinkName } from './names.js';
import { gatewayAddress, parseSubnet } from './pool.js';
import { renderRuleset } from './ruleset.js';
import { runTool, runToolChecked, toolFailure } from './run.js';
import type { NetOpOptions, NetworkPlan, SliverNetwork, SliverNetworkInit } from './types.js';

export { hostVethName } from './names.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const EMPTY_PLAN: NetworkPlan = { ports: [], forwards: [] };

export function createSliverNetwork(init: SliverNetworkInit & { log?: Logger }): SliverNetwork {
  const { bridge, table, log } = init;
  // Rendering once validates the bridge, table and subnet before any tool runs.
  renderRuleset(init, EMPTY_PLAN);
  const gateway = gatewayAddress(init.subnet);
  const { prefixLength } = parseSubnet(init.subnet);
  // nft transactions are atomic, but two applies racing could land out of
  // order; queueing them makes the last call the one that stays.
  const serialize = createSerial();

  const apply = async (plan: NetworkPlan, opts: NetOpOptions = {}): Promise<void> => {
    const script = renderRuleset(init, plan);
    await serialize(async () => {
      await runToolChecked('nft', ['-f', '-'], { input: script, ...opts });
      log?.info({ bridge, ports: plan.ports.length, forwards: plan.forwards.length }, 'sliver firewall applied');
    });
  };

  const ensureBridge = async (opts: NetOpOptions): Promise<void> => {
    const kind = await linkKind(bridge, opts);
    if (kind === 'bridge') return;
    if (kind !== undefined) {
      throw new HearthError('network_error', `link ${bridge} exists and is a ${kind || 'plain device'}, not a bridge`, { bridge });
    }
    const created = await runTool('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'], opts);
    // Another setup may have won the race; what matters is that a bridge is there now.
    if (created.exitCode !== 0 && (await linkKind(bridge, opts)) !== 'bridge') {
      throw toolFailure('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'], created);
    }
    log?.info({ bridge }, 'sliver bridge created');
  };

  return {
    bridge,
    gateway,
    prefixLength,

    async setup(opts = {}) {
      // Before anything changes: applying below would replace a table of the
      // same name, and a shared bridge or subnet would join two gateways' slivers.
      // Two gateways starting at the same instant can both pass; the next
      // start of either then refuses.
      const clash = findNetworkClash(init, await readNetworkClaims(opts));
      if (clash !== undefined) throw clash;
      await ensureBridge(opts);
      // Isolation is in place before the bridge comes up and before forwarding is on.
      await apply(EMPTY_PLAN, opts);
      await runToolChecked('ip', ['addr', 'replace', `${gateway}/${prefixLength}`, 'dev', bridge], opts);
      await runToolChecked('ip', ['link', 'set', 'dev', bridge, 'up'], opts);
      const forwarding = (await readFile(IP_FORWARD, { encoding: 'utf8', ...opts })).trim();
      if (forwarding !== '1') {
        await writeFile(IP_FORWARD, '1\n', opts);
        log?.info({}, 'IPv4 forwarding enabled');
      }
    },

    apply,

    async hostVethsOnBridge(opts = {}) {
      const result = await runTool('ip', ['-j', 'link', 'show', 'master', bridge, 'type', 'veth'], opts);
      if (result.exitCode !== 0) {
        if (/does not exist/i.test(result.stderr)) return [];
        throw toolFailure('ip', ['link', 'show', 'master', bridge], result);
      }
      return parseLinks(result.stdout).map((l) => l.ifname);
    },

    async removeLink(name, opts = {}) {
      validateLinkName('link', name);
      const kind = await linkKind(name, opts);
      if (kind === undefined) return;
      if (kind !== 'veth') throw new HearthError('network_error', `refusing to remove ${name}: it is not a veth`, { link: name });
      await deleteLink(name, opts);
    },

    async teardown(opts = {}) {
      await serialize(() =>
        runToolChecked('nft', ['-f', '-'], {
          input: [`table bridge ${table}`, `delete table bridge ${table}`, `table inet ${table}`, `delete table inet ${table}`, ''].join('\n'),
          ...opts,
        }),
      );
      const kind = await linkKind(bridge, opts);
      if (kind === 'bridge') {
        await deleteLink(bridge, opts);
        log?.info({ bridge }, 'sliver bridge deleted');
      }
    },
  };
}

/** The tables and IPv4 addresses of the current network namespace: what its gateways hold. */
export async function readNetworkClaims(opts: NetOpOptions = {}): Promise<NetworkClaims> {
  // Terse: set elements are not needed, and a big firewall lists much faster without them.
  const tables = await runToolChecked('nft', ['-t', 'list', 'ruleset'], opts);
  const addresses = await runToolChecked('ip', ['-j', '-4', 'addr', 'show'], opts);
  return { tables: parseNftTables(tables.stdout), addresses: parseAddresses(addresses.stdout) };
}

interface LinkJson {
  ifname: string;
  linkinfo?: { info_kind?: string };
}

function parseLinks(stdout: string): LinkJson[] {
  const text = stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as LinkJson[]);
}

/** The link's kind ('bridge', 'veth', '' for a plain device), or undefined if there is no such link. */
async function linkKind(name: string, opts: NetOpOptions): Promise<string | undefined> {
  const result = await runTool('ip', ['-j', '-d', 'link', 'show', 'dev', name], opts);
  if (result.exitCode !== 0) {
    if (/does not exist|cannot find device/i.test(result.stderr)) return undefined;
    throw toolFailure('ip', ['-d', 'link', 'show', 'dev', name], result);
  }
  return parseLinks(result.stdout)[0]?.linkinfo?.info_kind ?? '';
}

async function deleteLink(name: string, opts: NetOpOptions): Promise<void> {
  const result = await runTool('ip', ['link', 'del', 'dev', name], opts);
  // Deleting one end of a veth takes the other with it, so a racing delete may find nothing.
  if (result.exitCode !== 0 && !/cannot find device|does not exist/i.test(result.stderr)) {
    throw toolFailure('ip', ['link', 'del', 'dev', name], result);
  }
}
