// Admission against the owner's contribution: what fits, what does not, and
// an error that names every resource that is short.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, defaultContribution, freeOf, usageOf, validateContribution } from '../../../src/host/contribution.js';
import { HearthError } from '../../../src/model/errors.js';

const contribution = { cpu: 2, memoryMb: 1024, diskMb: 2048, slivers: 3 };
const small = { cpu: 0.5, memoryMb: 256, diskMb: 512, pids: 64, upMbit: 0, downMbit: 0 };

test('usage adds up slivers and free is what is left', () => {
  const usage = usageOf([small, small]);
  assert.deepEqual(usage, { cpu: 1, memoryMb: 512, diskMb: 1024, slivers: 2, upMbit: 0, downMbit: 0 });
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

test('a bandwidth guarantee must fit in what the owner gives; asking none always fits', () => {
  const given = { ...contribution, slivers: 10, upMbit: 10, downMbit: 100 };
  const usage = usageOf([{ ...small, upMbit: 6 }, { ...small, downMbit: 99.5 }]);
  admit(given, usage, { ...small, upMbit: 4, downMbit: 0.5 });
  admit({ ...contribution, slivers: 10 }, usage, small);
  assert.throws(() => admit(given, usage, { ...small, upMbit: 4.5, downMbit: 1 }), (err: unknown) => {
    assert.ok(err instanceof HearthError);
    assert.deepEqual((err.extra['short'] as { resource: string }[]).map((s) => s.resource), ['upMbit', 'downMbit']);
    assert.match(err.message, /upMbit: asked 4.5 Mbit\/s, 4 free; downMbit: asked 1 Mbit\/s, 0.5 free/);
    return true;
  });
  assert.throws(() => admit({ ...contribution, slivers: 10 }, usage, { ...small, upMbit: 1 }), /upMbit: asked 1 Mbit\/s, 0 free/);
});

test('the owner gives a rate a link could have, or none', () => {
  const inv = { cpu: 4, memoryMb: 4096, memoryFreeMb: 2048, diskMb: 100_000, diskFreeMb: 50_000 };
  validateContribution({ ...contribution, upMbit: 0.5, downMbit: 100_000 }, inv);
  for (const bad of [0, -1, 100_001, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => validateContribution({ ...contribution, upMbit: bad }, inv), /upMbit must be in \(0, 100000\]/);
  }
});
