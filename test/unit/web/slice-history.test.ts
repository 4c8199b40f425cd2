// The slices page's healing history (web/src/slice-history.ts) from events
// as the stream carries them: only the moves of the one slice of the one
// user, in the order the gateway logged them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { movesOf } from '../../../web/src/slice-history.js';
import type { HearthEvent } from '../../../web/src/types.js';

let seq = 0;
const event = (type: string, detail: Record<string, unknown>, sliverId: string | null = null): HearthEvent =>
  ({ seq: ++seq, at: `2026-12-02T07:00:0${seq}.000Z`, sliverId, type, detail });

test("a slice's moves are its own user's, of that slice, oldest first", () => {
  const events = [
    event('slice.sliver-moved', { slice: 'web', user: 'SHA256:ana', index: 1, from: 'gw1', to: 'gw2', version: 2 }),
    event('slice.sliver-moved', { slice: 'web', user: 'SHA256:bob', index: 0, from: 'gw1', to: 'gw3', version: 2 }),
    event('slice.sliver-moved', { slice: 'db', user: 'SHA256:ana', index: 0, from: 'gw1', to: 'gw3', version: 2 }),
    event('slice.sliver-hosted', { slice: 'web', user: 'SHA256:ana', index: 1, entry: 'gw2' }, 'abc'),
    event('slice.sliver-moved', { slice: 'web', user: 'SHA256:ana', index: 0, from: 'gw3', to: 'gw4', version: 3 }),
  ];
  assert.deepEqual(movesOf(events, 'web', 'SHA256:ana'), [
    { seq: 1, at: '2026-12-02T07:00:01.000Z', version: 2, index: 1, from: 'gw1', to: 'gw2' },
    { seq: 5, at: '2026-12-02T07:00:05.000Z', version: 3, index: 0, from: 'gw3', to: 'gw4' },
  ]);
  assert.deepEqual(movesOf(events, 'web', 'SHA256:carol'), []);
});

test('an event without the fields a move has is left out', () => {
  const events = [event('slice.sliver-moved', { slice: 'web', user: 'SHA256:ana', index: '1', from: 'gw1', to: 'gw2', version: 2 })];
  assert.deepEqual(movesOf(events, 'web', 'SHA256:ana'), []);
});
