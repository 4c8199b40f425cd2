// The link emulator over real UDP sockets on loopback, with gateways played by
// plain sockets speaking VXLAN: forwarding, malformed datagrams, and the
// control socket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLinkEmulator } from '../../../src/testbed/linkemu.js';
import type { LinkEmulator, UdpEndpoint } from '../../../src/testbed/linkemu.js';
import { requestLinkEmulator, serveLinkEmulatorControl } from '../../../src/testbed/linkemu-control.js';
import type { LinkEmulatorControl } from '../../../src/testbed/linkemu-control.js';
import { uniformLinkMatrix } from '../../../src/testbed/link-matrix.js';
import { encodeVxlan } from '../../../src/testbed/vxlan-frame.js';

interface FakeGateway {
  socket: Socket;
  received: Buffer[];
  endpoint: UdpEndpoint;
}

const macOf = (g: number): number[] => [0x02, 0x68, 0x62, 0, 0, g];
const ethernet = (src: number, dst: number[], payload: string): Uint8Array =>
  Uint8Array.from([...dst, ...macOf(src), 0x08, 0x00, ...Buffer.from(payload)]);
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await sleep(20);
  assert.ok(condition(), `timed out waiting for ${what}`);
}

void describe('link emulator over loopback UDP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'linkemu-'));
  const controlPath = join(dir, 'control.sock');
  const gateways: FakeGateway[] = [];
  let emulator: LinkEmulator;
  let control: LinkEmulatorControl;
  let listen: UdpEndpoint;

  before(async () => {
    emulator = createLinkEmulator({
      listen: { host: '127.0.0.1', port: 0 },
      links: uniformLinkMatrix(3, { delayMs: 1, jitterMs: 0, loss: 0, rateBitsPerSecond: 0 }),
      seed: 5,
    });
    listen = await emulator.start();
    for (const g of [1, 2, 3]) {
      const socket = createSocket('udp4');
      socket.bind(0, `127.0.0.${g + 1}`);
      await once(socket, 'listening');
      const received: Buffer[] = [];
      socket.on('message', (m) => received.push(m));
      const endpoint = { host: `127.0.0.${g + 1}`, port: socket.address().port };
      emulator.register(g, endpoint);
      gateways.push({ socket, received, endpoint });
    }
    control = await serveLinkEmulatorControl({ emulator, path: controlPath, onStop: () => undefined });
  });

  after(async () => {
    await control?.close();
    await emulator?.stop();
    for (const g of gateways) g.socket.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (from: number, datagram: Uint8Array): void => {
    gateways[from - 1]!.socket.send(datagram, listen.port, listen.host);
  };
  const got = (g: number, text: string): boolean => gateways[g - 1]!.received.some((m) => m.includes(text));

  void test('a broadcast from one gateway reaches the others, byte for byte, and not itself', async () => {
    const datagram = encodeVxlan(42, ethernet(1, BROADCAST, 'hello-all'));
    send(1, datagram);
    await waitFor(() => got(2, 'hello-all') && got(3, 'hello-all'), 'the broadcast');
    assert.deepEqual(new Uint8Array(gateways[1]!.received.at(-1)!), datagram);
    assert.equal(got(1, 'hello-all'), false);
  });

  void test('malformed datagrams are counted and ignored, and forwarding goes on', async () => {
    const before = emulator.stats().counters.decodeErrors;
    send(2, Buffer.from('not vxlan at all'));
    send(2, new Uint8Array(0));
    send(2, new Uint8Array(5000).fill(0xff));
    send(2, encodeVxlan(42, ethernet(2, BROADCAST, 'still-here')));
    await waitFor(() => got(1, 'still-here'), 'forwarding after garbage');
    assert.equal(emulator.stats().counters.decodeErrors - before, 3);
  });

  void test('a datagram from an address no gateway is registered at is counted and dropped', async () => {
    const stranger = createSocket('udp4');
    stranger.bind(0, '127.0.0.9');
    await once(stranger, 'listening');
    const before = emulator.stats().counters.unknownSender;
    stranger.send(encodeVxlan(42, ethernet(9, BROADCAST, 'intruder')), listen.port, listen.host);
    await waitFor(() => emulator.stats().counters.unknownSender > before, 'the count');
    stranger.close();
    await sleep(50);
    assert.ok(!got(1, 'intruder') && !got(2, 'intruder') && !got(3, 'intruder'));
  });

  void test('the control socket partitions, heals and reports', async () => {
    const partitioned = await requestLinkEmulator(controlPath, { op: 'partition', groups: [[1], [2, 3]] });
    assert.equal(partitioned.ok, true);
    send(2, encodeVxlan(42, ethernet(2, BROADCAST, 'in-partition')));
    await waitFor(() => got(3, 'in-partition'), '2 → 3 inside the group');
    await sleep(50);
    assert.equal(got(1, 'in-partition'), false, '2 → 1 crosses the partition');

    await requestLinkEmulator(controlPath, { op: 'heal' });
    send(2, encodeVxlan(42, ethernet(2, BROADCAST, 'healed')));
    await waitFor(() => got(1, 'healed'), '2 → 1 after heal');

    const stats = await requestLinkEmulator(controlPath, { op: 'stats' });
    assert.ok(stats.ok && stats.stats.counters.droppedPartition >= 1 && stats.stats.registered.length === 3);
  });

  void test('the control socket refuses bad requests without changing anything', async () => {
    const bad = await requestLinkEmulator(controlPath, { op: 'partition', groups: [[1, 2], [2]] });
    assert.deepEqual(bad.ok ? undefined : bad.code, 'invalid_request');
    const unknown = await requestLinkEmulator(controlPath, { op: 'reboot' } as never);
    assert.equal(unknown.ok, false);
    send(1, encodeVxlan(42, ethernet(1, BROADCAST, 'unchanged')));
    await waitFor(() => got(2, 'unchanged') && got(3, 'unchanged'), 'forwarding as before');
  });
});
