// When a key rotation may run: refused while a revoked member gossips,
// delayed until memberlist has stopped gossiping to it, free otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rotationGate, trackOut } from '../../../src/cloud/key-rotation.js';
import { EMPTY_VIEW, applySnapshot } from '../../../src/overlay/view.js';
import { encodeTags } from '../../../src/overlay/tags.js';
import type { SerfMember } from '../../../src/overlay/serf-records.js';

const range = { min: 1, max: 5, cur: 4 };
const member = (name: string, idChar: string, status: SerfMember['status']): SerfMember => ({
  name, addr: '10.99.0.1', port: 7946, status, protocol: range, delegate: range,
  tags: encodeTags({
    id: idChar.repeat(64), api: ':7471', mode: 'production', version: '0.1.0', digests: {}, zone: null, access: { quota: null, allowlist: false },
    contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 },
  }),
});
const revoked = new Set(['c'.repeat(64)]);

test('a revoked member that still gossips refuses the rotation', () => {
  for (const status of ['alive', 'leaving'] as const) {
    const view = applySnapshot(EMPTY_VIEW, [member('gw1', 'a', 'alive'), member('gw3', 'c', status)]);
    assert.deepEqual(rotationGate(view, revoked, new Map(), 0, 20_000), { kind: 'refuse', stillIn: ['gw3'] });
  }
});

test('once it fell out, the rotation waits out the gossip-to-the-dead window from that moment', () => {
  const view = applySnapshot(EMPTY_VIEW, [member('gw1', 'a', 'alive'), member('gw3', 'c', 'failed')]);
  const out = trackOut(new Map(), view, 1_000);
  assert.deepEqual(rotationGate(view, revoked, out, 5_000, 20_000), { kind: 'wait', ms: 16_000 });
  assert.deepEqual(rotationGate(view, revoked, trackOut(out, view, 9_000), 21_000, 20_000), { kind: 'go' }, 'the first moment out is kept');
});

test('without revoked members, or with none still near, it goes at once', () => {
  const view = applySnapshot(EMPTY_VIEW, [member('gw1', 'a', 'alive'), member('gw2', 'b', 'failed')]);
  assert.deepEqual(rotationGate(view, revoked, new Map(), 0, 20_000), { kind: 'go' });
});

test('a member back alive is no longer tracked as out', () => {
  const out = trackOut(new Map(), applySnapshot(EMPTY_VIEW, [member('gw3', 'c', 'failed')]), 1);
  assert.equal(trackOut(out, applySnapshot(EMPTY_VIEW, [member('gw3', 'c', 'alive')]), 2).size, 0);
});
