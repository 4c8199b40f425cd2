// `wg show IF dump` as wg 1.0 prints it, read into hearth's shape.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../../src/model/errors.js';
import { parseDump } from '../../../../src/net/wg/dump.js';

const PRIVATE = 'ULjBt0sEA1qNSXpE7DQJZkKbTa1aG3cyr2h/tu+M/n0=';
const PUBLIC = 'cMqhVA4NzKOSx8NuH/ZSdrQcdEh0CFAX533IT7lgUnA=';
const PEER_A = 'ybynz41g5yeoRKzB3ChG8xrQUL0M8wdxIadxSZoeEWw=';
const PEER_B = 'Xy6VsQyGF1dnwV1MYoVO+HFGWJHcreDXl8BA8WNygH8=';

const DUMP = [
  `${PRIVATE}\t${PUBLIC}\t51820\toff`,
  `${PEER_A}\t(none)\t10.253.0.2:51822\t10.252.0.2/32,fd52::2/128\t1764601234\t1234\t5678\toff`,
  `${PEER_B}\t(none)\t[FD00::1]:7\t(none)\t0\t0\t0\t25`,
  '',
].join('\n');

function malformed(text: string): void {
  assert.throws(() => parseDump(text), (err: unknown) => err instanceof HearthError && err.code === 'network_error' && !err.message.includes(PRIVATE));
}

describe('parseDump', () => {
  test('reads the interface and each peer', () => {
    assert.deepEqual(parseDump(DUMP), {
      publicKey: PUBLIC,
      listenPort: 51820,
      peers: [
        {
          publicKey: PEER_A,
          endpoint: { host: '10.253.0.2', port: 51822 },
          allowedIps: ['10.252.0.2/32', 'fd52::2/128'],
          latestHandshakeMs: 1764601234000,
          rxBytes: 1234,
          txBytes: 5678,
          persistentKeepalive: undefined,
        },
        {
          publicKey: PEER_B,
          endpoint: { host: 'fd00::1', port: 7 },
          allowedIps: [],
          latestHandshakeMs: undefined,
          rxBytes: 0,
          txBytes: 0,
          persistentKeepalive: 25,
        },
      ],
    });
  });

  test('an interface without key or peers', () => {
    assert.deepEqual(parseDump('(none)\t(none)\t46557\toff\n'), { publicKey: undefined, listenPort: 46557, peers: [] });
  });

  test('a peer never heard from has no endpoint', () => {
    const dump = parseDump(`${PRIVATE}\t${PUBLIC}\t1\toff\n${PEER_A}\t(none)\t(none)\t10.0.0.0/8\t0\t0\t0\toff\n`);
    assert.equal(dump.peers[0]?.endpoint, undefined);
  });

  test('refuses what wg would not print, and never repeats the private key', () => {
    malformed('');
    malformed(`${PRIVATE}\t${PUBLIC}\t51820\n`);
    malformed(`${PRIVATE}\tnot-a-key\t51820\toff\n`);
    malformed(`${PRIVATE}\t${PUBLIC}\tport\toff\n`);
    const peer = (fields: string): string => `${PRIVATE}\t${PUBLIC}\t1\toff\n${fields}\n`;
    malformed(peer(`${PEER_A}\t(none)\t10.0.0.1:1\t(none)\t0\t0\t0`));
    malformed(peer(`${PEER_A}\t(none)\tgw.example:1\t(none)\t0\t0\t0\toff`));
    malformed(peer(`${PEER_A}\t(none)\t10.0.0.1:1\t10.0.0.0/33\t0\t0\t0\toff`));
    malformed(peer(`${PEER_A}\t(none)\t10.0.0.1:1\t(none)\t-1\t0\t0\toff`));
    malformed(peer(`${PEER_A}\t(none)\t10.0.0.1:1\t(none)\t0\t0\t0\tsometimes`));
  });
});
