// Publishing tags over an in-memory fake of the Serf RPC client (named so;
// the real client is tested against real agents in test/integration/overlay):
// Serf's "timeout waiting for update broadcast" means the tags are set and
// being gossiped, so they are not set again; any other refusal is. Tags Serf
// already holds (restored from its tags file) are not set again either.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createSerfOverlay } from '../../../src/overlay/serf-overlay.js';
import { PUBLISH_GATHER_MS } from '../../../src/overlay/tags.js';
import type { SerfRpc } from '../../../src/overlay/serf-rpc.js';
import { HearthError } from '../../../src/model/errors.js';
import { silentLogger as quiet } from '../../../src/model/logger.js';

const refusal = (serfError: string): HearthError =>
  new HearthError('overlay_rejected', `Serf refused 'tags': ${serfError}`, { serfCommand: 'tags', serfError, reason: 'rejected' });

/** The tags Serf holds for gw1 when asked, or a refusal to say. */
type Held = Record<string, string> | 'unreadable';

/** Like Serf's RPC server, answers one connection's calls in turn: each call starts when the one before it has been answered. */
function inTurn() {
  let previous: Promise<unknown> = Promise.resolve();
  return <T>(call: () => Promise<T>): Promise<T> => {
    const next = previous.then(call, call);
    previous = next.catch(() => undefined);
    return next;
  };
}

const GW1_TAGS = {
  id: 'a'.repeat(64), api: ':7471', mode: 'production' as const, version: '0.1.0', zone: null, access: { quota: null, allowlist: false },
  contributed: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 }, free: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 },
};

function overlayOver(answer: () => Promise<void>, held: Held = 'unreadable') {
  const calls: Record<string, string>[] = [];
  const deleted: string[][] = [];
  const reads: Record<string, string>[] = [];
  const readHeld = async (filter: Record<string, string>) => {
    reads.push(filter);
    if (held === 'unreadable') throw new HearthError('overlay_unavailable', 'Serf RPC connection closed', { reason: 'disconnected' });
    return [{ name: 'gw10', tags: {} }, { name: 'gw1', tags: held }];
  };
  const tagsTurn = inTurn();
  const tagsRpc = {
    isConnected: true,
    // Recorded when sent; answered in turn.
    tags: (change: { set?: Record<string, string>; delete?: string[] }) => {
      calls.push(change.set ?? {});
      deleted.push(change.delete ?? []);
      return tagsTurn(answer);
    },
    membersFiltered: (filter: Record<string, string>) => tagsTurn(() => readHeld(filter)),
  };
  const membershipTurn = inTurn();
  const rpc = {
    events: new EventEmitter(),
    isConnected: true,
    members: () => membershipTurn(async () => [{ name: 'gw2', addr: '10.0.0.2', port: 7946, tags: {}, status: 'alive', protocol: { min: 2, max: 5, cur: 5 }, delegate: { min: 2, max: 5, cur: 5 } }]),
    membersFiltered: (filter: Record<string, string>) => membershipTurn(() => readHeld(filter)),
    tags: () => membershipTurn(async () => assert.fail('the tags are set on their own connection')),
  };
  const overlay = createSerfOverlay({
    rpc: rpc as unknown as SerfRpc, tagsRpc: tagsRpc as unknown as SerfRpc, self: 'gw1', log: quiet, digests: new Map(),
    tags: () => GW1_TAGS,
  });
  return { overlay, calls, deleted, reads };
}

test('the membership reads while Serf holds a tags call: Serf answers a connection in turn, and the tags have their own', { timeout: 10_000 }, async () => {
  const answers: (() => void)[] = [];
  const { overlay, calls } = overlayOver(() => new Promise<void>((resolve) => void answers.push(resolve)));
  const published = overlay.publish();
  await until(() => calls.length === 1);
  // On one connection this read would wait until the update had gone out (up to 10 s on community links).
  await overlay.refresh();
  assert.equal(overlay.view().members.get('gw2')?.status, 'alive');
  for (const answer of answers) answer();
  await published;
});

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

