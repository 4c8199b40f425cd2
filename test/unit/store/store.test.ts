// The store: migrations run once and survive reopening, rows round-trip,
// names and addresses stay unique, forwards go with their sliver.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../../src/store/db.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { createStore } from '../../../src/store/store.js';
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
