// Publishing tags over an in-memory fake of the Serf RPC client (named so;
// the real client is tested against real agents in test/integration/overlay):
// Serf's "timeout waiting for update broadcast" means the tags are set and
// being gossiped, so they are not set again; any other refusal is.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createSerfOverlay } from '../../../src/overlay/serf-overlay.js';
import type { SerfRpc } from '../../../src/overlay/serf-rpc.js';
import { HearthError } from '../../../src/model/errors.js';
import { silentLogger as quiet } from '../../../src/model/logger.js';

const refusal = (serfError: string): HearthError =>
  new HearthError('overlay_rejected', `Serf refused 'tags': ${serfError}`, { serfCommand: 'tags', serfError, reason: 'rejected' });

function overlayOver(answer: () => Promise<void>) {
  const calls: Record<string, string>[] = [];
  const rpc = {
    events: new EventEmitter(),
    isConnected: true,
    tags: async (change: { set?: Record<string, string> }) => {
      calls.push(change.set ?? {});
      return answer();
    },
  };
  const overlay = createSerfOverlay({
    rpc: rpc as unknown as SerfRpc, self: 'gw1', log: quiet, digests: new Map(),
    tags: () => ({
      id: 'a'.repeat(64), api: ':7471', mode: 'production', version: '0.1.0', zone: null, access: { quota: null, allowlist: false },
      contributed: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 }, free: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 },
    }),
  });
  return { overlay, calls };
}

test('a tags update Serf set but did not send within its broadcast timeout counts as published', async () => {
  const { overlay, calls } = overlayOver(async () => { throw refusal('timeout waiting for update broadcast'); });
  await overlay.publish();
  await overlay.publish();
  assert.equal(calls.length, 1, 'the same tags are not set again');
});

test('any other refusal fails the publish, and the next publish sets the tags again', async () => {
  const { overlay, calls } = overlayOver(async () => { throw refusal('tags exceed limit'); });
  await assert.rejects(overlay.publish(), /tags exceed limit/);
  await assert.rejects(overlay.publish(), /tags exceed limit/);
  assert.equal(calls.length, 2);
});
