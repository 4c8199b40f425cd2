// The slice keeper's pulls, over a named in-memory fake community (members
// with slice digests in their tags, a caller that counts calls): a gateway
// that holds no slice records pulls nobody's, however many members gossip a
// digest it has not pulled (no placement anywhere costs it a call); one that
// holds a record of its own alone sweeps each member once, one a round, when
// it starts and when a member comes back into its view, and never for a
// member that stayed (a placement elsewhere costs it no call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSliceKeeper } from '../../../src/agent/slice-keeper.js';
import { SLICES_DIGEST, slicesDigest } from '../../../src/cloud/slice-records.js';
import { silentLogger } from '../../../src/model/logger.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';
import { memberView } from '../../support/member-view.js';
import type { PeerRouteRef } from '../../../src/peer/caller.js';
import type { SliceHosting } from '../../../src/slivers/hosting.js';
import type { SliceRecord } from '../../../src/store/store.js';

const member = (name: string, digest: string): MemberView => memberView(name, { digests: { [SLICES_DIGEST]: digest } });

function fakeKeeper(records: SliceRecord[]) {
  const members = new Map(['gw1', 'gw2', 'gw3', 'gw4', 'gw5'].map((n, i) => [n, member(n, `d${i}`.padEnd(12, '0'))]));
  const calls: string[] = [];
  const listeners: (() => void)[] = [];
  let rounds = 0;
  const hosting = {
    records: () => records,
    // Every round reads the live records once: the count of rounds.
    live: () => {
      rounds++;
      return [];
    },
    slivers: () => [],
    record: () => undefined,
  } as unknown as SliceHosting;
  const keeper = createSliceKeeper({
    self: 'gw1', hosting, log: silentLogger, nowSec: () => Math.floor(Date.now() / 1000),
    community: {
      // A new view each read, as the membership makes one a change: the members as they are now.
      view: (): ViewState => ({ members: new Map(members), badTags: 0 }),
      caller: { call: async (to: string, route: PeerRouteRef) => { calls.push(`${to} ${route.path}`); return { items: [] }; } },
      publishDigest: () => undefined,
      onViewChange: (listener) => {
        listeners.push(listener);
        return () => undefined;
      },
    },
    intervalMs: 3_600_000,
    heal: async () => { throw new Error('no healing here'); },
    installKeys: async () => undefined,
    installApp: async () => undefined,
  });
  const viewChanged = (): void => listeners.forEach((l) => l());
  return { keeper, calls, members, rounds: () => rounds, viewChanged };
}

const aRecord = (): SliceRecord => ({
  user: 'SHA256:x', name: 'web', document: { nonce: 'n1' }, placement: { 0: 'gw1' }, version: 1, deletedAt: null, expiresAt: 2_000_000_000,
  deleteDocument: null, renewDocument: null, resizeDocument: null, updatedAt: '',
}) as unknown as SliceRecord;

test('a member that fails wakes the keeper of a gateway that holds records, and not one that holds none', async () => {
  for (const [records, woken] of [[[aRecord()], 1], [[], 0]] as const) {
    const { keeper, members, rounds, viewChanged } = fakeKeeper([...records]);
    keeper.start();
    await keeper.tick();
    const before = rounds();
    members.set('gw4', { ...(members.get('gw4') as MemberView), status: 'failed' });
    viewChanged();
    await keeper.stop();
    assert.equal(rounds() - before, woken, `${records.length} records`);
  }
});

test('a change no round reads wakes no keeper: the free resources of a member, the digest of one that holds no slice with us', async () => {
  // gw1 holds a slice with gw2.
  const { keeper, members, rounds, viewChanged } = fakeKeeper([{ ...aRecord(), placement: { 0: 'gw1', 1: 'gw2' } } as SliceRecord]);
  keeper.start();
  await keeper.tick();
  const retag = (name: string, change: (tags: NonNullable<MemberView['tags']>) => NonNullable<MemberView['tags']>): void => {
    const m = members.get(name) as MemberView;
    members.set(name, { ...m, tags: change(m.tags as NonNullable<MemberView['tags']>) });
    viewChanged();
  };
  // The fake's rounds end within a few turns of the event loop.
  const settled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
  const before = rounds();
  retag('gw3', (t) => ({ ...t, free: { ...t.free, slivers: t.free.slivers - 1 } }));
  retag('gw4', (t) => ({ ...t, digests: { [SLICES_DIGEST]: 'placed-there' } }));
  await settled();
  assert.equal(rounds() - before, 0, 'no round');
  retag('gw2', (t) => ({ ...t, digests: { [SLICES_DIGEST]: 'healed-there' } }));
  await settled();
  await keeper.stop();
  assert.equal(rounds() - before, 1, 'the digest of the member we share a slice with woke a round');
});

