// The membership driver's bookkeeping, over an in-memory fake of the Serf RPC
// client (named so; the real client is tested against real agents in
// test/integration/overlay): a member list that arrives after an event does
// not undo it, and coordinates are read (all of them after the start, then a
// bounded share per round) and taken into the view without waking its
// listeners.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createMembership } from '../../../src/overlay/membership.js';
import { until } from '../../support/until.js';
import type { SerfRpc } from '../../../src/overlay/serf-rpc.js';
import type { SerfEvent, SerfMember } from '../../../src/overlay/serf-records.js';
import { silentLogger as quiet } from '../../../src/model/logger.js';

const range = { min: 1, max: 5, cur: 4 };
const member = (name: string, status: SerfMember['status'] = 'alive'): SerfMember => ({
  name, addr: '10.99.0.1', port: 7946, status, protocol: range, delegate: range, tags: {},
});

/** A fake Serf RPC client: members() answers when the test says, getCoordinate() counts its calls. */
function fakeRpc(initial: SerfMember[]) {
  let handler: ((e: SerfEvent) => void) | undefined;
  const streamed: string[] = [];
  let answer: ((m: SerfMember[]) => void) | undefined;
  let hold = false;
  let answerFiltered: (() => void) | undefined;
  /** What Serf holds now, as members-filtered reads it. */
  let current = initial;
  const filters: string[] = [];
  const coordinateCalls: string[] = [];
  let listCalls = 0;
  let coordinatesHeld: Promise<void> | undefined;
  const rpc = {
    events: new EventEmitter(),
    isConnected: true,
    stream: async (filter: string, h: (e: SerfEvent) => void) => {
      streamed.push(filter);
      handler = h;
      return async () => undefined;
    },
    members: async () => {
      listCalls++;
      return hold ? new Promise<SerfMember[]>((resolve) => { answer = resolve; }) : initial;
    },
    // Serf anchors the name expression as ^EXPR$ (command/agent/ipc.go); RE2 and JS agree on what we send.
    membersFiltered: async (filter: { name?: string }) => {
      filters.push(filter.name ?? '');
      const re = new RegExp(`^${filter.name ?? '.*'}$`);
      const list = current.filter((m) => re.test(m.name));
      return hold ? new Promise<SerfMember[]>((resolve) => { answerFiltered = () => resolve(list); }) : list;
    },
    getCoordinate: async (name: string) => {
      coordinateCalls.push(name);
      await coordinatesHeld;
      return { vec: [coordinateCalls.length / 1000, 0], height: 0, adjustment: 0, error: 0.5 };
    },
  };
  return {
    rpc: rpc as unknown as SerfRpc,
    coordinateCalls,
    emit: (e: SerfEvent) => handler?.(e),
    holdLists: () => { hold = true; },
    answerList: (m: SerfMember[]) => answer?.(m),
    answerFiltered: () => answerFiltered?.(),
    filters,
    streamed,
    serfHolds: (m: SerfMember[]) => { current = m; },
    /** How many whole member lists were asked for. */
    listCalls: () => listCalls,
    /** Coordinate calls wait until the returned function is called. */
    holdCoordinates: () => {
      let release = (): void => undefined;
      coordinatesHeld = new Promise((resolve) => { release = resolve; });
      return release;
    },
  };
}


test('a member list asked for before a failure event arrives after it and does not undo it', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000 });
  await membership.start();
  try {
    fake.holdLists();
    const refreshed = membership.refresh();
    fake.emit({ type: 'member-failed', members: [member('gw2', 'failed')] });
    fake.emit({ type: 'member-join', members: [member('gw3')] });
    assert.equal(membership.view.members.get('gw2')?.status, 'failed');
    fake.answerList([member('gw1'), member('gw2')]);
    await refreshed;
    assert.equal(membership.view.members.get('gw2')?.status, 'failed', 'the older list did not revive gw2');
    assert.equal(membership.view.members.get('gw3')?.status, 'alive', 'the older list did not drop gw3');

    // A list asked for after the events is the truth again.
    const next = membership.refresh();
    fake.answerList([member('gw1'), member('gw2')]);
    await next;
    assert.equal(membership.view.members.get('gw2')?.status, 'alive');
    assert.equal(membership.view.members.has('gw3'), false);
  } finally {
    await membership.stop();
  }
});

