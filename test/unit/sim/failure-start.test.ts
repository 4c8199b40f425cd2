// bench/failure-start.ts: how a failure's first members learnt it, from the
// Serf lines of the agents' logs (the one-machine model's TickRace).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AT_ONCE_MS, DECLARED, FAILURE_LEARNT, failureStart } from '../../../bench/failure-start.js';
import type { LogLine } from '../../../bench/lib.js';

const T0 = 1_000_000;
const timer = (victim: string, at: number): LogLine => ({ at: T0 + at, msg: `${DECLARED}${victim} as failed, suspect timeout reached (4 peer confirmations)`, fields: {} });
const message = (victim: string, at: number): LogLine => ({ at: T0 + at, msg: `${FAILURE_LEARNT}${victim} 127.0.0.1`, fields: {} });

test("the early carrier, and the prober's suspicion gossiped at once: a member's first line counts, by what it says", () => {
  const logs: LogLine[][] = [
    [timer('sc-gw01', 0), message('sc-gw01', 1)], // the prober: its timer, then Serf's event
    [timer('sc-gw01', 2)], // the early carrier
    [timer('sc-gw01', 5)], [timer('sc-gw01', 9)], [timer('sc-gw01', 20)], // the prober's first tick, at once
    [message('sc-gw01', AT_ONCE_MS + 1)], // the death, a tick later: not at once
    [message('sc-gw010', 3)], // another member, whose name starts the same
    [timer('sc-gw01', -60_000)], // an earlier failure of the same member
  ];
  const start = failureStart(logs, 'sc-gw01', T0);
  assert.ok(start !== null);
  assert.equal(start.members, 6);
  assert.equal(start.firstAt, T0);
  assert.deepEqual(start.second, { afterMs: 2, byTimer: true });
  assert.deepEqual(start.atOnce, { byTimer: 3, byMessage: 0 });
  assert.equal(start.suspicionAtOnce, true);
  assert.equal(start.deathAtOnce, false);
});

test('the death gossiped at once, the suspicion not; fewer than two members learning it says nothing', () => {
  const logs = [[timer('g', 0)], [timer('g', 4)], [message('g', 6)], [message('g', 7)], [message('g', 12)], [timer('g', 200)]];
  const start = failureStart(logs, 'g', 0);
  assert.deepEqual(start?.atOnce, { byTimer: 0, byMessage: 3 });
  assert.equal(start?.suspicionAtOnce, false);
  assert.equal(start?.deathAtOnce, true);
  assert.equal(failureStart([[timer('g', 0)], []], 'g', 0), null);
});
