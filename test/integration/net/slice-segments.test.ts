// Slice networks' data plane on the real kernel: two gateways (namespaces
// sgtgw1, sgtgw2) joined by a WireGuard tunnel; on them, segments of two
// slices whose slivers (plain namespaces here: this tests the segments, not
// LXC) use the same address plan. A sliver reaches its slice's sliver on the
// other gateway by IPv4 and IPv6, with the MAC its index gives it; it never
// reaches the other slice's sliver at the same address, nor the gateways'
// own addresses; a flood list follows the slice's gateways; the firewall
// drops a sliver sending as another, anything a slice bridge would hand to
// the gateway, and VXLAN from a gateway the segment does not name; and
// apply, attach and teardown are idempotent and leave nothing. Needs root.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sliceVni, sliverNetAddresses, SLICE_NET_V4_BITS, SLICE_NET_V6_BITS } from '../../../src/cloud/slice-net.js';
import { runTool, runToolChecked } from '../../../src/net/run.js';
import { createSliceFirewall, type SlicePort } from '../../../src/net/slice-firewall.js';
import { createSliceSegments, segmentLinks } from '../../../src/net/slice-segments.js';
import { generateKeyPair, writeKeyFile } from '../../../src/net/wg/keys.js';
import { createWgTunnel } from '../../../src/net/wg/tunnel.js';
import { createTeardown } from '../../support/teardown.js';
import { inNamespace, interfaceConfig, peerOf, wgPair } from '../../support/wg-pair.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root';
const pair = wgPair('sgt');
const [gw1, gw2] = pair.gateways;
const keys = [generateKeyPair(), generateKeyPair()] as const;
const dir = mkdtempSync(join(tmpdir(), 'hearth-segments-'));
const tunnels = pair.gateways.map((g) => createWgTunnel({ name: g.name, namespace: g.namespace }));
const seg1 = createSliceSegments({ prefix: 'sga', underlay: gw1.name, local: gw1.tunnel6, namespace: gw1.namespace });
const seg2 = createSliceSegments({ prefix: 'sgb', underlay: gw2.name, local: gw2.tunnel6, namespace: gw2.namespace });
const web = sliceVni('ann', 'web', 'n1');
const db = sliceVni('bob', 'db', 'n1');
/** Slivers as namespaces: web's index 0 on gw1 and index 1 on gw2, and db's index 1 on gw2 (the same addresses as web's) and, later, index 0 on gw1. */
const slivers = {
  web0: { ns: 'sgts1', vni: web, index: 0, veth: 'sgtp1', on: seg1 },
  web1: { ns: 'sgts2', vni: web, index: 1, veth: 'sgtp2', on: seg2 },
  db1: { ns: 'sgts3', vni: db, index: 1, veth: 'sgtp3', on: seg2 },
  db0: { ns: 'sgts4', vni: db, index: 0, veth: 'sgtp4', on: seg1 },
};
const fw1 = createSliceFirewall({ table: 'hearth_sn_sga', tunnel: gw1.name, vxlanPrefix: 'sgax', namespace: gw1.namespace });
const fw2 = createSliceFirewall({ table: 'hearth_sn_sgb', tunnel: gw2.name, vxlanPrefix: 'sgbx', namespace: gw2.namespace });
type Sliver = (typeof slivers)[keyof typeof slivers];
const portOf = (s: Sliver): SlicePort => ({ hostVeth: s.veth, ...sliverNetAddresses(s.vni, s.index) });

async function removeSlivers(): Promise<void> {
  for (const s of Object.values(slivers)) await runTool('ip', ['netns', 'del', s.ns]);
}

async function attach(s: Sliver): Promise<void> {
  const a = sliverNetAddresses(s.vni, s.index);
  await s.on.attach({ vni: s.vni, hostVeth: s.veth, netns: `/var/run/netns/${s.ns}`, mac: a.mac, addresses: [`${a.ipv4}/${SLICE_NET_V4_BITS}`, `${a.ipv6}/${SLICE_NET_V6_BITS}`] });
}

const ping = async (ns: string, address: string): Promise<boolean> =>
  (await inNamespace(ns, ['ping', '-n', '-q', '-c', '1', '-W', '2', address])).exitCode === 0;

