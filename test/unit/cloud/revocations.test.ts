// The revocation list as the community spreads it: a digest that is
// order-free, absent when empty, different for different lists and in the
// shape tags accept; pulled lists and events that keep only well-formed ids.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRevocationList, revocationsDigest, revokedEndpoints, revokedIdOf } from '../../../src/cloud/revocations.js';
import { EMPTY_VIEW, applySnapshot } from '../../../src/overlay/view.js';
import type { SerfMember } from '../../../src/overlay/serf-records.js';
import { encodeTags } from '../../../src/overlay/tags.js';

test('the digest depends on the set, not its order, and fits a tag', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  assert.equal(revocationsDigest([]), undefined);
  assert.equal(revocationsDigest([a, b]), revocationsDigest([b, a]));
  assert.notEqual(revocationsDigest([a]), revocationsDigest([a, b]));
  const rv = revocationsDigest([a]) as string;
  assert.doesNotThrow(() => encodeTags({
    id: a, api: ':1', mode: 'production', version: '1', digests: { rv }, zone: null, access: { quota: null, allowlist: false },
    contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 },
  }));
});

test('a pulled list keeps only well-formed ids, and names cut to a name', () => {
  const id = 'c'.repeat(64);
  assert.deepEqual(readRevocationList({ items: [
    { id, name: 'gw3' }, { id: 'C'.repeat(64) }, { id: '../etc' }, { id: 'c'.repeat(63) }, null, 7, { id, name: 'x'.repeat(300) }, { id, name: 5 },
  ] }), [{ id, name: 'gw3' }, { id, name: 'x'.repeat(63) }, { id, name: null }]);
  for (const junk of [undefined, null, 'list', { items: 'no' }, {}]) assert.deepEqual(readRevocationList(junk), []);
});

test('a revocation event carries exactly 32 bytes', () => {
  assert.equal(revokedIdOf(new Uint8Array(32).fill(0xab)), 'ab'.repeat(32));
  assert.equal(revokedIdOf(new Uint8Array(31)), undefined);
  assert.equal(revokedIdOf(new Uint8Array(33)), undefined);
});

test('the firewall cuts revoked members by their gossip address, never a loopback one', () => {
  const range = { min: 1, max: 5, cur: 4 };
  const member = (name: string, idChar: string, addr: string): SerfMember => ({
    name, addr, port: 7946, status: 'alive', protocol: range, delegate: range,
    tags: encodeTags({
      id: idChar.repeat(64), api: ':7471', mode: 'production', version: '0.1.0', digests: {}, zone: null, access: { quota: null, allowlist: false },
      contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 },
    }),
  });
  const view = applySnapshot(EMPTY_VIEW, [member('gw1', 'a', '10.99.0.1'), member('gw3', 'c', '10.99.0.3'), member('gw4', 'd', '127.0.0.1'), member('gw5', 'e', 'fd00::5')]);
  const revoked = new Set(['c', 'd', 'e'].map((ch) => ch.repeat(64)));
  assert.deepEqual(revokedEndpoints(view, revoked, 7946), [
    { address: '10.99.0.3', port: 7946, localPort: 7946 },
    { address: 'fd00::5', port: 7946, localPort: 7946 },
  ]);
});
