// The membership view over Serf snapshots and events: decoded tags, RTT
// estimates, trust by fingerprint, bad tags counted and never trusted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_VIEW, applyEvent, applyMembers, applySnapshot, fingerprintOf, memberByFingerprint, nodeRows, peerAddress, withCoordinates } from '../../../src/overlay/view.js';
import { encodeTags } from '../../../src/overlay/tags.js';
import type { SerfMember } from '../../../src/overlay/serf-records.js';

const range = { min: 1, max: 5, cur: 4 };
const id = (c: string): string => c.repeat(64);
const member = (name: string, idChar: string, status: SerfMember['status'] = 'alive', addr = '10.99.0.1'): SerfMember => ({
  name, addr, port: 7946, status, protocol: range, delegate: range,
  tags: encodeTags({
    id: id(idChar), api: ':7471', mode: 'production', version: '0.1.0', digests: {}, zone: null, access: { quota: null, allowlist: false },
    contributed: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 }, free: { cpu: 0.5, memoryMb: 512, diskMb: 4096, slivers: 7 },
  }),
});

test('a snapshot and events build the rows, with RTT from coordinates', () => {
  let v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b', 'alive', 'fd00::2')]);
  v = withCoordinates(v, new Map([
    ['gw1', { vec: [0, 0], height: 0, adjustment: 0, error: 0.2 }],
    ['gw2', { vec: [0.012, 0.005], height: 0.001, adjustment: 0, error: 0.2 }],
    ['gone', { vec: [1, 1], height: 0, adjustment: 0, error: 0.2 }],
  ]));
  v = applyEvent(v, { type: 'member-join', members: [member('gw10', 'c')] });
  const rows = nodeRows(v, 'gw1', new Set());
  assert.deepEqual(rows.map((r) => r.name), ['gw1', 'gw2', 'gw10']);
  assert.equal(rows[0]?.rttMs, 0);
  assert.equal(rows[1]?.rttMs, 14);
  assert.equal(rows[1]?.peerAddr, '[fd00::2]:7471');
  assert.equal(rows[2]?.rttMs, null, 'no coordinate yet');
  assert.equal(rows[2]?.free?.slivers, 7);
});

test('a peer address: the tag\'s own, or its port on the gossip host; a member that moved gets its new one', () => {
  const v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b', 'alive', 'fd00::2')]);
  const gw1 = v.members.get('gw1');
  assert.ok(gw1 !== undefined);
  assert.equal(peerAddress(gw1), '10.99.0.1:7471');
  assert.equal(peerAddress(gw1), '10.99.0.1:7471', 'asked again');
  assert.equal(peerAddress(v.members.get('gw2') as NonNullable<typeof gw1>), '[fd00::2]:7471');
  assert.equal(peerAddress({ ...gw1, tags: { ...(gw1.tags as NonNullable<typeof gw1.tags>), api: '192.0.2.7:9000' } }), '192.0.2.7:9000');
  assert.equal(peerAddress({ ...gw1, tags: null }), null);
  const moved = applyEvent(v, { type: 'member-update', members: [member('gw1', 'a', 'alive', '10.99.0.9')] });
  assert.equal(peerAddress(moved.members.get('gw1') as NonNullable<typeof gw1>), '10.99.0.9:7471');
});

test('coordinates read again unchanged leave the very same view, so no change is reported', () => {
  const coordinate = { vec: [0.012, 0.005], height: 0.001, adjustment: 0, error: 0.2 };
  const v = withCoordinates(applySnapshot(EMPTY_VIEW, [member('gw1', 'a')]), new Map([['gw1', coordinate]]));
  assert.equal(withCoordinates(v, new Map([['gw1', { ...coordinate, vec: [0.012, 0.005] }]])), v);
  assert.equal(withCoordinates(v, new Map([['gw9', coordinate]])), v, 'a member not in the view is ignored');
  const moved = withCoordinates(v, new Map([['gw1', { ...coordinate, vec: [0.013, 0.005] }]]));
  assert.notEqual(moved, v);
  assert.deepEqual(moved.members.get('gw1')?.coordinate?.vec, [0.013, 0.005]);
});

