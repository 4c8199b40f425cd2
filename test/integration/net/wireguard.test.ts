// The WireGuard tunnel layer on the real kernel: two gateways in network
// namespaces wgtgw1 and wgtgw2, joined by a veth, each running wireguard-go
// through src/net/wg/tunnel.ts. Pings cross the tunnel both ways over IPv4
// and IPv6, the veth carries only WireGuard's UDP, a removed peer is cut off
// at once and comes back when set again, bring-up is idempotent and repairs
// a killed daemon, and teardown leaves nothing. Needs root.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HearthError } from '../../../src/model/errors.js';
import { findDaemons } from '../../../src/net/wg/daemon.js';
import { generateKeyPair, publicKeyOf, writeKeyFile } from '../../../src/net/wg/keys.js';
import { createWgTunnel } from '../../../src/net/wg/tunnel.js';
import { createTeardown } from '../../support/teardown.js';
import { until } from '../../support/until.js';
import { inNamespace, interfaceConfig, peerOf, wgPair, type WgGateway } from '../../support/wg-pair.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root';
const pair = wgPair('wgt');
const [gw1, gw2] = pair.gateways;
const keys = [generateKeyPair(), generateKeyPair()] as const;
const dir = mkdtempSync(join(tmpdir(), 'hearth-wg-'));
const keyFiles = [join(dir, 'gw1.key'), join(dir, 'gw2.key')] as const;
const config1 = interfaceConfig(gw1, keyFiles[0]);
const config2 = interfaceConfig(gw2, keyFiles[1]);
const [t1, t2] = pair.gateways.map((g) => createWgTunnel({ name: g.name, namespace: g.namespace }));
if (t1 === undefined || t2 === undefined) throw new Error('two tunnels');

before(async () => {
  await writeKeyFile(keyFiles[0], keys[0].privateKey);
  await writeKeyFile(keyFiles[1], keys[1].privateKey);
  if (isRoot) await pair.create();
});

after(async () => {
  if (!isRoot) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const teardown = createTeardown();
  await teardown.attempt(() => t1.down());
  await teardown.attempt(() => t2.down());
  await teardown.attempt(() => pair.remove());
  await teardown.attempt(() => rm(dir, { recursive: true, force: true }));
  teardown.finish();
});

async function ping(from: WgGateway, address: string): Promise<boolean> {
  return (await inNamespace(from.namespace, ['ping', '-n', '-q', '-c', '1', '-W', '2', address])).exitCode === 0;
}

async function pingsAcross(): Promise<void> {
  assert.ok(await ping(gw1, gw2.tunnel4), 'gw1 → gw2 over IPv4');
  assert.ok(await ping(gw2, gw1.tunnel4), 'gw2 → gw1 over IPv4');
  assert.ok(await ping(gw1, gw2.tunnel6), 'gw1 → gw2 over IPv6');
  assert.ok(await ping(gw2, gw1.tunnel6), 'gw2 → gw1 over IPv6');
}

/** Packets counted by the named nft counter in table inet wgt of gateway g's namespace. */
async function counter(g: WgGateway, name: string): Promise<number> {
  const out = (await inNamespace(g.namespace, ['nft', 'list', 'counter', 'inet', 'wgt', name], true)).stdout;
  return Number(/packets (\d+)/.exec(out)?.[1] ?? Number.NaN);
}

async function daemonPid(g: WgGateway): Promise<number | undefined> {
  const daemons = await findDaemons(g.name);
  assert.ok(daemons.length <= 1, `one daemon for ${g.name}`);
  return daemons[0]?.pid;
}

test('wg pubkey agrees with the keys node:crypto makes', { skip }, async () => {
  for (const pair of keys) {
    const out = await inNamespace(gw1.namespace, ['wg', 'pubkey'], true, `${pair.privateKey}\n`);
    assert.equal(out.stdout.trim(), pair.publicKey);
  }
  const genkey = (await inNamespace(gw1.namespace, ['wg', 'genkey'], true)).stdout.trim();
  const pubkey = (await inNamespace(gw1.namespace, ['wg', 'pubkey'], true, `${genkey}\n`)).stdout.trim();
  assert.equal(publicKeyOf(genkey), pubkey);
});

