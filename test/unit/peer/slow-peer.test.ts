import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { slowPeerMsFromEnv } from '../../../src/peer/client.js';

void describe('slowPeerMsFromEnv (HEARTH_SLOW_PEER_MS)', () => {
  void test('unset or empty leaves the default', () => {
    assert.equal(slowPeerMsFromEnv(undefined), undefined);
    assert.equal(slowPeerMsFromEnv(''), undefined);
  });

  void test('takes a positive whole number of ms', () => {
    assert.equal(slowPeerMsFromEnv('100'), 100);
    assert.equal(slowPeerMsFromEnv('1'), 1);
  });

  void test('refuses anything else, naming the variable', () => {
    for (const bad of ['0', '-5', '1.5', 'fast', '1e400', ' ', '100ms']) {
      assert.throws(() => slowPeerMsFromEnv(bad), (err: Error) => err instanceof RangeError && err.message.includes('HEARTH_SLOW_PEER_MS'), bad);
    }
  });
});
