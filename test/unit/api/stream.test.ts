// The stream hub's bookkeeping over in-memory sources (a fake event log and
// snapshots): each client gets the greeting, the snapshots and its backlog,
// then every new event once and in order, and a snapshot only when it
// changed. The WebSocket around it is in stream-api.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKLOG, closeCodeOf, createStreamHub, parseAuthMessage, wholeField, type StreamMessage, type StreamSources } from '../../../src/api/stream.js';
import { HearthError } from '../../../src/model/errors.js';
import type { EventRecord } from '../../../src/store/store.js';

function memorySources(): StreamSources & { log: EventRecord[]; add(type: string): void; members: unknown[] } {
  const log: EventRecord[] = [];
  const members: unknown[] = [{ name: 'gw1', status: 'alive' }];
  return {
    self: 'gw1', log, members,
    add(type) {
      log.push({ seq: log.length + 1, at: new Date(0).toISOString(), sliverId: null, type, detail: {} });
    },
    nodes: () => ({ self: 'gw1', community: 'c', items: [...members] }),
    community: () => ({ name: 'c' }),
    services: () => [],
    events: (after, limit) => log.filter((e) => e.seq > after).slice(0, limit),
    latestSeq: () => log.length,
  };
}

function recorder(): { messages: StreamMessage[]; send(m: StreamMessage): void; events(): number[]; kinds(): string[] } {
  const messages: StreamMessage[] = [];
  return {
    messages,
    send: (m) => void messages.push(m),
    events: () => messages.flatMap((m) => (m.type === 'event' ? [m.event.seq] : [])),
    kinds: () => messages.map((m) => m.type),
  };
}

test('a client that joins gets the greeting, the three snapshots and the last events, oldest first', () => {
  const sources = memorySources();
  for (let i = 0; i < BACKLOG + 20; i++) sources.add('sliver.started');
  const hub = createStreamHub(sources);
  const c = recorder();
  hub.join(c, undefined);
  assert.deepEqual(c.messages[0], { type: 'ready', self: 'gw1', seq: BACKLOG + 20 });
  assert.deepEqual(c.kinds().slice(1, 4), ['nodes', 'community', 'services']);
  assert.deepEqual(c.events(), Array.from({ length: BACKLOG }, (_, i) => 21 + i));
});

test('new events reach every client once and in order, however many ticks, and more than a page at once', () => {
  const sources = memorySources();
  const hub = createStreamHub(sources);
  const a = recorder();
  const b = recorder();
  hub.join(a, undefined);
  hub.join(b, undefined);
  for (let i = 0; i < 1200; i++) sources.add('e');
  hub.tick();
  hub.tick();
  sources.add('late');
  hub.tick();
  const all = Array.from({ length: 1201 }, (_, i) => i + 1);
  assert.deepEqual(a.events(), all);
  assert.deepEqual(b.events(), all);
});

test('a client that comes back with the last sequence it saw gets exactly what it missed', () => {
  const sources = memorySources();
  const hub = createStreamHub(sources);
  const first = recorder();
  const leave = hub.join(first, 0);
  sources.add('a');
  sources.add('b');
  hub.tick();
  leave();
  sources.add('c');
  sources.add('d');
  hub.tick();
  assert.equal(hub.clients, 0);
  const again = recorder();
  hub.join(again, first.events().at(-1));
  hub.tick();
  assert.deepEqual([...first.events(), ...again.events()], [1, 2, 3, 4]);
});

test('a snapshot is sent again only when it changed', () => {
  const sources = memorySources();
  const hub = createStreamHub(sources);
  const c = recorder();
  hub.join(c, undefined);
  hub.tick();
  const before = c.messages.filter((m) => m.type === 'nodes').length;
  hub.tick();
  hub.tick();
  assert.equal(c.messages.filter((m) => m.type === 'nodes').length, before, 'unchanged: not sent');
  sources.members.push({ name: 'gw2', status: 'alive' });
  hub.tick();
  const nodes = c.messages.filter((m): m is Extract<StreamMessage, { type: 'nodes' }> => m.type === 'nodes');
  assert.equal(nodes.length, before + 1);
  assert.equal(nodes.at(-1)?.items.length, 2);
});

test("a client that sees only some events (a user's own slivers) gets those, in order, in its backlog and after", () => {
  const sources = memorySources();
  sources.log.push({ seq: 1, at: '', sliverId: 'mine', type: 'a', detail: {} }, { seq: 2, at: '', sliverId: 'theirs', type: 'b', detail: {} });
  const hub = createStreamHub({ ...sources, latestSeq: () => sources.log.length });
  const c = recorder();
  hub.join({ ...c, sees: (e) => e.sliverId === 'mine' }, 0);
  sources.log.push({ seq: 3, at: '', sliverId: null, type: 'c', detail: {} }, { seq: 4, at: '', sliverId: 'mine', type: 'd', detail: {} });
  hub.tick();
  assert.deepEqual(c.events(), [1, 4]);
});

test('out of a community, the member view is this gateway alone with no members', () => {
  const sources = { ...memorySources(), nodes: () => undefined };
  const c = recorder();
  createStreamHub(sources).join(c, undefined);
  assert.deepEqual(c.messages.find((m) => m.type === 'nodes'), { type: 'nodes', self: 'gw1', community: '', items: [] });
});

test('the first message is checked before anything is sent', () => {
  assert.deepEqual(parseAuthMessage('{"type":"auth","token":"t","after":7}'), { credential: { token: 't' }, fields: { after: 7 } });
  assert.deepEqual(parseAuthMessage('{"type":"auth","signature":{"input":"i","signature":"s"}}'), { credential: { signature: { input: 'i', signature: 's' } }, fields: {} });
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      return (err as HearthError).code;
    }
    return 'accepted';
  };
  assert.equal(code(() => parseAuthMessage('not json')), 'malformed_json');
  assert.equal(code(() => parseAuthMessage('null')), 'invalid_request');
  assert.equal(code(() => parseAuthMessage('{"type":"hello","token":"t"}')), 'invalid_request');
  assert.equal(code(() => parseAuthMessage('{"type":"auth","token":5}')), 'invalid_request');
  assert.equal(code(() => parseAuthMessage('{"type":"auth"}')), 'invalid_request', 'neither');
  assert.equal(code(() => parseAuthMessage('{"type":"auth","token":"t","signature":{"input":"i","signature":"s"}}')), 'invalid_request', 'both');
  assert.equal(code(() => parseAuthMessage('{"type":"auth","signature":{"input":"i"}}')), 'invalid_request', 'half a signature');
  assert.equal(wholeField({ cols: 90 }, 'cols', 1, 500, 80), 90);
  assert.equal(wholeField({}, 'cols', 1, 500, 80), 80);
  assert.equal(wholeField({}, 'after', 0, 10), undefined);
  for (const bad of [-1, 1.5, '3', 501, null]) assert.equal(code(() => wholeField({ cols: bad }, 'cols', 0, 500)), 'invalid_request', String(bad));
  assert.equal(closeCodeOf(new HearthError('unauthorized', 'x')), 4401);
});
