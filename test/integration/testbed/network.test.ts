// The emulated community network for real: three gateway namespaces with
// VXLAN devices, the link emulator as its own detached process steered over
// its control socket, and ping between community addresses. Traffic stays on
// this test's own bridge and namespaces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { layoutMesh, meshLinkMatrix } from '../../../src/testbed/layout.js';
import { setPairLink } from '../../../src/testbed/link-matrix.js';
import type { LinkMatrix } from '../../../src/testbed/link-matrix.js';
import type { LinkEmulatorCounters } from '../../../src/testbed/linkemu.js';
import { requestLinkEmulator } from '../../../src/testbed/linkemu-control.js';
import { spawnLinkEmulator, stopLinkEmulator } from '../../../src/testbed/linkemu-process.js';
import { createTestbedNetwork, enterArgs, runIp } from '../../../src/testbed/netns.js';
import { LINK_PROFILES } from '../../../src/testbed/profiles.js';
import { freePort } from '../../support/ports.js';

const prefix = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}-`;
const net = createTestbedNetwork({
  prefix,
  port: await freePort(),
  underlay: { network: `172.31.${randomInt(256)}.0`, prefixLength: 24 },
});
const GATEWAYS = [1, 2, 3];
const dir = mkdtempSync(join(tmpdir(), 'testbed-net-'));
const control = join(dir, 'linkemu.sock');
let emulatorPid: number | undefined;

interface PingResult {
  ok: boolean;
  minRttMs: number | undefined;
  output: string;
}

// `-c 1 -w 5` succeeds at the first reply within 5 s; `-c 3 -W 1` with no reply fails within ~3 s.
function ping(from: number, to: number, args: string[]): Promise<PingResult> {
  const [cmd, ...enter] = enterArgs(net.gateway(from).namespace);
  return new Promise((resolve) => {
    execFile(cmd!, [...enter, 'ping', '-n', '-q', ...args, net.gateway(to).communityAddress], { timeout: 15_000 }, (error, stdout) => {
      const rtt = /= ([\d.]+)\/[\d.]+\/[\d.]+\//.exec(stdout);
      resolve({ ok: error === null, minRttMs: rtt ? Number(rtt[1]) : undefined, output: stdout });
    });
  });
}
const reachable = (from: number, to: number): Promise<PingResult> => ping(from, to, ['-c', '1', '-w', '5']);
const unreachable = async (from: number, to: number): Promise<boolean> => !(await ping(from, to, ['-c', '3', '-i', '0.3', '-W', '1'])).ok;

// A receiver in gw2's namespace: one TCP stream and one UDP datagram, then it reports what arrived.
const RECEIVER = `
const net = require('node:net'), dgram = require('node:dgram'), crypto = require('node:crypto');
const [host] = process.argv.slice(1);
const got = {};
const done = () => { if (got.tcp && got.udp) { console.log(JSON.stringify(got)); process.exit(0); } };
const udp = dgram.createSocket('udp4').on('message', (m) => { got.udp = m.toString(); done(); });
const server = net.createServer((s) => {
  const hash = crypto.createHash('sha256'); let bytes = 0;
  s.on('data', (d) => { hash.update(d); bytes += d.length; });
  s.on('end', () => { got.tcp = { bytes, sha256: hash.digest('hex') }; done(); });
});
udp.bind(7778, host, () => server.listen(7777, host, () => console.log('listening')));
setTimeout(() => process.exit(2), 20000);
`;
const SENDER = `
const net = require('node:net'), dgram = require('node:dgram');
const [host] = process.argv.slice(1);
const payload = Buffer.alloc(1 << 20, 0).map((_, i) => i % 251);
const udp = dgram.createSocket('udp4');
udp.send('gossip over the community', 7778, host, () => udp.close());
const s = net.connect(7777, host, () => s.end(payload));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

function runNode(gateway: number, script: string, args: string[]): { stdout: Promise<string>; listening: Promise<void> } {
  const [cmd, ...enter] = enterArgs(net.gateway(gateway).namespace);
  const child = spawn(cmd!, [...enter, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 30_000 });
  let out = '';
  let onListening: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (out.includes('listening')) onListening();
  });
  const stdout = new Promise<string>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`node in gw${gateway} exited ${code}: ${out}`)))),
  );
  return { stdout, listening };
}

async function setLinks(links: LinkMatrix): Promise<void> {
  const response = await requestLinkEmulator(control, { op: 'links', links });
  assert.equal(response.ok, true);
}

async function counters(): Promise<LinkEmulatorCounters> {
  const response = await requestLinkEmulator(control, { op: 'stats' });
  assert.ok(response.ok);
  return response.stats.counters;
}

const lanLinks = (): LinkMatrix => meshLinkMatrix(layoutMesh({ gateways: GATEWAYS.length, seed: 1 }), LINK_PROFILES.lan);

