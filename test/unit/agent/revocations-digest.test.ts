// The revocation digest gossiped in tags: order-free, absent when empty,
// different for different lists, and in the shape tags accept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { revocationsDigest } from '../../../src/agent/community.js';
import { encodeTags } from '../../../src/overlay/tags.js';

test('the digest depends on the set, not its order, and fits a tag', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  assert.equal(revocationsDigest([]), undefined);
  assert.equal(revocationsDigest([a, b]), revocationsDigest([b, a]));
  assert.notEqual(revocationsDigest([a]), revocationsDigest([a, b]));
  const rv = revocationsDigest([a]) as string;
  assert.doesNotThrow(() => encodeTags({
    id: a, api: ':1', mode: 'production', version: '1', digests: { rv },
    contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 },
  }));
});
