// The slices page's healing history (web/src/slice-history.ts) from events
// as the stream carries them and as the gateway's API pages them: only the
// moves of the one slice of the one user, in the order the gateway logged
// them, each once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeEvents, movesOf, readMoves, type EventsReader } from '../../../web/src/slice-history.js';
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

test('the history read from the gateway and the events of the stream make one list, each seq once, oldest first', () => {
  const [a, b, c, d] = [1, 2, 3, 4].map((n) => event('slice.sliver-moved', { slice: 'web', user: 'SHA256:ana', index: n, from: 'gw1', to: 'gw2', version: n + 1 })) as [HearthEvent, HearthEvent, HearthEvent, HearthEvent];
  const merged = mergeEvents([a, b, c], [d, c, b]);
  assert.deepEqual(merged.map((e) => e.seq), [a.seq, b.seq, c.seq, d.seq]);
  assert.deepEqual(mergeEvents([], [d, a]).map((e) => e.seq), [a.seq, d.seq]);
});

test('the moves are read page by page until the gateway says there is no next one', async () => {
  const asked: string[] = [];
  const moves = [1, 2, 3].map((n) => event('slice.sliver-moved', { slice: 'web site', user: 'SHA256:a+b', index: n, from: 'gw1', to: 'gw2', version: n + 1 }));
  const api: EventsReader = {
    get: async <T>(path: string): Promise<T> => {
      asked.push(path);
      const after = Number(new URL(path, 'http://x').searchParams.get('after'));
      const rest = moves.filter((m) => m.seq > after);
      return { items: rest.slice(0, 2), next: rest.length > 2 ? rest[1]?.seq : null } as T;
    },
  };
  assert.deepEqual(await readMoves(api, 'web site', 'SHA256:a+b'), moves);
  assert.equal(asked.length, 2);
  assert.match(asked[0] ?? '', /^\/api\/v1\/slices\/web%20site\/events\?user=SHA256%3Aa%2Bb&type=slice\.sliver-moved&limit=500&after=0$/);
});