void describe(`emulated community network (prefix ${prefix})`, () => {
  before(async () => {
    await net.createUnderlay();
    for (const g of GATEWAYS) await net.addGateway(g);
    const emulator = await spawnLinkEmulator({
      config: {
        listen: net.emulatorEndpoint,
        control,
        seed: 1,
        links: lanLinks(),
        gateways: GATEWAYS.map((g) => ({ gateway: g, ...net.gateway(g).endpoint })),
      },
      configPath: join(dir, 'linkemu.json'),
      logPath: join(dir, 'linkemu.log'),
    });
    emulatorPid = emulator.pid;
  });

  after(async () => {
    if (emulatorPid !== undefined) await stopLinkEmulator(control, emulatorPid);
    await net.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('on a lan profile every gateway pings every other over its community address', async () => {
    for (const from of GATEWAYS) {
      for (const to of GATEWAYS) {
        if (from === to) continue;
        const result = await reachable(from, to);
        assert.ok(result.ok, `gw${from} → gw${to}: ${result.output}`);
      }
    }
  });

  void test('a 1 MB TCP stream and a UDP datagram cross the emulator intact', async () => {
    const receiver = runNode(2, RECEIVER, [net.gateway(2).communityAddress]);
    await Promise.race([receiver.listening, receiver.stdout]);
    await runNode(1, SENDER, [net.gateway(2).communityAddress]).stdout;
    const got = JSON.parse((await receiver.stdout).split('\n').find((l) => l.startsWith('{'))!) as {
      tcp: { bytes: number; sha256: string };
      udp: string;
    };
    const expected = createHash('sha256').update(Buffer.alloc(1 << 20, 0).map((_, i) => i % 251)).digest('hex');
    assert.deepEqual(got, { tcp: { bytes: 1 << 20, sha256: expected }, udp: 'gossip over the community' });
  });

  void test('a 20 ms one-way delay between two gateways makes their round trip at least 40 ms', async () => {
    const links = lanLinks();
    setPairLink(links, 1, 2, { delayMs: 20, jitterMs: 0, loss: 0, rateBitsPerSecond: 0 });
    await setLinks(links);
    const result = await ping(1, 2, ['-c', '5', '-i', '0.2']);
    assert.ok(result.ok, result.output);
    console.log(`# gw1 ↔ gw2 with 20 ms each way: ${result.output.trim().split('\n').at(-1)}`);
    assert.ok(result.minRttMs !== undefined && result.minRttMs >= 40, `min RTT ${result.minRttMs} ms`);
    const other = await ping(2, 3, ['-c', '3', '-i', '0.2']);
    assert.ok(other.ok, `gw2 ↔ gw3 still answers: ${other.output}`);
  });

  void test('a path that loses everything carries nothing', async () => {
    const links = lanLinks();
    setPairLink(links, 1, 3, { delayMs: 0, jitterMs: 0, loss: 1, rateBitsPerSecond: 0 });
    await setLinks(links);
    assert.ok(await unreachable(1, 3), 'gw1 → gw3 with 100% loss');
    assert.ok((await counters()).droppedLoss > 0);
    await setLinks(lanLinks());
    assert.ok((await reachable(1, 3)).ok, 'restored once the loss is gone');
  });

  void test('partition([[1],[2,3]]) cuts gw1 off from gw2 but not gw2 from gw3; heal restores it', async () => {
    const partitioned = await requestLinkEmulator(control, { op: 'partition', groups: [[1], [2, 3]] });
    assert.equal(partitioned.ok, true);
    assert.ok(await unreachable(1, 2), 'gw1 → gw2 across the partition');
    assert.ok((await reachable(2, 3)).ok, 'gw2 → gw3 within a group');
    await requestLinkEmulator(control, { op: 'heal' });
    assert.ok((await reachable(1, 2)).ok, 'gw1 → gw2 after heal');
  });

  void test('malformed datagrams sent to the emulator are counted, and it keeps forwarding', async () => {
    const before = (await counters()).decodeErrors;
    const socket = createSocket('udp4');
    for (const garbage of ['x', 'definitely not vxlan', '\u0008\u0000\u0000']) {
      await new Promise<void>((resolve) => socket.send(Buffer.from(garbage), net.emulatorEndpoint.port, net.emulatorEndpoint.host, () => resolve()));
    }
    socket.close();
    let after = await counters();
    for (let i = 0; i < 50 && after.decodeErrors < before + 3; i++) {
      await sleep(20);
      after = await counters();
    }
    assert.equal(after.decodeErrors - before, 3);
    assert.ok((await reachable(3, 1)).ok);
  });

  void test('stopping the emulator and tearing down leaves no namespace, link or process behind', async () => {
    await stopLinkEmulator(control, emulatorPid!);
    assert.throws(() => process.kill(emulatorPid!, 0), 'the emulator process is gone');
    emulatorPid = undefined;
    const removed = await net.teardown();
    assert.equal(removed.namespaces.length, 3);
    const namespaces = await runIp(['netns', 'list']);
    const links = await runIp(['link', 'show']);
    assert.ok(!namespaces.includes(prefix), namespaces);
    assert.ok(!links.includes(prefix), links);
  });
});