test('two gateways reach each other through the tunnel, over IPv4 and IPv6', { skip }, async () => {
  await t1.up(config1);
  await t2.up(config2);
  assert.deepEqual((await t1.setPeers([peerOf(gw2, keys[1])])).add.length, 1);
  assert.deepEqual((await t2.setPeers([peerOf(gw1, keys[0])])).add.length, 1);
  await pingsAcross();

  const s1 = await t1.status();
  assert.equal(s1.publicKey, keys[0].publicKey);
  assert.equal(s1.listenPort, gw1.listenPort);
  const peer = s1.peers[0];
  assert.equal(s1.peers.length, 1);
  assert.equal(peer?.publicKey, keys[1].publicKey);
  assert.deepEqual(peer?.endpoint, { host: gw2.underlay, port: gw2.listenPort });
  assert.deepEqual(peer?.allowedIps, [`${gw2.tunnel4}/32`, `${gw2.tunnel6}/128`]);
  assert.equal(peer?.persistentKeepalive, 25);
  assert.ok(peer?.latestHandshakeMs !== undefined && Math.abs(peer.latestHandshakeMs - Date.now()) < 60_000, 'a recent handshake');
  assert.ok((peer?.rxBytes ?? 0) > 0 && (peer?.txBytes ?? 0) > 0, 'bytes both ways');

  const link = JSON.parse((await inNamespace(gw1.namespace, ['ip', '-j', 'addr', 'show', 'dev', gw1.name], true)).stdout) as Array<{
    mtu: number;
    flags: string[];
  }>;
  assert.equal(link[0]?.mtu, 1420);
  assert.ok(link[0]?.flags.includes('UP'));
});

test('the veth carries only WireGuard UDP; the tunnel addresses show up only inside', { skip }, async () => {
  const rules = `table inet wgt {
  counter wg_udp {}
  counter plain_on_veth {}
  counter inner {}
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${gw2.veth}" udp dport ${gw2.listenPort} counter name wg_udp
    iifname "${gw2.veth}" ip daddr 10.252.0.0/24 counter name plain_on_veth
    iifname "${gw2.veth}" ip6 daddr fd52::/64 counter name plain_on_veth
    iifname "${gw2.name}" ip daddr ${gw2.tunnel4} counter name inner
  }
}
`;
  await inNamespace(gw2.namespace, ['nft', '-f', '-'], true, rules);
  const rxBefore = (await t2.status()).peers[0]?.rxBytes ?? 0;
  for (let i = 0; i < 5; i++) {
    assert.ok(await ping(gw1, gw2.tunnel4));
    assert.ok(await ping(gw1, gw2.tunnel6));
  }
  assert.ok((await counter(gw2, 'wg_udp')) >= 10, 'every ping came as UDP to the listen port');
  assert.ok((await counter(gw2, 'inner')) >= 5, 'the pings arrived, decrypted, on the WireGuard interface');
  assert.equal(await counter(gw2, 'plain_on_veth'), 0, 'no packet to a tunnel address on the veth');
  assert.ok(((await t2.status()).peers[0]?.rxBytes ?? 0) > rxBefore, 'the transfer counter rose');
  await inNamespace(gw2.namespace, ['nft', 'delete', 'table', 'inet', 'wgt'], true);
});

test('a removed peer is cut off at once; setting the peers again restores it', { skip }, async () => {
  await t1.removePeer(keys[1].publicKey);
  assert.deepEqual((await t1.status()).peers, []);
  assert.equal(await ping(gw1, gw2.tunnel4), false, 'gw1 no longer sends to gw2');
  assert.equal(await ping(gw2, gw1.tunnel4), false, 'gw1 drops what gw2 still sends');
  await t1.removePeer(keys[1].publicKey);

  assert.equal((await t1.setPeers([peerOf(gw2, keys[1])])).add.length, 1);
  await pingsAcross();
});