test('a record read again unchanged (the event after the log\'s word, the 10 s list) leaves the very same view', () => {
  const coordinate = { vec: [0.012, 0.005], height: 0.001, adjustment: 0, error: 0.2 };
  const v = withCoordinates(applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b')]), new Map([['gw2', coordinate]]));
  assert.equal(applyMembers(v, [member('gw2', 'b')]), v);
  assert.equal(applyEvent(v, { type: 'member-update', members: [member('gw2', 'b')] }), v);
  assert.equal(applySnapshot(v, [member('gw2', 'b'), member('gw1', 'a')]), v);
  const failed = applyMembers(v, [member('gw2', 'b', 'failed')]);
  assert.notEqual(failed, v);
  assert.equal(failed.members.get('gw2')?.status, 'failed');
  assert.deepEqual(failed.members.get('gw2')?.coordinate, coordinate, 'the coordinate is kept');
  assert.equal(failed.members.get('gw1'), v.members.get('gw1'), 'a member not read is kept as it was');
  const retagged = applyMembers(v, [member('gw2', 'c')]);
  assert.notEqual(retagged, v, 'new tags are a change');
  assert.equal(retagged.members.get('gw2')?.tags?.id, id('c'), 'and are decoded');
  assert.equal(applyMembers(retagged, [member('gw2', 'b')]).members.get('gw2')?.tags?.id, id('b'), 'as are the old ones again');
  assert.notEqual(applySnapshot(v, [member('gw1', 'a')]), v, 'a member missing from the list is a change');
});

test('a member list asked for before an event does not undo it', () => {
  let v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b'), member('gw3', 'c')]);
  // Asked while all were alive; meanwhile gw2 failed, gw3 was reaped and gw4 joined.
  v = applyEvent(v, { type: 'member-failed', members: [member('gw2', 'b', 'failed')] });
  v = applyEvent(v, { type: 'member-reap', members: [member('gw3', 'c', 'left')] });
  v = applyEvent(v, { type: 'member-join', members: [member('gw4', 'd')] });
  const stale = [member('gw1', 'a'), member('gw2', 'b'), member('gw3', 'c'), member('gw5', 'e')];
  const after = applySnapshot(v, stale, new Set(['gw2', 'gw3', 'gw4']));
  assert.equal(after.members.get('gw2')?.status, 'failed', 'the failure stays');
  assert.equal(after.members.has('gw3'), false, 'the reaped member stays gone');
  assert.equal(after.members.get('gw4')?.status, 'alive', 'the joined member stays, though the list predates it');
  assert.equal(after.members.get('gw5')?.status, 'alive', 'what only the list knows is taken');
  // Without the events' names the list wins, as at a reconnect.
  assert.equal(applySnapshot(v, stale).members.get('gw2')?.status, 'alive');
  assert.equal(applySnapshot(v, stale).members.has('gw4'), false);
});

test('failure, leave and reap change the status, then remove the member', () => {
  let v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b')]);
  v = applyEvent(v, { type: 'member-failed', members: [member('gw2', 'b', 'failed')] });
  assert.equal(v.members.get('gw2')?.status, 'failed');
  v = applyEvent(v, { type: 'member-leave', members: [member('gw2', 'b', 'left')] });
  assert.equal(v.members.get('gw2')?.status, 'left');
  v = applyEvent(v, { type: 'member-reap', members: [member('gw2', 'b', 'left')] });
  assert.equal(v.members.has('gw2'), false);
  assert.equal(applyEvent(v, { type: 'member-reap', members: [member('gw2', 'b', 'left')] }), v, 'reaping a member already gone is no change');
});

test('trust: only live, non-revoked members with that fingerprint', () => {
  let v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), member('gw2', 'b'), member('gw3', 'c', 'left')]);
  assert.equal(memberByFingerprint(v, id('a'), new Set()), 'gw1');
  assert.equal(memberByFingerprint(v, id('c'), new Set()), undefined, 'left members are not trusted');
  assert.equal(memberByFingerprint(v, id('d'), new Set()), undefined, 'strangers are not trusted');
  assert.equal(memberByFingerprint(v, id('b'), new Set([id('b')])), undefined, 'revoked members are not trusted');
  assert.equal(fingerprintOf(v, 'gw2', new Set()), id('b'));
  assert.equal(fingerprintOf(v, 'gw2', new Set([id('b')])), undefined);
  v = applyEvent(v, { type: 'user', name: 'x', payload: new Uint8Array(), ltime: 1, coalesce: false });
  assert.equal(v.members.size, 3);
});

test('a member with tags that do not decode is shown as unknown, counted once, never trusted', () => {
  const odd: SerfMember = { ...member('odd', 'e'), tags: { role: 'something-else' } };
  let v = applySnapshot(EMPTY_VIEW, [member('gw1', 'a'), odd]);
  v = applyEvent(v, { type: 'member-update', members: [odd] });
  assert.equal(v.badTags, 1);
  const row = nodeRows(v, 'gw1', new Set()).find((r) => r.name === 'odd');
  assert.equal(row?.status, 'unknown');
  assert.equal(row?.id, null);
  assert.equal(memberByFingerprint(v, id('e'), new Set()), undefined);
});