test('the first publish sets nothing when Serf already holds these tags, in whatever order', async () => {
  const probe = overlayOver(async () => undefined);
  await probe.overlay.publish();
  const tags = probe.calls[0] as Record<string, string>;
  const reversed = Object.fromEntries(Object.entries(tags).reverse());
  const { overlay, calls, reads } = overlayOver(async () => undefined, reversed);
  await overlay.publish();
  await overlay.publish();
  assert.equal(calls.length, 0, 'identical tags are not set: Serf would gossip them as an update');
  assert.deepEqual(reads, [{ name: 'gw1' }], 'asked once, for this gateway alone');
});

test('the first publish sets what differs from what Serf holds, and deletes what Serf has that is gone', async () => {
  const probe = overlayOver(async () => undefined);
  await probe.overlay.publish();
  const tags = probe.calls[0] as Record<string, string>;
  const { overlay, calls, deleted } = overlayOver(async () => undefined, { ...tags, v: '0.0.9', z: 'old-zone' });
  await overlay.publish();
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], tags);
  assert.deepEqual(deleted[0], ['z']);
});

test('when Serf cannot say what it holds, the tags are set', async () => {
  const { overlay, calls, reads } = overlayOver(async () => undefined);
  await overlay.publish();
  assert.equal(calls.length, 1);
  await overlay.publish();
  assert.equal(calls.length, 1, 'then compared with what was sent');
  assert.equal(reads.length, 1);
});

/** Resolves once `done` holds (a gathered publish has reached the fake Serf); fails after 5 s rather than hang. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail('the publish never reached Serf');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a publish made while Serf has the one before compares with it: the same tags are not set again, a change is set without waiting', async () => {
  const answers: (() => void)[] = [];
  const { overlay, calls } = overlayOver(() => new Promise<void>((resolve) => void answers.push(resolve)));
  const first = overlay.publish();
  await until(() => calls.length === 1);
  // The timer's publish while Serf has not answered: it does not set the same tags again.
  await overlay.publish();
  assert.equal(calls.length, 1, 'the same tags are not set twice (Serf would gossip them as an update)');
  // A digest changed meanwhile is sent once gathered, without waiting for Serf's first answer.
  overlay.publishDigest('sv', 'A'.repeat(11));
  await until(() => calls.length === 2);
  assert.deepEqual(calls.map((c) => c['d']), [undefined, `sv=${'A'.repeat(11)}`]);
  for (const answer of answers) answer();
  await first;
  await overlay.publish();
  assert.equal(calls.length, 2);
});

test(`changes made within ${PUBLISH_GATHER_MS} ms of each other go to Serf as one update`, async () => {
  const { overlay, calls } = overlayOver(async () => undefined);
  await overlay.publish();
  assert.equal(calls.length, 1);
  // A new host's commit, keeper round and service, as a stalled event loop runs them: one after the other.
  const timer = overlay.publish();
  overlay.publishDigest('sl', 'B'.repeat(11));
  overlay.publishDigest('sv', 'A'.repeat(11));
  await timer;
  await until(() => calls.length >= 2);
  await new Promise((resolve) => setTimeout(resolve, 2 * PUBLISH_GATHER_MS));
  assert.equal(calls.length, 2, 'one update for the three changes');
  assert.deepEqual((calls[1] as Record<string, string>)['d']?.split(',').sort(), [`sl=${'B'.repeat(11)}`, `sv=${'A'.repeat(11)}`]);
});

test('after a refused publish, the next one asks Serf what it holds', async () => {
  let refuse = true;
  const { overlay, calls, reads } = overlayOver(async () => {
    if (refuse) throw refusal('tags exceed limit');
  });
  await assert.rejects(overlay.publish(), /tags exceed limit/);
  refuse = false;
  await overlay.publish();
  assert.equal(calls.length, 2);
  assert.equal(reads.length, 2, 'asked again: the refused tags are not what Serf holds');
});
