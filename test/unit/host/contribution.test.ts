// Admission against the owner's contribution: what fits, what does not, and
// an error that names every resource that is short.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, defaultContribution, freeOf, usageOf, validateContribution } from '../../../src/host/contribution.js';
import { HearthError } from '../../../src/model/errors.js';

const contribution = { cpu: 2, memoryMb: 1024, diskMb: 2048, slivers: 3 };
const small = { cpu: 0.5, memoryMb: 256, diskMb: 512, pids: 64 };

test('usage adds up slivers and free is what is left', () => {
  const usage = usageOf([small, small]);
  assert.deepEqual(usage, { cpu: 1, memoryMb: 512, diskMb: 1024, slivers: 2 });
  assert.deepEqual(freeOf(contribution, usage), { cpu: 1, memoryMb: 512, diskMb: 1024, slivers: 1 });
});

test('a request that fits is admitted', () => {
  admit(contribution, usageOf([small, small]), small);
});

test('a request that does not fit is refused naming each short resource', () => {
  const usage = usageOf([small, small, small]);
  assert.throws(() => admit(contribution, usage, { ...small, memoryMb: 512 }), (err: unknown) => {
    assert.ok(err instanceof HearthError);
    assert.equal(err.code, 'insufficient_resources');
    assert.deepEqual((err.extra['short'] as { resource: string }[]).map((s) => s.resource), ['memoryMb', 'slivers']);
    assert.match(err.message, /memoryMb: asked 512 MB, 256 free/);
    return true;
  });
});

test('fractional cores add up without drift', () => {
  const usage = usageOf(Array.from({ length: 10 }, () => ({ ...small, cpu: 0.1 })));
  assert.equal(usage.cpu, 1);
});

test('the owner cannot contribute more than the box has, and the default leaves it room', () => {
  const inv = { cpu: 4, memoryMb: 4096, memoryFreeMb: 2048, diskMb: 100_000, diskFreeMb: 50_000 };
  validateContribution(defaultContribution(inv), inv);
  assert.deepEqual(defaultContribution(inv), { cpu: 2, memoryMb: 2048, diskMb: 12_500, slivers: 32 });
  assert.throws(() => validateContribution({ cpu: 8, memoryMb: 1, diskMb: 1, slivers: 1 }, inv), /cpu must be in/);
  assert.throws(() => validateContribution({ cpu: 1, memoryMb: 1, diskMb: 1, slivers: -1 }, inv), /slivers must be/);
});
