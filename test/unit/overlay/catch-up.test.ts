// A young member's catch-up: a few push-pulls at growing intervals after
// its overlay starts, each with one alive member other than itself, none
// once stopped, and a failed one neither thrown nor ending the others.
// Node's mock timers stand in for time; the join is a recording stand-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger as quiet } from '../../../src/model/logger.js';
import { CATCH_UP_AFTER_MS, pickSyncPeer, startCatchUp } from '../../../src/overlay/catch-up.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';

function member(name: string, status: MemberView['status']): MemberView {
  return { name, serfAddr: `10.0.0.${name.slice(2)}:7946`, status, tags: null, tagError: null, coordinate: null };
}
const view = (...members: MemberView[]): ViewState => ({ members: new Map(members.map((m) => [m.name, m])), badTags: 0 });

test('the peer is an alive member other than this one, any of them by the draw', () => {
  const v = view(member('gw1', 'alive'), member('gw2', 'failed'), member('gw3', 'alive'), member('gw4', 'left'), member('gw5', 'alive'));
  const picked = new Set([0, 0.34, 0.5, 0.99].map((u) => pickSyncPeer(v, 'gw1', () => u)));
  assert.deepEqual([...picked].sort(), ['10.0.0.3:7946', '10.0.0.5:7946']);
  assert.equal(pickSyncPeer(view(member('gw1', 'alive'), member('gw2', 'failed')), 'gw1', () => 0), undefined);
});

test('push-pulls at each delay after the start, none after stop; a failure is logged, not thrown', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const asked: string[][] = [];
  let fail = true;
  const stop = startCatchUp({
    self: 'gw1',
    view: () => view(member('gw1', 'alive'), member('gw2', 'alive')),
    join: async (addresses) => {
      asked.push(addresses);
      if (fail) {
        fail = false;
        throw new Error('no answer');
      }
      return 1;
    },
    log: quiet,
  });
  assert.deepEqual(CATCH_UP_AFTER_MS, [2000, 4000, 8000, 16000]);
  t.mock.timers.tick(1999);
  assert.equal(asked.length, 0);
  t.mock.timers.tick(1);
  assert.deepEqual(asked, [['10.0.0.2:7946']]);
  await Promise.resolve();
  t.mock.timers.tick(2000);
  t.mock.timers.tick(4000);
  assert.equal(asked.length, 3, 'the first failed and the next ones still came');
  stop();
  t.mock.timers.tick(10_000);
  assert.equal(asked.length, 3);
});

test('alone in the community: nothing to sync with, nothing asked', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const asked: string[][] = [];
  startCatchUp({ self: 'gw1', view: () => view(member('gw1', 'alive')), join: async (a) => asked.push(a), log: quiet });
  t.mock.timers.tick(20_000);
  assert.equal(asked.length, 0);
});
