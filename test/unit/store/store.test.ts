// The store: migrations run once and survive reopening, rows round-trip,
// names and addresses stay unique, forwards go with their sliver.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../src/store/db.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { createStore } from '../../../src/store/store.js';
import { DEFAULT_RESOURCES } from '../../../src/model/sliver.js';

const spec = (name: string) => ({ name, slice: name, template: 'busybox' as const, resources: { ...DEFAULT_RESOURCES, cpu: 0.25 } });

test('a database is migrated once, and reopening keeps its rows', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'h.db');
  let db = openDb(file);
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  createStore({ db, now: () => 't0' }).insertSliver('a1', spec('web'), 'running');
  db.close();
  db = openDb(file);
  const store = createStore({ db, now: () => 't1' });
  const s = store.getSliver('web');
  assert.deepEqual(s?.spec, spec('web'));
  assert.equal(s?.observed, 'requested');
  assert.equal(store.getSliver('a1')?.spec.name, 'web', 'found by id too');
  db.close();
});

test('names and addresses are unique; forwards are deleted with their sliver', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'h.db'));
  t.after(() => db.close());
  const store = createStore({ db, now: () => new Date(0).toISOString() });
  store.insertSliver('a1', spec('web'), 'running');
  assert.throws(() => store.insertSliver('a2', spec('web'), 'running'), /UNIQUE/);
  store.insertSliver('a3', spec('db'), 'running');
  store.updateSliver('a1', { address: '10.0.0.2' });
  assert.throws(() => store.updateSliver('a3', { address: '10.0.0.2' }), /UNIQUE/);
  store.insertForward({ proto: 'tcp', hostPort: 80, sliverId: 'a1', port: 8080 });
  assert.throws(() => store.insertForward({ proto: 'tcp', hostPort: 80, sliverId: 'a3', port: 1 }), /UNIQUE|PRIMARY/);
  store.deleteSliver('a1');
  assert.deepEqual(store.listForwards(), []);
  assert.deepEqual([...store.usedAddresses()], []);
});

test('events are listed in order, after a sequence number, per sliver', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'h.db'));
  t.after(() => db.close());
  const store = createStore({ db, now: () => 'now' });
  store.insertSliver('a1', spec('web'), 'running');
  store.appendEvent('a1', 'x', { n: 1 });
  store.appendEvent(null, 'y');
  const all = store.listEvents();
  assert.deepEqual(all.map((e) => e.type), ['sliver.requested', 'x', 'y']);
  assert.deepEqual(store.listEvents({ after: all[0]?.seq ?? 0 }).map((e) => e.type), ['x', 'y']);
  assert.deepEqual(store.listEvents({ sliverId: 'a1' }).map((e) => e.type), ['sliver.requested', 'x']);
  assert.deepEqual(store.listEvents({ limit: 1 }).map((e) => e.type), ['sliver.requested']);
});
