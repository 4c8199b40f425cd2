// Sliver networking on the real kernel: a real bridge and real nftables
// tables, slivers emulated by network namespaces, every claim checked with
// real traffic. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for namespaces).

import { freePort } from '../../support/ports.js';
import { createTeardown } from '../../support/teardown.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer, connect, type Server } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { HearthError } from '../../../src/model/errors.js';
import { runTool } from '../../../src/net/run.js';
import { createSliverNetwork, hostVethName } from '../../../src/net/sliver-net.js';
import type { NetworkPlan, SliverPort } from '../../../src/net/types.js';
import {
  addFakeSliver, addUpstream, connectFrom, nsRun, ping, removeLinkIfAny, removeNs, sendUdp, startServer, startUdpSink, stopProcess,
  type FakeSliver, type UdpSink,
} from './fake-slivers.js';

const isRoot = process.getuid?.() === 0;
// br_netfilter changes the path bridged and hairpinned packets take; the
// no-br-netfilter test runs this file again in a namespace where it is off.
const brNetfilter = await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').then((t) => t.trim() === '1', () => false);
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const suffix = Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
const bridge = `htn${suffix}`;
const table = `hearth_t_${suffix}`;
const subnet = `10.${randomInt(210, 250)}.${randomInt(0, 256)}.0/24`;
const base = subnet.split('.').slice(0, 3).join('.');
const upstreamNet = `10.251.${randomInt(0, 256)}.${4 * randomInt(0, 64)}`;
const SERVER_PORT = 8000;
const UDP_PORT = 9000;

function rootConnect(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    let out = '';
    const timer = setTimeout(() => { s.destroy(); resolve(undefined); }, 1500);
    s.on('data', (d) => { out += String(d); });
    s.on('end', () => { clearTimeout(timer); resolve(out.trim()); });
    s.on('error', () => { clearTimeout(timer); resolve(undefined); });
  });
}

async function hearthTables(): Promise<string> {
  const r = await runTool('nft', ['list', 'tables']);
  return r.stdout.split('\n').filter((l) => l.includes(table)).join('\n');
}

async function listTable(family: string): Promise<string> {
  return (await runTool('nft', ['list', 'table', family, table])).stdout;
}

