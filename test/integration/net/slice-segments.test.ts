// Slice networks' data plane on the real kernel: two gateways (namespaces
// sgtgw1, sgtgw2) joined by a WireGuard tunnel; on them, segments of two
// slices whose slivers (plain namespaces here: this tests the segments, not
// LXC) use the same address plan. A sliver reaches its slice's sliver on the
// other gateway by IPv4 and IPv6, with the MAC its index gives it; it never
// reaches the other slice's sliver at the same address, nor the gateways'
// own addresses; a flood list follows the slice's gateways; and apply,
// attach and teardown are idempotent and leave nothing. Needs root.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sliceVni, sliverNetAddresses, SLICE_NET_V4_BITS, SLICE_NET_V6_BITS } from '../../../src/cloud/slice-net.js';
import { runTool, runToolChecked } from '../../../src/net/run.js';
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
/** Slivers as namespaces: web's index 0 on gw1 and index 1 on gw2, and db's index 1 on gw2 (the same addresses as web's). */
const slivers = {
  web0: { ns: 'sgts1', vni: web, index: 0, veth: 'sgtp1', on: seg1 },
  web1: { ns: 'sgts2', vni: web, index: 1, veth: 'sgtp2', on: seg2 },
  db1: { ns: 'sgts3', vni: db, index: 1, veth: 'sgtp3', on: seg2 },
};

async function removeSlivers(): Promise<void> {
  for (const s of Object.values(slivers)) await runTool('ip', ['netns', 'del', s.ns]);
}

async function attach(s: (typeof slivers)[keyof typeof slivers]): Promise<void> {
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
  for (const s of Object.values(slivers)) await attach(s);
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