test('the stream leaves member-update out: Serf 0.8.2 would send every member that ever updated with each; the news read the one that did', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000, noticeSettleMs: 1 });
  await membership.start();
  try {
    assert.equal(fake.streamed.length, 1);
    const types = (fake.streamed[0] as string).split(',');
    assert.deepEqual([...types].sort(), ['member-failed', 'member-join', 'member-leave', 'member-reap', 'user']);
    assert.equal(membership.view.members.get('gw2')?.serfAddr, '10.99.0.1:7946');
    fake.serfHolds([member('gw1'), { ...member('gw2'), addr: '10.99.0.7' }]);
    membership.notice({ member: 'gw2' });
    await until('the updated record is read', async () => (membership.view.members.get('gw2')?.serfAddr === '10.99.0.7:7946' ? true : undefined), 5_000, 5);
    assert.deepEqual(fake.filters, ['(?:gw2)'], 'only the member with news');
  } finally {
    await membership.stop();
  }
});

test('news that comes while the membership starts is read, and the start\'s list, asked before it, does not undo it', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000, noticeSettleMs: 5 });
  fake.holdLists();
  const starting = membership.start();
  try {
    // The start waits for its member list; Serf learns of gw3 meanwhile.
    await until('the start asked for the list', async () => (fake.listCalls() === 1 ? true : undefined), 5_000, 5);
    fake.serfHolds([member('gw1'), member('gw2'), member('gw3')]);
    membership.notice({ member: 'gw3' });
    await until('the news is read', async () => (fake.filters.length === 1 ? true : undefined), 5_000, 5);
    fake.answerFiltered();
    await until('gw3 is in the view', async () => (membership.view.members.has('gw3') ? true : undefined), 5_000, 5);
    fake.answerList([member('gw1'), member('gw2')]);
    await starting;
    assert.equal(membership.view.members.get('gw3')?.status, 'alive', 'the list asked for before the news does not undo it');
  } finally {
    await membership.stop();
  }
});

test('news of members in Serf\'s log: their records are read at once, gathered into one call, without waiting for the event', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2'), member('gw3'), member('g.4')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000, noticeSettleMs: 5 });
  await membership.start();
  try {
    fake.serfHolds([member('gw1'), member('gw2', 'failed'), member('gw3', 'left'), member('g.4'), member('gx4', 'failed'), member('gw5')]);
    membership.notice({ member: 'gw2' });
    membership.notice({ member: 'gw3' });
    membership.notice({ member: 'g.4' });
    membership.notice({ member: 'gw5' });
    await until('the read of the members with news is applied', async () => (membership.view.members.has('gw5') ? true : undefined), 5_000, 5);
    assert.deepEqual(fake.filters, ['(?:gw2|gw3|g\\.4|gw5)'], 'one read for the news gathered, names taken literally');
    assert.equal(membership.view.members.get('gw2')?.status, 'failed');
    assert.equal(membership.view.members.get('gw3')?.status, 'left');
    assert.equal(membership.view.members.get('gw5')?.status, 'alive', 'a member Serf just learnt of is added');
    assert.equal(membership.view.members.has('gx4'), false, 'a member without news is left to the list and the events');
    assert.equal(membership.view.members.get('gw1')?.status, 'alive');
  } finally {
    await membership.stop();
  }
});

test('a read of members with news that was asked for before their event does not undo the event', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000, noticeSettleMs: 1 });
  await membership.start();
  try {
    fake.holdLists();
    membership.notice({ member: 'gw2' });
    await until('the read is under way', async () => (fake.filters.length > 0 ? true : undefined), 5_000, 5);
    assert.equal(fake.filters.length, 1, 'the read is under way');
    fake.emit({ type: 'member-failed', members: [member('gw2', 'failed')] });
    fake.answerFiltered();
    // The answer is applied in microtasks, all run before the next turn of the loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(membership.view.members.get('gw2')?.status, 'failed', 'the older read did not revive gw2');
  } finally {
    await membership.stop();
  }
});

