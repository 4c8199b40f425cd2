// Slice networks on a testbed of three gateways (namespaces, the link
// emulator, real agents, real Serf, real LXC, real wireguard-go), driven with
// the real CLI. The story: a user makes a slice of two from gw1 → its
// slivers, on two gateways, reach each other by name and address, IPv4 and
// IPv6, over the gateways' WireGuard tunnel → a slice of one on the same
// plan reaches none of them, and no gateway reaches them either → a sliver
// that sends from an address not its own reaches nothing → what a sliver
// sends over its slice network counts against its bandwidth share → the
// host of a sliver is killed: the sliver runs elsewhere with the same
// address, and its slice peer reaches it there again → the killed gateway
// returns with a new address and, once the slice grows onto it, carries
// slice traffic again → it is revoked while it does, and drops out of its
// peers' tunnels.
// (That nothing on a slice network reaches a gateway's host, tunnel port
// included, is tested on the kernel alone in net/slice-segments.test.ts,
// where a way back from the gateway can be made so that the check can fail.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testbedHeal, testbedKill, testbedPartition, testbedRestart } from '../../../src/testbed/controller-ops.js';
import { runHearth } from '../../../src/testbed/gateway-process.js';
import { COMMUNITY_DEVICE, enterArgs } from '../../../src/testbed/netns.js';
import { sliceNetNames } from '../../../src/agent/slice-net.js';
import { publicKeyOf, readKeyFile } from '../../../src/net/wg/keys.js';
import type { TestbedState } from '../../../src/testbed/state.js';
import { eventually, useTestbed } from '../../support/testbed.js';
import type { SliceView } from '../../../src/model/slice.js';

const exec = promisify(execFile);
const GATEWAYS = [1, 2, 3];

const tb = useTestbed({ name: 'slicenet', gateways: GATEWAYS.length, seed: 5, underlay: '172.29' });
const { dir, keyFile } = tb;
const gw = (n: number): TestbedState['members'][number] => tb.gw(n);
const number = (name: string | null): number => Number((name ?? '').replace(/^gw/, ''));

async function show(n: number, slice: string): Promise<SliceView> {
  return JSON.parse(await runHearth(gw(n), ['slice', 'show', slice, '--json'])) as SliceView;
}

