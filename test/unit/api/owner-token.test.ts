// The owner token's holder (api/auth.ts): a rotation is kept before it takes
// effect, so a failed write leaves the old token working and nobody told.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOwnerToken, createOwnerToken } from '../../../src/api/auth.js';

test('a rotation is kept first, then replaces the token and tells the listeners', async () => {
  const kept: string[] = [];
  const holder = createOwnerToken('old', async (t) => void kept.push(t));
  let told = 0;
  holder.onRotate(() => (told += 1));
  const next = await holder.rotate();
  assert.deepEqual(kept, [next]);
  assert.equal(holder.current(), next);
  assert.equal(told, 1);
  assert.match(next, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.throws(() => checkOwnerToken('Bearer old', holder.current()), /not valid/);
  assert.doesNotThrow(() => checkOwnerToken(`Bearer ${next}`, holder.current()));
});

test('a rotation that cannot be kept changes nothing', async () => {
  const holder = createOwnerToken('old', async () => {
    throw new Error('disk full');
  });
  let told = 0;
  holder.onRotate(() => (told += 1));
  await assert.rejects(holder.rotate(), /disk full/);
  assert.equal(holder.current(), 'old');
  assert.equal(told, 0);
});