test('a gateway that holds no slice records pulls nobody\'s records, however many digests it has not pulled', async () => {
  const { keeper, calls } = fakeKeeper([]);
  for (let i = 0; i < 5; i++) await keeper.tick();
  assert.deepEqual(calls, []);
});

test('a gateway that holds a record sweeps one other member a round, each of them once', async () => {
  const record = aRecord();
  const { keeper, calls } = fakeKeeper([record]);
  await keeper.tick();
  assert.equal(calls.length, 1, 'one sweep a round');
  for (let i = 0; i < 5; i++) await keeper.tick();
  assert.deepEqual(calls.map((c) => c.split(' ')[0]).sort(), ['gw2', 'gw3', 'gw4', 'gw5'], 'each member with news once');
});

test('a holder, once swept, pulls nobody whose digest changed while it stayed; a member that failed and came back, once', async () => {
  const record = aRecord();
  const { keeper, calls, members } = fakeKeeper([record]);
  for (let i = 0; i < 5; i++) await keeper.tick();
  assert.equal(calls.length, 4, 'the sweep at start');
  calls.length = 0;
  // Slices placed elsewhere change every other member's digest.
  const redigest = (name: string, digest: string): void => {
    const m = members.get(name) as MemberView;
    members.set(name, { ...m, tags: m.tags === null ? null : { ...m.tags, digests: { [SLICES_DIGEST]: digest } } });
  };
  for (const n of ['gw2', 'gw3', 'gw4', 'gw5']) redigest(n, `new-${n}`.padEnd(12, '0'));
  for (let i = 0; i < 5; i++) await keeper.tick();
  assert.equal(calls.length, 0, 'no pull for a placement of slices this gateway does not hold');
  // gw3 fails and comes back (a partition healed): it may hold a placement of ours, so it is pulled once.
  members.set('gw3', { ...(members.get('gw3') as MemberView), status: 'failed' });
  await keeper.tick();
  members.set('gw3', { ...(members.get('gw3') as MemberView), status: 'alive' });
  for (let i = 0; i < 5; i++) await keeper.tick();
  assert.deepEqual(calls.map((c) => c.split(' ')[0]), ['gw3']);
});

test('a healed placement is gossiped as soon as it is taken, not at the next round', async () => {
  // gw1 holds index 0 of a slice of 2 whose index 1 was on gw9, which is not in the view: gw1 heals it onto gw2.
  let record = { ...aRecord(), placement: { 0: 'gw1', 1: 'gw9' } } as SliceRecord;
  const members = new Map(['gw1', 'gw2'].map((n) => [n, member(n, 'd'.padEnd(12, '0'))]));
  const published: (string | undefined)[] = [];
  const hosting = {
    records: () => [record],
    live: () => [{ record, size: 2, spec: { sshKeys: [], app: null } }],
    slivers: () => [],
    record: () => record,
    adopt: (_user: string, _name: string, placement: Record<string, string>, version: number) => {
      record = { ...record, placement, version };
      return true;
    },
  } as unknown as SliceHosting;
  const keeper = createSliceKeeper({
    self: 'gw1', hosting, log: silentLogger, nowSec: () => Math.floor(Date.now() / 1000),
    community: {
      view: () => ({ members, badTags: 0 }),
      caller: { call: async () => ({ items: [] }) },
      publishDigest: (_key, digest) => void published.push(digest),
      onViewChange: () => () => undefined,
    },
    intervalMs: 3_600_000,
    heal: async (_documents, target) => ({ placement: { ...target.kept, 1: 'gw2' }, version: target.version }),
    installKeys: async () => undefined,
    installApp: async () => undefined,
  });
  await keeper.tick();
  assert.deepEqual(record.placement, { 0: 'gw1', 1: 'gw2' });
  assert.equal(record.version, 2);
  const healed = slicesDigest([{ user: record.user, name: record.name, incarnation: 'n1', placement: record.placement, version: 2, deletedAt: null, expiresAt: record.expiresAt, resize: null }]);
  assert.notEqual(published[0], healed, 'the round begins with the digest it holds');
  assert.equal(published.at(-1), healed, 'the healed placement is published within the round that healed it');
});
