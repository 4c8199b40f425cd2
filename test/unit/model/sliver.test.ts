// The sliver vocabulary: which names pass, which resources pass, and the
// next reconcile step for every (desired, observed) pair.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_RESOURCES, nextStep, validateName, validateResources, type DesiredState, type ObservedState } from '../../../src/model/sliver.js';

const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof HearthError ? err.code : 'not-a-hearth-error';
  }
};

describe('names', () => {
  test('DNS-label names pass', () => {
    for (const n of ['a', 'web', 'web-1', '0', 'a'.repeat(63)]) assert.equal(code(() => validateName('sliver', n)), undefined, n);
  });
  test('anything that could escape a path, a URL or a shell is refused', () => {
    for (const n of ['', '-a', 'a-', 'A', 'a/b', '..', '.', 'a.b', 'a b', 'é', 'a'.repeat(64), 'a\nb', 'a;b', '$(x)']) {
      assert.equal(code(() => validateName('sliver', n)), 'invalid_name', JSON.stringify(n));
    }
  });
});

describe('resources', () => {
  test('the defaults pass', () => assert.equal(code(() => validateResources(DEFAULT_RESOURCES)), undefined));
  test('zero, negative, fractional, huge and NaN are refused', () => {
    for (const bad of [{ memoryMb: 0 }, { memoryMb: -5 }, { memoryMb: 64.5 }, { pids: 1e9 }, { cpu: 0 }, { cpu: Number.NaN }, { diskMb: Infinity }]) {
      assert.equal(code(() => validateResources({ ...DEFAULT_RESOURCES, ...bad })), 'invalid_resources', JSON.stringify(bad));
    }
  });
});

describe('nextStep', () => {
  const table: [DesiredState, ObservedState, string | null, string][] = [
    ['running', 'requested', null, 'allocate'],
    ['running', 'requested', '10.0.0.2', 'create'],
    ['running', 'creating', '10.0.0.2', 'create'],
    ['running', 'stopped', '10.0.0.2', 'start'],
    ['running', 'running', '10.0.0.2', 'check'],
    ['stopped', 'running', '10.0.0.2', 'stop'],
    ['stopped', 'stopped', '10.0.0.2', 'check'],
    ['running', 'failed', '10.0.0.2', 'none'],
    ['gone', 'running', '10.0.0.2', 'destroy'],
    ['gone', 'failed', null, 'destroy'],
    ['gone', 'requested', null, 'destroy'],
    ['gone', 'destroying', '10.0.0.2', 'destroy'],
    ['gone', 'gone', null, 'forget'],
  ];
  for (const [desired, observed, address, expected] of table) {
    test(`${desired}/${observed}${address === null ? '' : ' with address'} → ${expected}`, () => {
      assert.equal(nextStep({ desired, observed, address }).kind, expected);
    });
  }
});
