// A member's catch-up push-pulls: a young member's at growing intervals
// after its overlay starts, and any member's once the joins it sees quiet
// down (a quiet wait drawn in 1-2 s), no sooner than a gap that grows with
// the community. Each is with
// one alive member other than itself, none once stopped, and a failed one
// neither thrown nor ending the others. Node's mock timers stand in for
// time; the join and the other agent's digest are stand-ins (in-memory
// fakes: the real check and push-pull run in
// test/integration/overlay/community.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger as quiet } from '../../../src/model/logger.js';
import {
  AFTER_JOINS_BURST, AFTER_JOINS_QUIET_MS, CATCH_UP_AFTER_MS, afterJoinsGapMs, afterJoinsQuietMs, aliveDigest, pickSyncPeer, readViewDigest, someoneJoined,
  startCatchUp, viewDigestReply,
} from '../../../src/overlay/catch-up.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';

function member(name: string, status: MemberView['status'], tags: MemberView['tags'] = null): MemberView {
  return { name, serfAddr: `10.0.0.${name.slice(2)}:7946`, status, tags, tagError: null, coordinate: null };
}
const view = (...members: MemberView[]): ViewState => ({ members: new Map(members.map((m) => [m.name, m])), badTags: 0 });
const alive = (...names: string[]): ViewState => view(...names.map((n) => member(n, 'alive')));
/** The other agent's view differs: every check leads to the push-pull. */
const differs = async (): Promise<unknown> => ({ digest: 'another view' });
/** Lets the check's promises settle (the mock timers leave setImmediate alone). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the peer is an alive member other than this one, any of them by the draw', () => {
  const v = view(member('gw1', 'alive'), member('gw2', 'failed'), member('gw3', 'alive'), member('gw4', 'left'), member('gw5', 'alive'));
  const picked = new Set([0, 0.34, 0.5, 0.99].map((u) => pickSyncPeer(v, 'gw1', () => u)?.serfAddr));
  assert.deepEqual([...picked].sort(), ['10.0.0.3:7946', '10.0.0.5:7946']);
  assert.equal(pickSyncPeer(view(member('gw1', 'alive'), member('gw2', 'failed')), 'gw1', () => 0), undefined);
});

test('a join is a member alive that was not: new, or back from failed or left; not itself, not new tags', () => {
  const before = view(member('gw1', 'alive'), member('gw2', 'alive'), member('gw3', 'failed'), member('gw4', 'left'));
  assert.equal(someoneJoined(before, view(...before.members.values(), member('gw5', 'alive')), 'gw1'), true);
  assert.equal(someoneJoined(before, view(member('gw1', 'alive'), member('gw2', 'alive'), member('gw3', 'alive'), member('gw4', 'left')), 'gw1'), true);
  assert.equal(someoneJoined(before, view(member('gw1', 'alive'), member('gw2', 'alive'), member('gw3', 'failed'), member('gw4', 'alive')), 'gw1'), true);
  assert.equal(someoneJoined(view(member('gw2', 'alive')), alive('gw1', 'gw2'), 'gw1'), false, 'itself');
  assert.equal(someoneJoined(before, view(member('gw1', 'alive'), member('gw2', 'failed'), member('gw3', 'failed'), member('gw4', 'left')), 'gw1'), false, 'a failure');
  const tagged = member('gw2', 'alive', { v: 1 } as unknown as MemberView['tags']);
  assert.equal(someoneJoined(before, view(member('gw1', 'alive'), tagged, member('gw3', 'failed'), member('gw4', 'left')), 'gw1'), false, 'new tags');
});

test('the gap that earns one more push-pull after joins: 1 s up to 100 members, then 10 ms a member', () => {
  assert.equal(afterJoinsGapMs(2), 1000);
  assert.equal(afterJoinsGapMs(100), 1000);
  assert.equal(afterJoinsGapMs(1000), 10_000);
  assert.equal(afterJoinsGapMs(35_000), 350_000);
});

test('a young member: push-pulls at each delay after the start, none after stop; a failure is logged, not thrown', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: string[][] = [];
  let fail = true;
  const catchUp = startCatchUp({
    self: 'gw1',
    view: () => alive('gw1', 'gw2'),
    join: async (addresses) => {
      asked.push(addresses);
      if (fail) {
        fail = false;
        throw new Error('no answer');
      }
      return 1;
    },
    log: quiet,
    digestOf: differs,
  });
  assert.deepEqual(CATCH_UP_AFTER_MS, [2000, 4000, 8000, 16000]);
  t.mock.timers.tick(1999);
  assert.equal(asked.length, 0);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(asked, [['10.0.0.2:7946']]);
  t.mock.timers.tick(2000);
  await settle();
  t.mock.timers.tick(4000);
  await settle();
  assert.equal(asked.length, 3, 'the first failed and the next ones still came');
  await catchUp.stop();
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(asked.length, 3);
});

test('alone in the community: nothing to sync with, nothing asked', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: string[][] = [];
  startCatchUp({ self: 'gw1', view: () => alive('gw1'), join: async (a) => asked.push(a), log: quiet, digestOf: differs });
  t.mock.timers.tick(20_000);
  await settle();
  assert.equal(asked.length, 0);
});

test('after joins: one push-pull a quiet wait after the last join seen, none for the first view or for tags', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: string[][] = [];
  let current = alive('gw1', 'gw2', 'gw3');
  const catchUp = startCatchUp({ self: 'gw1', view: () => current, join: async (a) => asked.push(a), log: quiet, afterMs: [], random: () => 0, digestOf: differs });
  catchUp.viewChanged(current);
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(asked.length, 0, 'the first view is where it starts');

  current = alive('gw1', 'gw2', 'gw3', 'gw4');
  catchUp.viewChanged(current);
  t.mock.timers.tick(AFTER_JOINS_QUIET_MS.min - 400);
  current = alive('gw1', 'gw2', 'gw3', 'gw4', 'gw5');
  catchUp.viewChanged(current);
  t.mock.timers.tick(AFTER_JOINS_QUIET_MS.min - 1);
  await settle();
  assert.equal(asked.length, 0, 'each join starts the quiet wait again');
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(asked, [['10.0.0.2:7946']]);

  current = view(...current.members.values(), member('gw9', 'failed'));
  catchUp.viewChanged(current);
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(asked.length, 1, 'a failure is no join');
  await catchUp.stop();
});

test('the quiet wait is drawn in 1-2 s, again at each join', async (t) => {
  assert.deepEqual([0, 0.5, 0.999].map(afterJoinsQuietMs), [1000, 1500, 1999]);
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: number[] = [];
  // The draws in turn: the first join's wait, the second's, then the peer.
  const draws = [0.9, 0.25, 0];
  let current = alive('gw1', 'gw2');
  const catchUp = startCatchUp({ self: 'gw1', view: () => current, join: async () => asked.push(Date.now()), log: quiet, afterMs: [], random: () => draws.shift() ?? 0, digestOf: differs });
  catchUp.viewChanged(current);
  current = alive('gw1', 'gw2', 'gw3');
  catchUp.viewChanged(current);
  t.mock.timers.tick(1800);
  assert.equal(asked.length, 0, 'a wait of 1.9 s');
  current = alive('gw1', 'gw2', 'gw3', 'gw4');
  catchUp.viewChanged(current);
  t.mock.timers.tick(1249);
  await settle();
  assert.equal(asked.length, 0);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(asked, [1800 + 1250], 'the second join drew a wait of 1.25 s');
  await catchUp.stop();
});

test('after joins: three at once, then one a gap; stop cancels a wait', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: number[] = [];
  // A thousand members alive and four failed that come back one by one: the gap stays that of 1,004.
  const names = Array.from({ length: 1004 }, (_, i) => `gw${i + 1}`);
  const back = new Set<string>();
  const make = (): ViewState => view(...names.map((n, i) => member(n, i < 1000 || back.has(n) ? 'alive' : 'failed')));
  let current = make();
  const catchUp = startCatchUp({ self: 'gw1', view: () => current, join: async () => asked.push(Date.now()), log: quiet, afterMs: [], random: () => 0, digestOf: differs });
  catchUp.viewChanged(current);
  const joinOne = (name: string): void => {
    back.add(name);
    current = make();
    catchUp.viewChanged(current);
  };
  for (const name of ['gw1001', 'gw1002', 'gw1003']) {
    joinOne(name);
    t.mock.timers.tick(AFTER_JOINS_QUIET_MS.min);
    await settle();
  }
  assert.deepEqual(asked, [1000, 2000, 3000], `up to ${AFTER_JOINS_BURST} at once`);

  joinOne('gw1004');
  t.mock.timers.tick(AFTER_JOINS_QUIET_MS.min);
  assert.equal(asked.length, 3, 'the fourth waits to earn its turn');
  // Turns are earned from the first, at 1 s: the fourth is due at 1 s + the gap.
  const gap = afterJoinsGapMs(1004);
  t.mock.timers.tick(1000 + gap - 4000 - 1);
  await settle();
  assert.equal(asked.length, 3);
  t.mock.timers.tick(1);
  await settle();
  assert.deepEqual(asked.slice(3), [1000 + gap], 'as soon as it has earned it');

  back.delete('gw1004');
  current = make();
  catchUp.viewChanged(current);
  joinOne('gw1004');
  t.mock.timers.tick(AFTER_JOINS_QUIET_MS.min);
  await catchUp.stop();
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(asked.length, 4, 'the wait for a turn ended with stop');
});

test('the digest: the names of the members a view holds alive, in any order; a reply that holds none is none', () => {
  const a = view(member('gw1', 'alive'), member('gw2', 'alive'), member('gw3', 'failed'));
  const b = view(member('gw3', 'left'), member('gw2', 'alive', { v: 1 } as unknown as MemberView['tags']), member('gw1', 'alive'));
  assert.equal(aliveDigest(a), aliveDigest(b));
  assert.notEqual(aliveDigest(a), aliveDigest(alive('gw1', 'gw2', 'gw3')));
  assert.notEqual(aliveDigest(a), aliveDigest(alive('gw1')));
  assert.equal(readViewDigest(viewDigestReply(a)), aliveDigest(a));
  for (const bad of [undefined, null, 'x', {}, { digest: 7 }]) assert.equal(readViewDigest(bad), undefined);
});

test('a check first: views that agree make no push-pull; a different or unanswered one does; none once stopped', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const asked: string[][] = [];
  const current = alive('gw1', 'gw2');
  let reply: () => Promise<unknown> = async () => viewDigestReply(alive('gw2', 'gw1'));
  const checked: string[] = [];
  const catchUp = startCatchUp({
    self: 'gw1', view: () => current, join: async (a) => asked.push(a), log: quiet, random: () => 0,
    digestOf: async (m) => {
      checked.push(m);
      return reply();
    },
  });
  t.mock.timers.tick(CATCH_UP_AFTER_MS[0] as number);
  await settle();
  assert.deepEqual(checked, ['gw2']);
  assert.equal(asked.length, 0, 'the same alive members: nothing to repair');

  reply = async () => viewDigestReply(alive('gw1', 'gw2', 'gw3'));
  t.mock.timers.tick((CATCH_UP_AFTER_MS[1] as number) - (CATCH_UP_AFTER_MS[0] as number));
  await settle();
  assert.deepEqual(asked, [['10.0.0.2:7946']], 'it holds a member this one lacks');

  reply = async () => {
    throw new Error('no peer address yet');
  };
  t.mock.timers.tick((CATCH_UP_AFTER_MS[2] as number) - (CATCH_UP_AFTER_MS[1] as number));
  await settle();
  assert.equal(asked.length, 2, 'unanswered: the push-pull anyway');

  let answer: (value: unknown) => void = () => undefined;
  reply = () => new Promise((resolve) => {
    answer = resolve;
  });
  t.mock.timers.tick((CATCH_UP_AFTER_MS[3] as number) - (CATCH_UP_AFTER_MS[2] as number));
  await settle();
  await catchUp.stop();
  answer({ digest: 'another view' });
  await settle();
  assert.equal(asked.length, 2, 'stopped while it checked');
});

test('stop waits for a push-pull Serf still works on: a join that ended after the leave began would cancel it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let answer: () => void = () => undefined;
  const asked: string[][] = [];
  const catchUp = startCatchUp({
    self: 'gw1', view: () => alive('gw1', 'gw2'), log: quiet, random: () => 0, digestOf: differs,
    join: (a) => new Promise<void>((resolve) => {
      asked.push(a);
      answer = resolve;
    }),
  });
  t.mock.timers.tick(CATCH_UP_AFTER_MS[0] as number);
  await settle();
  assert.equal(asked.length, 1, 'the push-pull was asked for');
  let stopped = false;
  const stopping = catchUp.stop().then(() => {
    stopped = true;
  });
  await settle();
  assert.equal(stopped, false, 'not stopped while Serf works on the join');
  answer();
  await stopping;
  assert.equal(stopped, true);
  assert.equal(asked.length, 1, 'and no other after stop');
});