test('setting the peers is one idempotent reconcile: no change, an update, a removal', { skip }, async () => {
  const peer = peerOf(gw2, keys[1]);
  const again = await t1.setPeers([peer]);
  assert.deepEqual(again, { add: [], update: [], remove: [] });

  const wider = { ...peer, allowedIps: [...peer.allowedIps, '10.252.1.0/24'] };
  assert.equal((await t1.setPeers([wider])).update.length, 1);
  assert.deepEqual((await t1.status()).peers[0]?.allowedIps, ['10.252.0.2/32', '10.252.1.0/24', 'fd52::2/128']);

  const stranger = generateKeyPair().publicKey;
  await t1.setPeers([peer, { publicKey: stranger, endpoint: { host: '10.253.0.9', port: 51829 }, allowedIps: ['10.252.0.9/32'] }]);
  const diff = await t1.setPeers([peer]);
  assert.deepEqual(diff.remove, [stranger]);
  assert.deepEqual((await t1.status()).peers.map((p) => p.publicKey), [keys[1].publicKey]);
  await pingsAcross();
});

test('a second bring-up of a running interface keeps its daemon, peers and traffic', { skip }, async () => {
  const pid = await daemonPid(gw1);
  await t1.up(config1);
  assert.equal(await daemonPid(gw1), pid);
  assert.equal((await t1.status()).peers.length, 1);
  await pingsAcross();

  // Addresses are kept to exactly the configured set.
  const extra = { ...config1, addresses: [...config1.addresses, '10.252.0.11/24'] };
  await t1.up(extra);
  const shown = async (): Promise<string> => (await inNamespace(gw1.namespace, ['ip', '-br', 'addr', 'show', 'dev', gw1.name], true)).stdout;
  assert.match(await shown(), /10\.252\.0\.11\/24/);
  await t1.up(config1);
  assert.doesNotMatch(await shown(), /10\.252\.0\.11/);
  assert.equal(await daemonPid(gw1), pid);
});

test('a daemon killed outright is repaired by the next bring-up', { skip }, async () => {
  const pid = await daemonPid(gw2);
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL');
  // As when the agent restarts: the daemon has died by then (its TUN device may linger an instant).
  await until('the killed daemon is gone', async () => ((await daemonPid(gw2)) === undefined ? true : undefined), 5000, 20);
  await t2.up(config2);
  const fresh = await daemonPid(gw2);
  assert.ok(fresh !== undefined && fresh !== pid, 'a new daemon');
  assert.deepEqual((await t2.status()).peers, [], 'a new daemon starts without peers');
  // Its keepalive handshakes at once: gw1, whose old session died with the
  // daemon, reaches gw2 right away, gw1 → gw2 being the first ping.
  await t2.setPeers([peerOf(gw1, keys[0])]);
  await pingsAcross();
});

test('an interface name served in another namespace is refused, and that interface left alone', { skip }, async () => {
  const intruder = createWgTunnel({ name: gw1.name, namespace: gw2.namespace });
  await assert.rejects(intruder.up({ ...config2, listenPort: 51829 }), (err: unknown) => err instanceof HearthError && err.code === 'name_taken');
  await assert.rejects(intruder.setPeers([]), (err: unknown) => err instanceof HearthError && err.code === 'name_taken');
  await assert.rejects(intruder.down(), (err: unknown) => err instanceof HearthError && err.code === 'name_taken');
  assert.equal((await t1.status()).publicKey, keys[0].publicKey);
  await pingsAcross();
});

test('teardown leaves no interface, daemon or socket, and may be repeated', { skip }, async () => {
  for (const [t, g] of [[t1, gw1], [t2, gw2]] as const) {
    await t.down();
    const link = await inNamespace(g.namespace, ['ip', 'link', 'show', 'dev', g.name]);
    assert.notEqual(link.exitCode, 0, `${g.name} is gone`);
    assert.deepEqual(await findDaemons(g.name), []);
    assert.notEqual((await inNamespace(g.namespace, ['pgrep', '-f', '-x', `wireguard-go ${g.name}`])).exitCode, 0, 'pgrep finds no daemon');
    assert.notEqual((await inNamespace(g.namespace, ['test', '-e', `/var/run/wireguard/${g.name}.sock`])).exitCode, 0, 'no socket');
    await t.down();
    await assert.rejects(t.status(), (err: unknown) => err instanceof HearthError && err.code === 'network_error');
    await t.removePeer(keys[0].publicKey);
  }
});
