// The owner's policy: what it accepts, its defaults, and the admission of
// one more sliver for a user (mode first, then the list, then the quota).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_POLICY, admitUser, parsePolicy } from '../../../src/model/policy.js';

const ALICE = `SHA256:${'A'.repeat(43)}`;
const BOB = `SHA256:${'B'.repeat(43)}`;
const code = (c: string, field?: string) => (err: unknown) => err instanceof HearthError && err.code === c && (field === undefined || err.extra['field'] === field);

void test('an empty policy is the default; lists are kept sorted and without repeats', () => {
  assert.deepEqual(parsePolicy({}), DEFAULT_POLICY);
  assert.deepEqual(parsePolicy({ mode: 'safe', users: { quota: 3, allow: [BOB, ALICE, BOB] }, zone: 'riverside' }), { mode: 'safe', users: { quota: 3, allow: [ALICE, BOB] }, zone: 'riverside' });
});

void test('every bad field is refused and named', () => {
  assert.throws(() => parsePolicy(null), code('invalid_request', 'policy'));
  assert.throws(() => parsePolicy({ mode: 'maintenance' }), code('invalid_request', 'mode'));
  assert.throws(() => parsePolicy({ users: { quota: -1 } }), code('invalid_request', 'quota'));
  assert.throws(() => parsePolicy({ users: { quota: 1.5 } }), code('invalid_request', 'quota'));
  assert.throws(() => parsePolicy({ users: { allow: 'SHA256:x' } }), code('invalid_request', 'allow'));
  assert.throws(() => parsePolicy({ users: { allow: ['alice'] } }), code('invalid_request', 'allow'));
  assert.throws(() => parsePolicy({ zone: 'River Side' }), code('invalid_request', 'zone'));
  assert.throws(() => parsePolicy({ zone: 'z'.repeat(25) }), code('invalid_request', 'zone'));
});

void test('admission: a mode other than production takes nothing, then the list, then the quota', () => {
  assert.throws(() => admitUser({ mode: 'safe', users: { quota: null, allow: null } }, ALICE, 0), code('not_accepting'));
  assert.throws(() => admitUser({ mode: 'drain', users: { quota: null, allow: [ALICE] } }, ALICE, 0), code('not_accepting'));
  assert.throws(() => admitUser({ mode: 'production', users: { quota: null, allow: [BOB] } }, ALICE, 0), code('forbidden'));
  admitUser({ mode: 'production', users: { quota: null, allow: [ALICE] } }, ALICE, 100);
  admitUser({ mode: 'production', users: { quota: 2, allow: null } }, ALICE, 1);
  assert.throws(() => admitUser({ mode: 'production', users: { quota: 2, allow: null } }, ALICE, 2), code('quota_exceeded'));
  assert.throws(() => admitUser({ mode: 'production', users: { quota: 0, allow: null } }, ALICE, 0), code('quota_exceeded'));
});
