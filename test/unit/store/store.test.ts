// The store: migrations run once and survive reopening, rows round-trip,
// names and addresses stay unique, forwards go with their sliver, a slice's
// events are found through indexes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../../src/store/db.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { SLICE_EVENTS_SQL, SLICE_USERS_SQL, createStore } from '../../../src/store/store.js';
import { DEFAULT_RESOURCES } from '../../../src/model/sliver.js';

const spec = (name: string) => ({ name, slice: name, template: 'busybox' as const, packages: [], resources: { ...DEFAULT_RESOURCES, cpu: 0.25 } });

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

test("a sliver's packages round-trip; a sliver stored before packages existed reads as the base image", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'h.db');
  // A gateway's database as the release before the packages column left it, with one sliver.
  const old = new Database(file);
  for (const sql of MIGRATIONS.slice(0, 5)) old.exec(sql);
  old.pragma('user_version = 5');
  old.prepare(`INSERT INTO slivers (id, name, slice, template, cpu, memory_mb, disk_mb, pids, desired, observed, created_at, updated_at)
    VALUES ('o1', 'old', 'old', 'debian', 0.5, 128, 256, 256, 'running', 'running', 't0', 't0')`).run();
  old.close();
  const db = openDb(file);
  t.after(() => db.close());
  const store = createStore({ db, now: () => 't1' });
  assert.deepEqual(store.getSliver('old')?.spec.packages, []);
  const web = { ...spec('web'), template: 'debian' as const, packages: ['ffmpeg', 'nginx'] };
  store.insertSliver('a1', web, 'running');
  assert.deepEqual(store.getSliver('web')?.spec, web);
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

test("a slice's events: those naming it and its user, and its slivers' own, through the indexes", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'h.db'));
  t.after(() => db.close());
  const store = createStore({ db, now: () => 'now' });
  const ana = 'SHA256:ana';
  const bo = 'SHA256:bo';
  // Ana's slice web: a sliver hosted here, its own events, a move; the owner's sliver and Bo's slice of the same name around it.
  store.insertSliver('own', spec('own'), 'running');
  store.insertSliver('w0', { ...spec('web-0'), slice: 'web' }, 'running', { user: ana, index: 0 });
  store.appendEvent('w0', 'slice.sliver-hosted', { slice: 'web', user: ana, index: 0, entry: 'gw-a' });
  store.appendEvent('own', 'sliver.started', { name: 'own' });
  store.appendEvent('w0', 'sliver.started', { name: 'web-0' });
  store.appendEvent(null, 'slice.sliver-moved', { slice: 'web', user: ana, index: 1, from: 'gw-b', to: 'gw-c', version: 2 });
  store.appendEvent(null, 'slice.sliver-moved', { slice: 'web', user: bo, index: 0, from: 'gw-b', to: 'gw-c', version: 2 });
  store.appendEvent(null, 'slice.sliver-moved', { slice: 'webby', user: ana, index: 0, from: 'gw-b', to: 'gw-c', version: 2 });
  store.appendEvent('w0', 'service.up', { service: 'www' });

  const web = store.listSliceEvents({ user: ana, name: 'web' });
  assert.deepEqual(web.map((e) => [e.sliverId, e.type]), [
    ['w0', 'sliver.requested'], ['w0', 'slice.sliver-hosted'], ['w0', 'sliver.started'], [null, 'slice.sliver-moved'], ['w0', 'service.up'],
  ]);
  assert.deepEqual(web.find((e) => e.type === 'slice.sliver-moved')?.detail, { slice: 'web', user: ana, index: 1, from: 'gw-b', to: 'gw-c', version: 2 });
  // Paged by seq, and by type.
  const first = store.listSliceEvents({ user: ana, name: 'web', limit: 2 });
  assert.deepEqual(first, web.slice(0, 2));
  assert.deepEqual(store.listSliceEvents({ user: ana, name: 'web', after: first[1]?.seq ?? 0 }), web.slice(2));
  assert.deepEqual(store.listSliceEvents({ user: ana, name: 'web', type: 'slice.sliver-moved' }).map((e) => e.detail['index']), [1]);
  assert.deepEqual(store.listSliceEvents({ user: bo, name: 'web' }).map((e) => e.detail['user']), [bo]);
  assert.deepEqual(store.listSliceEvents({ user: ana, name: 'nope' }), []);

  // Whose slices of a name this gateway knows: from its log and its records.
  assert.deepEqual(store.sliceUsers('web'), [ana, bo]);
  store.putSlice({ user: 'SHA256:cy', name: 'quiet', document: {}, placement: {}, version: 1, expiresAt: 0, deletedAt: null, deleteDocument: null, renewDocument: null, resizeDocument: null });
  assert.deepEqual(store.sliceUsers('quiet'), ['SHA256:cy']);
  assert.deepEqual(store.sliceUsers('nope'), []);

  // Neither query reads the whole log: each is answered from the indexes of migration 8.
  const plans = [
    db.prepare(`EXPLAIN QUERY PLAN ${SLICE_EVENTS_SQL}`).all({ user: ana, name: 'web', after: 0, limit: 10, type: null }),
    db.prepare(`EXPLAIN QUERY PLAN ${SLICE_USERS_SQL}`).all('web', 'web'),
  ] as { detail: string }[][];
  for (const rows of plans) {
    const plan = rows.map((r) => r.detail);
    assert.ok(!plan.some((d) => /^SCAN events\b/.test(d)), plan.join('; '));
    assert.ok(plan.some((d) => /USING (COVERING )?INDEX events_by_slice/.test(d)), plan.join('; '));
  }
});