/** The links of a gateway's namespace whose names start with `prefix`. */
async function linksOf(ns: string, prefix: string): Promise<string[]> {
  const out = await inNamespace(ns, ['ip', '-j', 'link', 'show'], true);
  return (JSON.parse(out.stdout) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

before(async () => {
  if (!isRoot) return;
  await removeSlivers();
  await pair.create();
  const files = [join(dir, 'gw1.key'), join(dir, 'gw2.key')];
  for (const [i, g] of pair.gateways.entries()) {
    await writeKeyFile(files[i] as string, keys[i]?.privateKey as string);
    await tunnels[i]?.up(interfaceConfig(g, files[i] as string));
  }
  await tunnels[0]?.setPeers([peerOf(gw2, keys[1])]);
  await tunnels[1]?.setPeers([peerOf(gw1, keys[0])]);
  for (const s of Object.values(slivers)) {
    await runToolChecked('ip', ['netns', 'add', s.ns]);
    await inNamespace(s.ns, ['ip', 'link', 'set', 'dev', 'lo', 'up'], true);
  }
});

after(async () => {
  if (!isRoot) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const teardown = createTeardown();
  await teardown.attempt(() => removeSlivers());
  for (const t of tunnels) await teardown.attempt(() => t.down());
  await teardown.attempt(() => pair.remove());
  await teardown.attempt(() => rm(dir, { recursive: true, force: true }));
  teardown.finish();
});

test('slivers of a slice on two gateways reach each other by IPv4 and IPv6, and only their own slice', { skip }, async () => {
  await seg1.apply([{ vni: web, remotes: [gw2.tunnel6] }]);
  await seg2.apply([{ vni: web, remotes: [gw1.tunnel6] }, { vni: db, remotes: [] }]);
  for (const s of [slivers.web0, slivers.web1, slivers.db1]) await attach(s);
  const target = sliverNetAddresses(web, 1);
  assert.equal(target.ipv4, sliverNetAddresses(db, 1).ipv4, 'both slices use the same plan');
  assert.ok(await ping('sgts1', target.ipv4), 'web-0 → web-1 over IPv4');
  assert.ok(await ping('sgts1', target.ipv6), 'web-0 → web-1 over IPv6');
  assert.ok(await ping('sgts2', sliverNetAddresses(web, 0).ipv4), 'web-1 → web-0');
  const neigh = (await inNamespace('sgts1', ['ip', 'neigh', 'show', target.ipv4], true)).stdout;
  assert.match(neigh, new RegExp(target.mac), 'answered by web-1, whose MAC its index gives it');
  assert.ok(!(await ping('sgts3', sliverNetAddresses(web, 0).ipv4)), 'db-1 does not reach web-0');

  // Without web-1, its address is db-1's too, on the same gateway: still unreachable from web.
  await seg2.detach(slivers.web1.veth);
  await seg2.detach(slivers.web1.veth);
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(!(await ping('sgts1', target.ipv4)), 'web-0 never reaches db-1');
});

test('nothing of the gateways is reachable from a slice network', { skip }, async () => {
  // A sliver that routes everything out of eth1 still finds no gateway address there: the bridges have none.
  await inNamespace('sgts1', ['ip', 'route', 'add', 'default', 'dev', 'eth1'], true);
  for (const address of [gw1.tunnel4, gw2.tunnel4, gw1.underlay, gw2.underlay]) {
    assert.ok(!(await ping('sgts1', address)), `${address} is not reachable from the slice`);
  }
  await inNamespace('sgts1', ['ip', 'route', 'del', 'default', 'dev', 'eth1'], true);
});

test('a flood list follows the slice\'s gateways, and apply and attach are idempotent', { skip }, async () => {
  await attach(slivers.web1);
  await attach(slivers.web1);
  const target = sliverNetAddresses(web, 1).ipv4;
  assert.ok(await ping('sgts1', target));
  await seg1.apply([{ vni: web, remotes: [] }]);
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(!(await ping('sgts1', target)), 'gw2 left web: web-0 no longer floods to it');
  await seg1.apply([{ vni: web, remotes: [gw2.tunnel6] }]);
  await seg1.apply([{ vni: web, remotes: [gw2.tunnel6] }]);
  // The failed lookup is still cached as incomplete; a fresh one goes through.
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(await ping('sgts1', target), 'back');
});

test('the firewall: no sliver sends as another, nothing reaches the gateway, and only a segment\'s gateways feed it', { skip }, async () => {
  await fw1.apply([portOf(slivers.web0), portOf(slivers.db0)], [{ address: gw2.tunnel6, vni: web }]);
  await fw2.apply([portOf(slivers.web1), portOf(slivers.db1)], [{ address: gw1.tunnel6, vni: web }]);
  const web1 = sliverNetAddresses(web, 1);
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(await ping('sgts1', web1.ipv4), 'web-0 → web-1 through the firewall');
  assert.ok(await ping('sgts1', web1.ipv6), 'and over IPv6 (neighbour discovery passes)');

  // Another address, IPv4 or IPv6: dropped before the bridge.
  await inNamespace('sgts1', ['ip', 'addr', 'add', '100.72.0.9/24', 'dev', 'eth1'], true);
  await inNamespace('sgts1', ['ip', 'addr', 'add', 'fd68:6561:7274:5::9/64', 'dev', 'eth1', 'nodad'], true);
  const from = async (source: string, target: string): Promise<boolean> =>
    (await inNamespace('sgts1', ['ping', '-n', '-q', '-c', '1', '-W', '2', '-I', source, target])).exitCode === 0;
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(!(await from('100.72.0.9', web1.ipv4)), 'a spoofed IPv4 source does not get through');
  assert.ok(!(await from('fd68:6561:7274:5::9', web1.ipv6)), 'a spoofed IPv6 source does not get through');
  await inNamespace('sgts1', ['ip', 'addr', 'del', '100.72.0.9/24', 'dev', 'eth1'], true);
  await inNamespace('sgts1', ['ip', 'addr', 'del', 'fd68:6561:7274:5::9/64', 'dev', 'eth1'], true);

  // Another MAC (web-1's own): dropped too; back to its own, through again.
  await inNamespace('sgts1', ['ip', 'link', 'set', 'dev', 'eth1', 'address', web1.mac], true);
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(!(await ping('sgts1', web1.ipv4)), 'a spoofed MAC does not get through');
  await inNamespace('sgts1', ['ip', 'link', 'set', 'dev', 'eth1', 'address', sliverNetAddresses(web, 0).mac], true);
  await inNamespace('sgts1', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(await ping('sgts1', web1.ipv4), 'its own MAC gets through');

  // The gateway, addressed at its segment bridge's MAC, with a way back (as a careless host would have): nothing.
  const { bridge } = segmentLinks('sga', web);
  const bridgeMac = (JSON.parse((await inNamespace(gw1.namespace, ['ip', '-j', 'link', 'show', 'dev', bridge], true)).stdout) as { address: string }[])[0]?.address as string;
  await inNamespace(gw1.namespace, ['ip', 'route', 'add', '100.72.0.2/32', 'dev', bridge], true);
  await inNamespace('sgts1', ['ip', 'route', 'add', `${gw1.underlay}/32`, 'dev', 'eth1'], true);
  await inNamespace('sgts1', ['ip', 'neigh', 'replace', gw1.underlay, 'lladdr', bridgeMac, 'dev', 'eth1'], true);
  assert.ok(!(await ping('sgts1', gw1.underlay)), 'the gateway does not answer from its slice bridge');
  await inNamespace(gw1.namespace, ['nft', 'delete', 'table', 'bridge', 'hearth_sn_sga'], true);
  assert.ok(await ping('sgts1', gw1.underlay), 'without the firewall it would (so the check above can fail)');
  await inNamespace(gw1.namespace, ['ip', 'route', 'del', '100.72.0.2/32', 'dev', bridge], true);
  await inNamespace('sgts1', ['ip', 'route', 'del', `${gw1.underlay}/32`, 'dev', 'eth1'], true);

  // gw2 floods db's frames to gw1, which shares only web with it: gw1 takes none of them.
  await seg1.apply([{ vni: web, remotes: [gw2.tunnel6] }, { vni: db, remotes: [gw2.tunnel6] }]);
  await seg2.apply([{ vni: web, remotes: [gw1.tunnel6] }, { vni: db, remotes: [gw1.tunnel6] }]);
  await attach(slivers.db0);
  await fw1.apply([portOf(slivers.web0), portOf(slivers.db0)], [{ address: gw2.tunnel6, vni: web }]);
  const db0 = sliverNetAddresses(db, 0).ipv4;
  assert.ok(!(await ping('sgts3', db0)), 'db-1 does not reach db-0 through a gateway gw1 does not share db with');
  await fw1.apply([portOf(slivers.web0), portOf(slivers.db0)], [{ address: gw2.tunnel6, vni: web }, { address: gw2.tunnel6, vni: db }]);
  await fw2.apply([portOf(slivers.web1), portOf(slivers.db1)], [{ address: gw1.tunnel6, vni: web }, { address: gw1.tunnel6, vni: db }]);
  await inNamespace('sgts3', ['ip', 'neigh', 'flush', 'dev', 'eth1'], true);
  assert.ok(await ping('sgts3', db0), 'once gw1 shares db with gw2, it does');
  await seg1.detach(slivers.db0.veth);
  await seg1.apply([{ vni: web, remotes: [gw2.tunnel6] }]);
});

test('a segment no longer wanted is removed, and teardown leaves no link', { skip }, async () => {
  await seg2.apply([{ vni: web, remotes: [gw1.tunnel6] }]);
  const { vxlan, bridge } = segmentLinks('sgb', db);
  const left = await linksOf(gw2.namespace, 'sgb');
  assert.ok(!left.includes(vxlan) && !left.includes(bridge), `db's segment is gone from gw2: ${left.join(', ')}`);
  await seg1.teardown();
  await seg2.teardown();
  await seg2.teardown();
  assert.deepEqual(await linksOf(gw1.namespace, 'sga'), []);
  assert.deepEqual(await linksOf(gw2.namespace, 'sgb'), []);
});