test('a failure or a leave in Serf\'s log is taken at once, a list asked for before it does not undo it, and only an unknown member\'s record is read', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2'), member('gw3')]);
  let changes = 0;
  const membership = createMembership({
    rpc: fake.rpc, log: quiet, coordinateIntervalMs: 3_600_000, noticeSettleMs: 1, onChange: () => changes++,
  });
  await membership.start();
  changes = 0;
  try {
    fake.holdLists();
    const refreshed = membership.refresh();
    membership.notice({ member: 'gw2', status: 'failed' });
    membership.notice({ member: 'gx9', status: 'failed' });
    assert.equal(membership.view.members.get('gw2')?.status, 'failed', 'taken before any read answers');
    assert.equal(changes, 1, 'the listeners heard of it at once');
    assert.equal(membership.view.members.has('gx9'), false, 'a member not in the view is left to its read');
    fake.answerList([member('gw1'), member('gw2'), member('gw3')]);
    await refreshed;
    assert.equal(membership.view.members.get('gw2')?.status, 'failed', 'the older list did not revive gw2');
    await until('the records with news are read', async () => (fake.filters.length > 0 ? true : undefined), 5_000, 5);
    assert.deepEqual(fake.filters, ['(?:gx9)'], 'gw2\'s status was all the news: only the member the view lacks is read');

    membership.notice({ member: 'gw3', status: 'left' });
    assert.equal(membership.view.members.get('gw3')?.status, 'left');
    membership.notice({ member: 'gw3', status: 'left' });
    assert.equal(changes, 2, 'the same news again changes nothing');
  } finally {
    await membership.stop();
  }
});

test('coordinates: all at start, without holding the start up, then a bounded share per round, a member that joined first, taken in silently', async () => {
  const names = Array.from({ length: 30 }, (_, i) => `gw${i + 1}`);
  const fake = fakeRpc(names.map((n) => member(n)));
  let changes = 0;
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 20, coordinatesPerRound: 4, refreshEveryTicks: 1000, onChange: () => changes++ });
  const release = fake.holdCoordinates();
  await membership.start();
  try {
    assert.equal(membership.view.members.size, 30, 'the start read the member list');
    assert.equal(fake.coordinateCalls.length, 1, 'and returned with the first coordinate still being read');
    release();
    await until('every member read at start', async () => (fake.coordinateCalls.length >= 30 ? true : undefined), 5_000, 5);
    assert.deepEqual(fake.coordinateCalls.slice(0, 30).sort(), [...names].sort(), 'every member read once, first');
    const changesAtStart = changes;
    fake.coordinateCalls.length = 0;
    while (fake.coordinateCalls.length < 4 * 3) await new Promise((r) => setTimeout(r, 5));
    const rounds = fake.coordinateCalls.slice(0, 12);
    for (let r = 0; r < 3; r++) assert.equal(new Set(rounds.slice(r * 4, r * 4 + 4)).size, 4, 'four a round');
    assert.equal(new Set(rounds).size, 12, 'the rounds go round the members, none twice');
    assert.equal(changes, changesAtStart, 'coordinates alone wake no listener');
    assert.ok(membership.view.members.get('gw2')?.coordinate !== null, 'they are in the view all the same');
    // A member that joins is read in the next round, before the round-robin comes to it.
    fake.emit({ type: 'member-join', members: [member('gw31')] });
    const seen = fake.coordinateCalls.length;
    await until('the joiner is read', async () => (fake.coordinateCalls.slice(seen).includes('gw31') ? true : undefined), 5_000, 5);
    const after = fake.coordinateCalls.slice(seen);
    // The round-robin stands at gw13-gw16: it would come to gw31 four rounds later.
    assert.ok(after.indexOf('gw31') < 8, `the joiner read in the round after it joined: ${after.join(' ')}`);
  } finally {
    await membership.stop();
  }
});

test('at size, each member\'s coordinate is read again about once a refresh period', async () => {
  const names = Array.from({ length: 101 }, (_, i) => `gw${i + 1}`);
  const fake = fakeRpc(names.map((n) => member(n)));
  // 101 members, a round every 20 ms, each read again within 400 ms: 6 a round (more than the 2 at least).
  const membership = createMembership({ rpc: fake.rpc, log: quiet, coordinateIntervalMs: 20, coordinateRefreshMs: 400, refreshEveryTicks: 1000 });
  await membership.start();
  try {
    fake.coordinateCalls.length = 0;
    while (fake.coordinateCalls.length < 6 * 3) await new Promise((r) => setTimeout(r, 5));
    assert.equal(new Set(fake.coordinateCalls.slice(0, 18)).size, 18, 'six a round, going round');
  } finally {
    await membership.stop();
  }
});