describe(`sliver network on the real kernel (br_netfilter ${brNetfilter ? 'on' : 'off'})`, { skip: isRoot ? false : 'needs root' }, () => {
  const net = createSliverNetwork({ bridge, subnet, table });
  const ids = { a1: `${suffix}-a1`, a2: `${suffix}-a2`, b1: `${suffix}-b1` };
  const slivers: Record<keyof typeof ids, FakeSliver | undefined> = { a1: undefined, a2: undefined, b1: undefined };
  const namespaces: string[] = [];
  const processes: ChildProcess[] = [];
  const upstreamNs = `htu${suffix}`;
  const upstreamVeth = `hu${suffix}`;
  let upstream: { rootAddress: string; address: string } | undefined;
  let hostServer: Server | undefined;
  let sink: UdpSink | undefined;
  let hostPort = 0;

  const port = (key: keyof typeof ids, slice: string): SliverPort => {
    const s = slivers[key];
    assert.ok(s);
    return { sliverId: ids[key], slice, hostVeth: s.hostVeth, address: s.address };
  };
  const fullPlan = (forwards: NetworkPlan['forwards'] = []): NetworkPlan => ({
    ports: [port('a1', 'alpha'), port('a2', 'alpha'), port('b1', 'beta')],
    forwards,
  });
  const sliver = (key: keyof typeof ids): FakeSliver => {
    const s = slivers[key];
    assert.ok(s);
    return s;
  };

  before(async () => {
    await net.setup();
    let n = 2;
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) {
      const ns = `hts${suffix}${key}`;
      namespaces.push(ns);
      slivers[key] = await addFakeSliver(ns, hostVethName(ids[key]), bridge, `${base}.${n++}`, net.prefixLength, net.gateway);
    }
    namespaces.push(upstreamNs);
    upstream = await addUpstream(upstreamNs, upstreamVeth, upstreamNet);
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) processes.push(await startServer(sliver(key).ns, SERVER_PORT, key));
    processes.push(await startServer(upstreamNs, SERVER_PORT, 'upstream'));
    sink = await startUdpSink(sliver('a1').ns, UDP_PORT);
    processes.push(sink.process);
    hostServer = createServer((s) => s.end('host\n'));
    await new Promise<void>((resolve) => hostServer?.listen(0, '0.0.0.0', resolve));
    const address = hostServer.address();
    assert.ok(address !== null && typeof address === 'object');
    hostPort = address.port;
    await net.apply(fullPlan());
  });

  after(async () => {
    // Every step runs even if an earlier one failed; the first failure is reported.
    const { attempt, finish } = createTeardown();
    for (const p of processes) await attempt(() => stopProcess(p));
    await attempt(() => new Promise<void>((resolve) => (hostServer ? hostServer.close(() => resolve()) : resolve())));
    await attempt(() => net.teardown());
    for (const ns of namespaces) await attempt(() => removeNs(ns));
    await attempt(() => removeLinkIfAny(upstreamVeth));
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) await attempt(() => removeLinkIfAny(hostVethName(ids[key])));
    await attempt(async () => assert.equal(await hearthTables(), '', 'no hearth table may be left behind'));
    finish();
  });

  test('setup is idempotent: the bridge is up with the gateway address, forwarding is on', async () => {
    await net.setup();
    const show = await runTool('ip', ['-j', 'addr', 'show', 'dev', bridge]);
    const [link] = JSON.parse(show.stdout) as { flags: string[]; addr_info: { local: string; prefixlen: number }[] }[];
    assert.ok(link);
    assert.ok(link.flags.includes('UP'));
    assert.deepEqual(link.addr_info.filter((a) => a.local === net.gateway).map((a) => a.prefixlen), [24]);
    assert.equal((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim(), '1');
    // setup applied the empty plan; put the slivers back.
    await net.apply(fullPlan());
  });

  test('slivers of one slice reach each other', async () => {
    assert.ok(await ping(sliver('a1').ns, sliver('a2').address));
    assert.equal(await connectFrom(sliver('a2').ns, sliver('a1').address, SERVER_PORT), `a1 ${sliver('a2').address}`);
  });

  test('slivers of different slices do not, at layer 2 or through the host', async () => {
    assert.equal(await ping(sliver('b1').ns, sliver('a1').address), false);
    assert.equal(await ping(sliver('a2').ns, sliver('b1').address), false);
    assert.equal(await connectFrom(sliver('b1').ns, sliver('a1').address, SERVER_PORT), undefined);
    // Routing through the gateway instead of the bridge changes nothing.
    await nsRun(sliver('b1').ns, ['ip', 'route', 'add', `${sliver('a1').address}/32`, 'via', net.gateway]);
    await nsRun(sliver('b1').ns, ['ip', 'neigh', 'flush', 'all']);
    try {
      assert.equal(await connectFrom(sliver('b1').ns, sliver('a1').address, SERVER_PORT), undefined);
    } finally {
      await nsRun(sliver('b1').ns, ['ip', 'route', 'del', `${sliver('a1').address}/32`]);
    }
  });

  test('a sliver cannot pass for another by changing its address', async () => {
    const b1 = sliver('b1');
    await nsRun(b1.ns, ['ip', 'addr', 'add', `${base}.200/24`, 'dev', 'eth0']);
    try {
      // Its own address still works; a borrowed one does not even reach the gateway.
      assert.equal(await ping(b1.ns, net.gateway, `${base}.200`), false);
      assert.ok(await ping(b1.ns, net.gateway));
    } finally {
      await nsRun(b1.ns, ['ip', 'addr', 'del', `${base}.200/24`, 'dev', 'eth0']);
    }
  });

  test('a sliver cannot slip datagrams into another slice through the host, even under a borrowed address', async () => {
    assert.ok(sink);
    const [a1, a2, b1] = [sliver('a1'), sliver('a2'), sliver('b1')];
    const [link] = JSON.parse((await runTool('ip', ['-j', 'link', 'show', 'dev', bridge])).stdout) as { address: string }[];
    assert.ok(link);
    await nsRun(b1.ns, ['ip', 'neigh', 'replace', net.gateway, 'lladdr', link.address, 'dev', 'eth0', 'nud', 'permanent']);
    await nsRun(b1.ns, ['ip', 'route', 'add', `${a1.address}/32`, 'via', net.gateway]);
    await nsRun(b1.ns, ['ip', 'addr', 'add', `${a2.address}/32`, 'dev', 'eth0']);
    try {
      await sendUdp(b1.ns, b1.address, a1.address, UDP_PORT, 'routed');
      await sendUdp(b1.ns, a2.address, a1.address, UDP_PORT, 'borrowed');
    } finally {
      await nsRun(b1.ns, ['ip', 'addr', 'del', `${a2.address}/32`, 'dev', 'eth0']);
      await nsRun(b1.ns, ['ip', 'route', 'del', `${a1.address}/32`]);
      await nsRun(b1.ns, ['ip', 'neigh', 'del', net.gateway, 'dev', 'eth0']);
    }
    // The same slice's datagram, sent last, marks when the others would have arrived.
    await sendUdp(a2.ns, a2.address, a1.address, UDP_PORT, 'same-slice');
    for (let i = 0; i < 30 && !sink.received().includes(`${a2.address} same-slice`); i++) await delay(100);
    assert.deepEqual(sink.received(), [`${a2.address} same-slice`]);
  });

  test('from outside, a sliver is reachable only through a forward', async () => {
    assert.ok(upstream);
    await nsRun(upstreamNs, ['ip', 'route', 'add', subnet, 'via', upstream.rootAddress]);
    try {
      assert.equal(await connectFrom(upstreamNs, sliver('a1').address, SERVER_PORT), undefined);
      assert.equal(await ping(upstreamNs, sliver('a1').address), false);
    } finally {
      await nsRun(upstreamNs, ['ip', 'route', 'del', subnet]);
    }
  });

  test('a sliver can ping the gateway but cannot open a connection to any host port', async () => {
    assert.equal(await rootConnect('127.0.0.1', hostPort), 'host', 'the host server is up');
    for (const key of Object.keys(ids) as (keyof typeof ids)[]) assert.ok(await ping(sliver(key).ns, net.gateway), key);
    assert.equal(await connectFrom(sliver('a1').ns, net.gateway, hostPort), undefined);
    assert.ok(upstream);
    assert.equal(await connectFrom(sliver('a1').ns, upstream.rootAddress, hostPort), undefined, 'nor on another host address');
  });

  test('NAT out: a sliver reaches an upstream network under the host address', async () => {
    assert.ok(upstream);
    assert.match(await listTable('inet'), /masquerade/);
    assert.equal(await connectFrom(sliver('a1').ns, upstream.address, SERVER_PORT), `upstream ${upstream.rootAddress}`);
    assert.equal(await connectFrom(sliver('b1').ns, upstream.address, SERVER_PORT), `upstream ${upstream.rootAddress}`);
  });

  test('a port forward reaches the sliver from the host, from upstream and from another slice', async () => {
    assert.ok(upstream);
    const forwardPort = await freePort();
    await net.apply(fullPlan([{ proto: 'tcp', hostPort: forwardPort, address: sliver('a1').address, port: SERVER_PORT }]));
    // From the host itself, to its own non-loopback addresses.
    assert.equal(await rootConnect(net.gateway, forwardPort), `a1 ${net.gateway}`);
    assert.equal(await rootConnect(upstream.rootAddress, forwardPort), `a1 ${upstream.rootAddress}`);
    // From outside: the client's own address reaches the sliver.
    assert.equal(await connectFrom(upstreamNs, upstream.rootAddress, forwardPort), `a1 ${upstream.address}`);
    // A forward is public, so another slice's sliver may use it too, through the gateway.
    assert.equal(await connectFrom(sliver('b1').ns, net.gateway, forwardPort), `a1 ${net.gateway}`);
    // Without the forward, the port is closed to the outside again.
    await net.apply(fullPlan());
    assert.equal(await connectFrom(upstreamNs, upstream.rootAddress, forwardPort), undefined);
  });

  test('applying the same plan twice gives the same ruleset', async () => {
    const plan = fullPlan([{ proto: 'udp', hostPort: 5353, address: sliver('b1').address, port: 53 }]);
    await net.apply(plan);
    const first = (await listTable('bridge')) + (await listTable('inet'));
    await net.apply(plan);
    assert.equal((await listTable('bridge')) + (await listTable('inet')), first);
  });

  test('leftover veths are found and removed, idempotently', async () => {
    const found = await net.hostVethsOnBridge();
    assert.deepEqual([...found].sort(), Object.values(ids).map(hostVethName).sort());
    await net.removeLink(sliver('b1').hostVeth);
    await net.removeLink(sliver('b1').hostVeth);
    assert.deepEqual((await net.hostVethsOnBridge()).includes(sliver('b1').hostVeth), false);
    await assert.rejects(net.removeLink(bridge), (e: unknown) => e instanceof HearthError && e.code === 'network_error');
  });

  test('a sliver removed from the plan leaves no rule behind', async () => {
    const b1 = sliver('b1');
    assert.match((await listTable('bridge')) + (await listTable('inet')), new RegExp(b1.hostVeth));
    await net.apply({ ports: [port('a1', 'alpha'), port('a2', 'alpha')], forwards: [] });
    const ruleset = (await listTable('bridge')) + (await listTable('inet'));
    assert.doesNotMatch(ruleset, new RegExp(b1.hostVeth));
    assert.doesNotMatch(ruleset, new RegExp(`${b1.address.replaceAll('.', '\\.')}\\b`));
    assert.ok(await ping(sliver('a1').ns, sliver('a2').address), 'the others still talk');
  });

  test('teardown leaves no table and no bridge, and may run twice', async () => {
    await net.teardown();
    await net.teardown();
    assert.equal(await hearthTables(), '');
    const link = await runTool('ip', ['link', 'show', 'dev', bridge]);
    assert.notEqual(link.exitCode, 0);
    assert.deepEqual(await net.hostVethsOnBridge(), []);
  });
});
