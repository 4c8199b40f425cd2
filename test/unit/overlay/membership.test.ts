// The membership driver's bookkeeping, over an in-memory fake of the Serf RPC
// client (named so; the real client is tested against real agents in
// test/integration/overlay): a member list that arrives after an event does
// not undo it, and coordinates are read a bounded share per round, applied
// as one change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createMembership } from '../../../src/overlay/membership.js';
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
  let answer: ((m: SerfMember[]) => void) | undefined;
  let hold = false;
  const coordinateCalls: string[] = [];
  const rpc = {
    events: new EventEmitter(),
    isConnected: true,
    stream: async (_filter: string, h: (e: SerfEvent) => void) => {
      handler = h;
      return async () => undefined;
    },
    members: async () => hold ? new Promise<SerfMember[]>((resolve) => { answer = resolve; }) : initial,
    getCoordinate: async (name: string) => {
      coordinateCalls.push(name);
      return { vec: [coordinateCalls.length / 1000, 0], height: 0, adjustment: 0, error: 0.5 };
    },
  };
  return {
    rpc: rpc as unknown as SerfRpc,
    coordinateCalls,
    emit: (e: SerfEvent) => handler?.(e),
    holdLists: () => { hold = true; },
    answerList: (m: SerfMember[]) => answer?.(m),
  };
}


test('a member list asked for before a failure event arrives after it and does not undo it', async () => {
  const fake = fakeRpc([member('gw1'), member('gw2')]);
  const membership = createMembership({ rpc: fake.rpc, log: quiet, self: 'gw1', coordinateIntervalMs: 3_600_000 });
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

test('coordinates: all at start, then this gateway and a bounded share of the others per round, each change applied once', async () => {
  const names = Array.from({ length: 30 }, (_, i) => `gw${i + 1}`);
  const fake = fakeRpc(names.map((n) => member(n)));
  let changes = 0;
  const membership = createMembership({ rpc: fake.rpc, log: quiet, self: 'gw1', coordinateIntervalMs: 20, coordinatesPerRound: 4, refreshEveryTicks: 1000, onChange: () => changes++ });
  await membership.start();
  try {
    assert.equal(fake.coordinateCalls.length, 30, 'every member read at start');
    const changesAtStart = changes;
    fake.coordinateCalls.length = 0;
    while (fake.coordinateCalls.length < 5 * 3) await new Promise((r) => setTimeout(r, 5));
    const rounds = fake.coordinateCalls.slice(0, 15);
    for (let r = 0; r < 3; r++) {
      const round = rounds.slice(r * 5, r * 5 + 5);
      assert.equal(round[0], 'gw1', 'its own coordinate first, every round');
      assert.equal(new Set(round.slice(1)).size, 4, 'four others per round');
    }
    assert.deepEqual(new Set(rounds.filter((n) => n !== 'gw1')).size, 12, 'the rounds go round the others, none twice');
    assert.ok(changes - changesAtStart <= Math.ceil(fake.coordinateCalls.length / 5) + 1, 'one view change per round at most');
  } finally {
    await membership.stop();
  }
});
