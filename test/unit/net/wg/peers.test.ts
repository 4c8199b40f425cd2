// The peer set as desired state: validation, the diff against what the
// interface has, and the one `wg set` that applies it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../../src/model/errors.js';
import type { WgDump, WgPeerStatus } from '../../../../src/net/wg/dump.js';
import { diffPeers, isEmptyDiff, normalizePeers, peerArgs, type WgPeer } from '../../../../src/net/wg/peers.js';

const SELF = 'cMqhVA4NzKOSx8NuH/ZSdrQcdEh0CFAX533IT7lgUnA=';
const A = 'ybynz41g5yeoRKzB3ChG8xrQUL0M8wdxIadxSZoeEWw=';
const B = 'Xy6VsQyGF1dnwV1MYoVO+HFGWJHcreDXl8BA8WNygH8=';
const C = 'GAVmbMMcDky4uHRnc2npso9bzT0E/uuf7gpURAvQDX4=';

const peer = (publicKey: string, host: string, allowedIps: string[], port = 51820): WgPeer => ({ publicKey, endpoint: { host, port }, allowedIps });
const seen = (p: WgPeer): WgPeerStatus => ({
  publicKey: p.publicKey,
  endpoint: p.endpoint,
  allowedIps: [...p.allowedIps],
  latestHandshakeMs: undefined,
  rxBytes: 0,
  txBytes: 0,
  persistentKeepalive: undefined,
});
const dump = (...peers: WgPeer[]): WgDump => ({ publicKey: SELF, listenPort: 51820, peers: peers.map(seen) });

function invalid(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof HearthError && err.code === 'invalid_request' && field.test(String(err.extra['field'])));
}

describe('normalizePeers', () => {
  test('writes addresses and prefixes canonically, allowed IPs sorted and once', () => {
    assert.deepEqual(normalizePeers([peer(A, 'FD00:0::1', ['FD52::2/128', '10.252.0.2', '10.252.0.2/32'])]), [
      peer(A, 'fd00::1', ['10.252.0.2/32', 'fd52::2/128']),
    ]);
  });

  test('refuses bad keys, hostnames, ports and prefixes', () => {
    invalid(() => normalizePeers([peer('nope', '10.0.0.1', [])]), /publicKey/);
    invalid(() => normalizePeers([peer(A, 'gw.example', [])]), /endpoint/);
    invalid(() => normalizePeers([peer(A, '10.0.0.1', [], 0)]), /endpoint/);
    invalid(() => normalizePeers([peer(A, '10.0.0.1', [], 65536)]), /endpoint/);
    invalid(() => normalizePeers([peer(A, '10.0.0.1', [], 1.5)]), /endpoint/);
    invalid(() => normalizePeers([peer(A, '10.0.0.1', ['10.0.0.0/33'])]), /allowedIps/);
    for (const keepalive of [0, 65536, 2.5]) {
      invalid(() => normalizePeers([{ ...peer(A, '10.0.0.1', []), persistentKeepalive: keepalive }]), /persistentKeepalive/);
    }
  });

  test('refuses a peer listed twice, or one allowed IP for two peers', () => {
    invalid(() => normalizePeers([peer(A, '10.0.0.1', []), peer(A, '10.0.0.2', [])]), /publicKey/);
    invalid(() => normalizePeers([peer(A, '10.0.0.1', ['10.252.0.0/24']), peer(B, '10.0.0.2', ['10.252.0.9/24'])]), /allowedIps/);
  });
});

describe('diffPeers', () => {
  const a = peer(A, '10.253.0.2', ['10.252.0.2/32']);
  const b = peer(B, '10.253.0.3', ['10.252.0.3/32', 'fd52::3/128']);

  test('adds the missing, removes the unwanted', () => {
    assert.deepEqual(diffPeers([a], dump(b)), { add: [a], update: [], remove: [B] });
  });

  test('the same set, in any order, is no change', () => {
    const diff = diffPeers(normalizePeers([b, a]), dump(a, { ...b, allowedIps: ['fd52::3/128', '10.252.0.3/32'] }));
    assert.ok(isEmptyDiff(diff));
    assert.deepEqual(peerArgs(diff), []);
  });

  test('a moved endpoint or changed allowed IPs is an update', () => {
    const moved = peer(A, '10.253.0.9', ['10.252.0.2/32']);
    const widened = peer(B, '10.253.0.3', ['10.252.0.3/32', 'fd52::3/128', '10.99.0.0/24']);
    assert.deepEqual(diffPeers([moved, widened], dump(a, b)), { add: [], update: [moved, widened], remove: [] });
    assert.deepEqual(diffPeers([peer(A, '10.253.0.2', ['10.252.0.2/32'], 1)], dump(a)).update.length, 1);
  });

  test('a keepalive turned on, changed or off is an update', () => {
    const on = { ...a, persistentKeepalive: 25 };
    assert.deepEqual(diffPeers([on], dump(a)).update, [on]);
    assert.ok(isEmptyDiff(diffPeers([on], { ...dump(), peers: [{ ...seen(a), persistentKeepalive: 25 }] })));
    assert.deepEqual(diffPeers([a], { ...dump(), peers: [{ ...seen(a), persistentKeepalive: 25 }] }).update, [a]);
  });

  test('a peer the interface knows without an endpoint gets one', () => {
    const known = { ...dump(), peers: [{ ...seen(a), endpoint: undefined }] };
    assert.deepEqual(diffPeers([a], known).update, [a]);
  });

  test("the interface's own key cannot be a peer", () => {
    invalid(() => diffPeers([peer(SELF, '10.0.0.1', [])], dump()), /peers/);
  });
});

describe('peerArgs', () => {
  test('removals first, then each added or updated peer with endpoint and allowed IPs', () => {
    const added = peer(A, 'fd00::1', ['10.252.0.2/32', 'fd52::2/128'], 51822);
    const updated = { ...peer(B, '10.253.0.3', []), persistentKeepalive: 25 };
    assert.deepEqual(peerArgs({ add: [added], update: [updated], remove: [C] }), [
      'peer', C, 'remove',
      'peer', A, 'endpoint', '[fd00::1]:51822', 'allowed-ips', '10.252.0.2/32,fd52::2/128', 'persistent-keepalive', 'off',
      'peer', B, 'endpoint', '10.253.0.3:51820', 'allowed-ips', '', 'persistent-keepalive', '25',
    ]);
  });
});