/** Whether `ping` from a sliver (through its gateway's CLI) gets an answer from `target`. */
async function pings(n: number, sliver: string, target: string, family: '-4' | '-6' = '-4'): Promise<boolean> {
  try {
    await runHearth(gw(n), ['sliver', 'exec', sliver, '--', 'ping', family, '-c', '1', '-W', '2', target]);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command in gateway `n`'s namespace. */
async function inGateway(n: number, argv: readonly string[]): Promise<string> {
  const [file, ...args] = [...enterArgs(gw(n).namespace), ...argv];
  return (await exec(file as string, args)).stdout;
}

interface NodeRow { name: string; id: string | null; status: string; self: boolean }
async function nodes(n: number): Promise<NodeRow[]> {
  return (JSON.parse(await runHearth(gw(n), ['nodes', '--json'])) as { items: NodeRow[] }).items;
}

/** The public keys of the peers of gateway `n`'s slice-network tunnel. */
async function tunnelPeers(n: number): Promise<string[]> {
  const id = (await nodes(n)).find((r) => r.self)?.id ?? '';
  return (await inGateway(n, ['wg', 'show', sliceNetNames(id).tunnel, 'peers'])).split('\n').filter((l) => l !== '');
}


void describe(`slice networks on a testbed of three (prefix ${tb.prefix})`, () => {
  let net: SliceView;
  /** Set by the kill scenario: the killed host of net-1, the host of net-0, and net-1's new host. */
  let victim = 0;
  let survivor = 0;
  let newHost = 0;


  void test('the slivers of a slice on two gateways reach each other by name and address, IPv4 and IPv6', async () => {
    net = JSON.parse(await runHearth(gw(1), ['slice', 'create', 'net', '--slivers', '2', '--memory', '64', '--key', keyFile, '--json'])) as SliceView;
    assert.equal(net.state, 'running');
    const [a, b] = net.slivers.map((s) => number(s.gateway));
    assert.notEqual(a, b);
    await eventually('net-0 to reach net-1 by name', 60, () => pings(a as number, 'net-0', 'net-1'), (ok) => ok);
    assert.ok(await pings(b as number, 'net-1', 'net-0'), 'net-1 reaches net-0 by name');
    assert.ok(await pings(a as number, 'net-0', 'net-1.net.hearth'), 'and as NAME.SLICE.hearth');
    assert.ok(await pings(a as number, 'net-0', 'net-1', '-6'), 'over IPv6 too');
    const hosts = await runHearth(gw(a as number), ['sliver', 'exec', 'net-0', '--', 'cat', '/etc/hosts']);
    assert.match(hosts, /^100\.72\.0\.3\tnet-1\.net\.hearth net-1$/m);
  });

  void test('another slice on the same plan reaches none of them, and neither do the gateways', async () => {
    const solo = JSON.parse(await runHearth(gw(1), ['slice', 'create', 'solo', '--slivers', '1', '--memory', '64', '--key', keyFile, '--json'])) as SliceView;
    const host = number(solo.slivers[0]?.gateway ?? null);
    // solo-0 has 100.72.0.2 on its own network, as net-0 has on net's; net-1's 100.72.0.3 is not in solo's.
    await eventually('solo-0 to have its slice network', 60, () => runHearth(gw(host), ['sliver', 'exec', 'solo-0', '--', 'cat', '/etc/hosts']), (h) => h.includes('solo-0.solo.hearth'));
    assert.ok(!(await pings(host, 'solo-0', '100.72.0.3')), 'solo-0 does not reach net-1');
    assert.ok(!(await pings(host, 'solo-0', 'fd68:6561:7274:5::3', '-6')), 'nor over IPv6');
    for (const n of GATEWAYS) {
      const ns = gw(n).namespace;
      const [file, ...args] = [...enterArgs(ns), 'ping', '-c', '1', '-W', '2', '100.72.0.3'];
      await assert.rejects(exec(file as string, args), `gw${n} itself does not reach net-1`);
    }
    await runHearth(gw(1), ['slice', 'rm', 'solo', '--key', keyFile]);
  });

  void test('a sliver that sends from an address not its own reaches nothing', async () => {
    const a = number(net.slivers[0]?.gateway ?? null);
    await runHearth(gw(a), ['sliver', 'exec', 'net-0', '--', 'ip', 'addr', 'add', '100.72.0.9/24', 'dev', 'eth1']);
    try {
      assert.ok(!(await runHearth(gw(a), ['sliver', 'exec', 'net-0', '--', 'ping', '-c', '1', '-W', '2', '-I', '100.72.0.9', '100.72.0.3']).then(() => true, () => false)),
        'net-0 posing as 100.72.0.9 gets no answer from net-1');
      assert.ok(await pings(a, 'net-0', 'net-1'), 'as itself it still does');
    } finally {
      await runHearth(gw(a), ['sliver', 'exec', 'net-0', '--', 'ip', 'addr', 'del', '100.72.0.9/24', 'dev', 'eth1']);
    }
  });

  void test('the slice network\'s traffic counts against its sliver\'s bandwidth share', async () => {
    const a = number(net.slivers[0]?.gateway ?? null);
    await runHearth(gw(a), ['node', 'bandwidth', '--up', '50', '--down', '50']);
    try {
      const upBytes = async (): Promise<number | undefined> =>
        (JSON.parse(await runHearth(gw(a), ['sliver', 'show', 'net-0', '--json'])) as { stats: { shaped?: { up?: { bytes: number } } } }).stats.shaped?.up?.bytes;
      const before = await eventually('net-0 to be shaped', 30, upBytes, (b) => b !== undefined) as number;
      // Ten pings of 1000 bytes, at least half of them counted: a shaper round that
      // rebuilds the classes meanwhile loses what they counted since its last
      // reading (a window of a few commands, at most a packet here), so all ten
      // is more than the shaper promises (docs/architecture.md, Bandwidth).
      await runHearth(gw(a), ['sliver', 'exec', 'net-0', '--', 'ping', '-c', '10', '-i', '0.2', '-s', '1000', '-W', '2', 'net-1']);
      const after = (await upBytes()) ?? 0;
      assert.ok(after - before >= 5 * 1000, `net-0's own class counted what it sent over the slice network: ${before} → ${after} bytes`);
    } finally {
      await runHearth(gw(a), ['node', 'bandwidth', '--up', 'none', '--down', 'none']);
    }
  });

  void test('the host of a sliver is killed: it runs elsewhere with the same address, and its peer reaches it again', async () => {
    victim = number(net.slivers[1]?.gateway ?? null);
    survivor = number(net.slivers[0]?.gateway ?? null);
    const entry = GATEWAYS.find((n) => n !== victim) as number;
    // Cut off as well as killed, as a power cut looks to the others: killing the agent alone leaves its
    // sliver and its wireguard-go running, and the old net-1 would go on answering for a while.
    await testbedPartition(GATEWAYS.filter((n) => n !== victim).map((n) => `gw${n}`).join(','), { dir });
    await testbedKill(`gw${victim}`, { dir });
    await eventually(`net-1 to run without gw${victim}`, 90, () => show(entry, 'net'),
      (v) => v.state === 'running' && !v.slivers.some((s) => s.gateway === `gw${victim}`));
    await eventually('net-0 to reach net-1 at its new gateway', 60, () => pings(survivor, 'net-0', 'net-1'), (ok) => ok);
    const moved = await show(entry, 'net');
    newHost = number(moved.slivers[1]?.gateway ?? null);
    const addr = await runHearth(gw(newHost), ['sliver', 'exec', 'net-1', '--', 'ip', '-4', 'addr', 'show', 'eth1']);
    assert.match(addr, /inet 100\.72\.0\.3\/24/, 'the same address on its new gateway');
  });

  void test('the killed gateway returns with a new address, and carries slice traffic again once the slice grows onto it', async () => {
    const m = gw(victim);
    const bits = tb.state.community.prefixLength;
    const fresh = m.communityAddress.replace(/\d+$/, (last) => String(Number(last) + 100));
    // The old address goes first: removing a subnet's primary address removes its secondaries with it.
    await inGateway(victim, ['ip', 'addr', 'del', `${m.communityAddress}/${bits}`, 'dev', COMMUNITY_DEVICE]);
    await inGateway(victim, ['ip', 'addr', 'add', `${fresh}/${bits}`, 'dev', COMMUNITY_DEVICE]);
    const configFile = join(m.dataDir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { community: { bind: string }; peer: { host: string } };
    config.community.bind = config.community.bind.replace(m.communityAddress, fresh);
    config.peer.host = fresh;
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    await testbedHeal({ dir });
    await testbedRestart(`gw${victim}`, { dir });
    for (const n of [survivor, newHost]) {
      await eventually(`gw${n} to see gw${victim} alive again`, 120, () => nodes(n), (rows) => rows.some((r) => r.name === `gw${victim}` && r.status === 'alive'));
    }
    const grown = JSON.parse(await runHearth(gw(survivor), ['slice', 'resize', 'net', '--slivers', '3', '--key', keyFile, '--json'])) as SliceView;
    assert.equal(grown.slivers[2]?.gateway, `gw${victim}`, 'net-2 goes to the one gateway without a sliver of net');
    await eventually('net-0 to reach net-2 at the returned gateway', 60, () => pings(survivor, 'net-0', 'net-2'), (ok) => ok);
    // net-1's gateway learns the returned one's new address on its own, not when net-0's does: waited for the same way.
    await eventually('net-2 to reach net-1', 60, () => pings(victim, 'net-2', 'net-1'), (ok) => ok);
  });

  void test('a gateway revoked while it carries slice traffic drops out of its peers\' tunnels', async () => {
    const revokedKey = publicKeyOf(await readKeyFile(join(gw(victim).dataDir, 'identity', 'tunnel.key')));
    assert.ok((await tunnelPeers(survivor)).includes(revokedKey), `gw${victim} is a tunnel peer of gw${survivor} before`);
    await runHearth(gw(survivor), ['community', 'revoke', `gw${victim}`]);
    for (const n of [survivor, newHost]) {
      await eventually(`gw${n} to drop gw${victim} from its tunnel`, 30, () => tunnelPeers(n), (peers) => !peers.includes(revokedKey));
    }
    assert.ok(!(await pings(victim, 'net-2', 'net-0')), 'the revoked gateway\'s sliver no longer reaches the slice');
  });
});
