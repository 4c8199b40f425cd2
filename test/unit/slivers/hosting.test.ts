// The host's side of a slice on a real SQLite store: leases hold resources
// until they are committed or lapse, commits are idempotent, the admission
// inside each transaction never over-commits the gateway, a user's deleted
// slice is not revived by an older document, and expired slices go.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HearthError } from '../../../src/model/errors.js';
import { parseSliceSpec } from '../../../src/model/slice.js';
import type { TemplateName } from '../../../src/model/sliver.js';
import { DEFAULT_POLICY, type OwnerPolicy } from '../../../src/model/policy.js';
import { openDb } from '../../../src/store/db.js';
import { createStore, type Store } from '../../../src/store/store.js';
import { createSliceHosting, type ReserveRequest, type SliceHosting } from '../../../src/slivers/hosting.js';
import { createSliverService, usageWithLeases } from '../../../src/slivers/service.js';
import { createMemoryDriver } from '../../../src/virt/memory.js';

interface Host {
  store: Store;
  policy: { current: OwnerPolicy };
  hosting: SliceHosting;
  clock: { now: number };
  kicks: { count: number };
}

function host(
  t: { after: (fn: () => void) => void }, contribution = { cpu: 2, memoryMb: 1024, diskMb: 4096, slivers: 8 }, templates: readonly TemplateName[] = ['busybox'],
): Host {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-hosting-'));
  const db = openDb(join(dir, 'h.db'));
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = createStore({ db, now: () => new Date().toISOString() });
  const clock = { now: 1_000_000 };
  const kicks = { count: 0 };
  const policy = { current: DEFAULT_POLICY };
  const hosting = createSliceHosting({
    store, contribution: () => contribution, policy: () => policy.current, templates, nowSec: () => clock.now, kick: () => void kicks.count++,
  });
  return { store, policy, hosting, clock, kicks };
}

const spec = (name: string, cpu = 0.5) => parseSliceSpec({ name, slivers: 3, resources: { cpu, memoryMb: 128, diskMb: 256 } });
const ALICE = 'SHA256:alice';
const BOB = 'SHA256:bob';

function reserveReq(h: Host, over: Partial<ReserveRequest> = {}): ReserveRequest {
  const signedAt = over.signedAt ?? h.clock.now;
  return { lease: 'L1', spec: spec('web'), user: ALICE, index: 0, holder: 'gw1', ttlSec: 30, signedAt, incarnation: `n${signedAt}`, ...over };
}

/** A create document as the host keeps it (the peer route verified it). */
const createDoc = (r: ReserveRequest) => ({ signed: 'doc', nonce: r.incarnation, at: r.signedAt, body: r.spec });

function commitReq(r: ReserveRequest, over: { placement?: Record<string, string>; version?: number } = {}) {
  return {
    lease: r.lease, spec: r.spec, user: r.user, index: r.index, document: createDoc(r), placement: over.placement ?? { [r.index]: 'gw2' },
    version: over.version ?? 1, signedAt: r.signedAt, ...(r.resize === undefined ? {} : { resize: r.resize }),
  };
}

/** A slice.resize document as the host keeps it (the peer route verified it). */
const resizeDoc = (slivers: number, at: number, nonce = `r${at}-${slivers}`) => ({ kind: 'slice.resize', at, nonce, body: { slice: 'web', slivers } });

const code = (c: string) => (err: unknown) => err instanceof HearthError && err.code === c;

void describe('hosting a slice sliver', () => {
  void test("a debian slice's sliver gets the slice's packages, and an old spec without them the base image", (t) => {
    const h = host(t, undefined, ['busybox', 'debian']);
    const tv = reserveReq(h, { lease: 'T', spec: parseSliceSpec({ name: 'tv', template: 'debian', packages: ['nginx', 'ffmpeg'] }) });
    h.hosting.reserve(tv);
    assert.deepEqual(h.hosting.commit(commitReq(tv)).spec.packages, ['ffmpeg', 'nginx']);
    const old = reserveReq(h, { lease: 'O', spec: parseSliceSpec({ name: 'old', template: 'debian' }) });
    h.hosting.reserve(old);
    assert.deepEqual(h.hosting.commit(commitReq(old)).spec.packages, []);
  });

  void test("a slice's services are forwarded on the sliver it commits, and a fixed gateway port held here refuses the reservation", (t) => {
    const h = host(t);
    const withServices = parseSliceSpec({ name: 'site', services: [{ name: 'web', type: 'http', port: 80 }, { name: 'dht', type: 'bittorrent', port: 6881, protocol: 'udp', hostPort: 6881 }] });
    const r = reserveReq(h, { lease: 'S', spec: withServices });
    h.hosting.reserve(r);
    const sliver = h.hosting.commit(commitReq(r));
    assert.deepEqual(h.store.listServices(sliver.id).map((x) => [x.name, x.protocol, x.hostPort, x.fixed]), [['dht', 'udp', 6881, true], ['web', 'tcp', 40000, false]]);
    assert.deepEqual(h.store.listForwards(sliver.id).map((f) => [f.proto, f.hostPort, f.port]), [['tcp', 40000, 80], ['udp', 6881, 6881]]);
    // Committing again (the entry gateway retried) changes nothing.
    h.hosting.commit(commitReq(r));
    assert.equal(h.store.listServices(sliver.id).length, 2);
    // Another slice asking for the same fixed port cannot be hosted here.
    const clash = reserveReq(h, { lease: 'C', spec: parseSliceSpec({ name: 'other', services: [{ name: 'dht', type: 'bittorrent', port: 6881, protocol: 'udp', hostPort: 6881 }] }) });
    assert.throws(() => h.hosting.reserve(clash), code('port_taken'));
    assert.deepEqual(h.store.listLeases().map((l) => l.id), [], 'no lease left');
  });

  void test("an app slice's sliver gets its role's services, by its index", (t) => {
    const h = host(t, { cpu: 4, memoryMb: 4096, diskMb: 8192, slivers: 8 }, ['busybox', 'debian']);
    const app = {
      name: 'demo', description: 'two roles', packages: ['nginx'],
      roles: [
        { name: 'origin', slivers: 1, services: [{ name: 'origin', type: 'hls', port: 80 }] },
        { name: 'edge', slivers: 1, scalable: true, services: [{ name: 'edge', type: 'hls', port: 80 }, { name: 'ssh', type: 'ssh', port: 22 }] },
      ],
    };
    const appSpec = parseSliceSpec({ name: 'tv', slivers: 3, app });
    const committed = [0, 2].map((index) => {
      const r = reserveReq(h, { lease: `A${index}`, spec: appSpec, index });
      h.hosting.reserve(r);
      return h.hosting.commit(commitReq(r));
    });
    assert.deepEqual(committed.map((s) => h.store.listServices(s.id).map((x) => x.name)), [['origin'], ['edge', 'ssh']]);
  });

  void test('a lease holds resources until it is committed into a sliver of the slice', (t) => {
    const h = host(t);
    const req = reserveReq(h);
    const reserved = h.hosting.reserve(req);
    assert.equal(reserved.kind, 'leased');
    assert.deepEqual(usageWithLeases(h.store, h.clock.now), { cpu: 0.5, memoryMb: 128, diskMb: 256, slivers: 1, upMbit: 0, downMbit: 0 });
    // The same lease asked again (a retry) is not counted twice.
    h.hosting.reserve(req);
    assert.equal(usageWithLeases(h.store, h.clock.now).slivers, 1);

    const sliver = h.hosting.commit(commitReq(req));
    assert.equal(sliver.spec.name, 'web-0');
    assert.equal(sliver.spec.slice, 'web');
    assert.deepEqual(sliver.member, { user: ALICE, index: 0 });
    assert.equal(h.store.listLeases().length, 0);
    assert.equal(usageWithLeases(h.store, h.clock.now).slivers, 1, 'the sliver now holds what the lease held');
    assert.equal(h.kicks.count, 1);
    const record = h.store.getSlice(ALICE, 'web');
    assert.deepEqual(record?.document, createDoc(req));
    assert.equal(record?.expiresAt, req.signedAt + req.spec.lifetimeSec);

    // A commit or reserve retried after success answers with the same sliver.
    assert.equal(h.hosting.commit(commitReq(req)).id, sliver.id);
    const again = h.hosting.reserve(req);
    assert.equal(again.kind === 'hosted' ? again.sliver.id : undefined, sliver.id);
  });

  void test('two entry gateways reserving the last room: one lease, one refusal', (t) => {
    const h = host(t, { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 });
    h.hosting.reserve(reserveReq(h, { lease: 'A', spec: spec('web', 0.75), holder: 'gw1' }));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'B', spec: spec('db', 0.5), user: BOB, holder: 'gw3' })), code('insufficient_resources'));
    // The local API sees the lease too: the owner cannot take the reserved room.
    const service = createSliverService({
      store: h.store, driver: createMemoryDriver(), contribution: () => ({ cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 }),
      containerName: (id) => id, kick: () => undefined, nowSec: () => h.clock.now,
    });
    assert.throws(() => service.create({ name: 'mine', resources: { cpu: 0.5 } }), code('insufficient_resources'));
  });

  void test("the owner's mode and user policy decide before the resources do", (t) => {
    const h = host(t);
    h.policy.current = { mode: 'safe', users: { quota: null, allow: null }, zone: null };
    assert.throws(() => h.hosting.reserve(reserveReq(h)), code('not_accepting'));
    h.policy.current = { mode: 'drain', users: { quota: null, allow: null }, zone: null };
    assert.throws(() => h.hosting.reserve(reserveReq(h)), code('not_accepting'));
    h.policy.current = { mode: 'production', users: { quota: null, allow: [BOB] }, zone: null };
    assert.throws(() => h.hosting.reserve(reserveReq(h)), code('forbidden'), 'alice is not on the list');
    h.hosting.reserve(reserveReq(h, { user: BOB, lease: 'B1' }));
    // A quota of two counts the user's slivers and live leases here, across slices.
    h.policy.current = { mode: 'production', users: { quota: 2, allow: null }, zone: null };
    const first = reserveReq(h, { lease: 'A1' });
    h.hosting.reserve(first);
    h.hosting.commit(commitReq(first));
    h.hosting.reserve(reserveReq(h, { lease: 'A2', spec: spec('db') }));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'A3', spec: spec('cache') })), code('quota_exceeded'));
    // Safe mode keeps what runs: a retried reservation of a hosted sliver still answers.
    h.policy.current = { mode: 'safe', users: { quota: null, allow: null }, zone: null };
    assert.equal(h.hosting.reserve(first).kind, 'hosted');
  });

  void test('a lapsed lease frees its room, cannot be committed, and is swept', (t) => {
    const h = host(t, { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 8 });
    const req = reserveReq(h, { spec: spec('web', 1) });
    h.hosting.reserve(req);
    h.clock.now += 31;
    assert.equal(usageWithLeases(h.store, h.clock.now).slivers, 0);
    assert.throws(() => h.hosting.commit(commitReq(req)), code('lease_not_found'));
    // Another user's request fits again.
    h.hosting.reserve(reserveReq(h, { lease: 'B', spec: spec('db', 1), user: BOB }));
    const swept = h.hosting.sweep();
    assert.deepEqual(swept.lapsed.map((l) => l.id), ['L1']);
    assert.deepEqual(h.store.listLeases().map((l) => l.id), ['B']);
  });

  void test('a slice name belongs to one user here, and a sliver name to one sliver', (t) => {
    const h = host(t);
    const alice = reserveReq(h);
    h.hosting.reserve(alice);
    h.hosting.commit(commitReq(alice));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'B', user: BOB, index: 1 })), code('name_taken'));
    const service = createSliverService({
      store: h.store, driver: createMemoryDriver(), contribution: () => ({ cpu: 2, memoryMb: 1024, diskMb: 4096, slivers: 8 }),
      containerName: (id) => id, kick: () => undefined, nowSec: () => h.clock.now,
    });
    service.create({ name: 'db-0', slice: 'owner' });
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'C', spec: spec('db'), user: BOB })), code('name_taken'));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'D', spec: spec('owner'), user: BOB })), code('name_taken'));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'E', ttlSec: 100_000 })), code('invalid_request'));
    h.hosting.reserve(reserveReq(h, { lease: 'F', index: 1 }));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'F', index: 2 })), code('invalid_request'), 'a lease id holds one sliver');
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'G', index: 1, holder: 'gw5' })), code('invalid_state'), 'one live lease a sliver');
  });

  void test('a deleted slice keeps a tombstone: an older document cannot revive it, a newer one can', (t) => {
    const h = host(t);
    const req = reserveReq(h);
    h.hosting.reserve(req);
    h.hosting.commit(commitReq(req));
    assert.deepEqual(h.hosting.remove(ALICE, 'web', req.signedAt - 1, 'deleted'), [], 'a delete signed before the create is an old one replayed');
    assert.equal(h.store.getSliver('web-0')?.desired, 'running');
    h.clock.now += 10;
    const removed = h.hosting.remove(ALICE, 'web', h.clock.now, 'deleted');
    assert.deepEqual(removed.map((s) => s.spec.name), ['web-0']);
    assert.equal(h.store.getSliver('web-0')?.desired, 'gone');
    assert.equal(h.store.getSlice(ALICE, 'web')?.deletedAt, h.clock.now);
    assert.deepEqual(h.hosting.remove(ALICE, 'web', h.clock.now, 'deleted'), [], 'removing again does nothing');
    assert.throws(() => h.hosting.reserve({ ...req, lease: 'L2' }), code('slice_not_found'));
    // Once the old sliver is gone, the user may make the slice again with a newer document.
    h.store.deleteSliver(h.store.getSliver('web-0')?.id ?? '');
    const newer = reserveReq(h, { lease: 'L3', signedAt: h.clock.now + 1 });
    h.hosting.reserve(newer);
    h.hosting.commit(commitReq(newer));
    assert.equal(h.store.getSlice(ALICE, 'web')?.deletedAt, null);
    assert.deepEqual(h.store.getSlice(ALICE, 'web')?.document, createDoc(newer), 'the new incarnation replaces the tombstone');
  });

  void test('a slice deleted and made again within one second: the new incarnation is hosted, the old one stays deleted, and a peer\'s tombstone of the old one leaves the new one be', (t) => {
    const h = host(t);
    const old = reserveReq(h, { incarnation: 'old' });
    h.hosting.reserve(old);
    h.hosting.commit(commitReq(old));
    // The user deletes it in the second they made it (documents carry whole seconds).
    assert.deepEqual(h.hosting.remove(ALICE, 'web', old.signedAt, 'deleted').map((s) => s.spec.name), ['web-0'], 'a delete of the same second, for nothing else, covers it');
    h.store.deleteSliver(h.store.getSliver('web-0')?.id ?? '');
    assert.throws(() => h.hosting.reserve({ ...old, lease: 'L2' }), code('slice_not_found'), 'the deleted incarnation is not revived');
    // ... and makes it again in that same second.
    const again = reserveReq(h, { lease: 'L3', incarnation: 'again' });
    assert.equal(again.signedAt, old.signedAt);
    assert.equal(h.hosting.reserve(again).kind, 'leased');
    h.hosting.commit(commitReq(again));
    assert.equal(h.store.getSlice(ALICE, 'web')?.deletedAt, null);
    // A peer that held the old incarnation's tombstone tells this one of the delete: it is not for this incarnation.
    assert.deepEqual(h.hosting.remove(ALICE, 'web', old.signedAt, 'deleted', null, 'old'), []);
    assert.equal(h.store.getSliver('web-0')?.desired, 'running');
    // A tombstone of this very incarnation is.
    assert.deepEqual(h.hosting.remove(ALICE, 'web', old.signedAt, 'deleted', null, 'again').map((s) => s.spec.name), ['web-0']);
  });

  void test('a renewal moves the expiry later, never earlier, and not for a deleted slice', (t) => {
    const h = host(t);
    const req = reserveReq(h, { spec: parseSliceSpec({ name: 'short', lifetimeSec: 60 }) });
    h.hosting.reserve(req);
    h.hosting.commit(commitReq(req));
    const expires = h.clock.now + 60;
    assert.equal(h.hosting.renew(ALICE, 'short', expires + 3600, { renew: 1 }, h.clock.now), true);
    assert.equal(h.store.getSlice(ALICE, 'short')?.expiresAt, expires + 3600);
    assert.deepEqual(h.store.getSlice(ALICE, 'short')?.renewDocument, { renew: 1 });
    assert.equal(h.hosting.renew(ALICE, 'short', expires + 60, { renew: 2 }, h.clock.now), false, 'an older renewal changes nothing');
    assert.equal(h.hosting.renew(BOB, 'short', expires + 7200, { renew: 3 }, h.clock.now), false, 'nothing of bob to renew');
    assert.equal(h.hosting.renew(ALICE, 'short', expires + 7200, { renew: 5 }, h.clock.now - 1), false, 'signed before this incarnation was created');
    h.clock.now += 120;
    assert.deepEqual(h.hosting.sweep().expired, [], 'renewed: not expired at its old time');
    h.hosting.remove(ALICE, 'short', h.clock.now, 'deleted');
    assert.equal(h.hosting.renew(ALICE, 'short', expires + 9999, { renew: 4 }, h.clock.now), false);
  });

  void test('an expired slice is removed by the sweep, with an event saying why', (t) => {
    const h = host(t);
    const req = reserveReq(h, { spec: parseSliceSpec({ name: 'short', lifetimeSec: 60 }) });
    h.hosting.reserve(req);
    const sliver = h.hosting.commit(commitReq(req));
    h.clock.now += 59;
    assert.deepEqual(h.hosting.sweep().expired, []);
    h.clock.now += 1;
    assert.deepEqual(h.hosting.sweep().expired.map((r) => r.name), ['short']);
    assert.equal(h.store.getSliver(sliver.id)?.desired, 'gone');
    assert.ok(h.store.listEvents({ sliverId: sliver.id }).some((e) => e.type === 'slice.sliver-expired'));
  });

  void test('a resize grows the slice: an index beyond the spec is hosted only with a resize that has it', (t) => {
    const h = host(t);
    assert.throws(() => h.hosting.reserve(reserveReq(h, { index: 3 })), code('invalid_request'), 'a spec of three has no index 3');
    const grow = resizeDoc(5, h.clock.now + 5);
    const req = reserveReq(h, { index: 3, resize: grow });
    assert.equal(h.hosting.reserve(req).kind, 'leased');
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'L5', index: 5, resize: grow })), code('invalid_request'), 'nor index 5 of five');
    h.hosting.commit(commitReq(req, { placement: { 0: 'gw1', 1: 'gw3', 2: 'gw4', 3: 'gw2', 4: 'gw5' }, version: 2 }));
    const record = h.store.getSlice(ALICE, 'web');
    assert.deepEqual(record?.resizeDocument, grow, 'the record keeps the resize');
    assert.equal(Object.keys(record?.placement ?? {}).length, 5);
    // Held here, the resize counts for the next reservation even when the entry gateway presents none.
    assert.equal(h.hosting.reserve(reserveReq(h, { lease: 'L4', index: 4 })).kind, 'leased');
  });

  void test('a resize that shrinks the slice removes the slivers and leases of the indexes it no longer has, with an event', (t) => {
    const h = host(t);
    const two = reserveReq(h, { index: 2 });
    h.hosting.reserve(two);
    const sliver = h.hosting.commit(commitReq(two, { placement: { 0: 'gw1', 1: 'gw3', 2: 'gw2' } }));
    h.hosting.reserve(reserveReq(h, { lease: 'L1b', index: 1 }));
    h.kicks.count = 0;
    const shrink = resizeDoc(1, h.clock.now + 10);
    const done = h.hosting.resize(ALICE, 'web', shrink);
    assert.equal(done.resized, true);
    assert.deepEqual(done.retired.map((s) => s.spec.name), ['web-2']);
    assert.equal(h.store.getSliver(sliver.id)?.desired, 'gone');
    assert.equal(h.kicks.count, 1, 'the reconciler is asked to stop and remove it');
    const event = h.store.listEvents({ sliverId: sliver.id }).find((e) => e.type === 'slice.sliver-resized');
    assert.deepEqual(event?.detail, { slice: 'web', user: ALICE, index: 2, slivers: 1 });
    assert.deepEqual(h.store.listLeases(), [], 'the lease of index 1 went too');
    const record = h.store.getSlice(ALICE, 'web');
    assert.deepEqual(record?.placement, { 0: 'gw1' });
    assert.equal(record?.version, 1);
    assert.deepEqual(record?.resizeDocument, shrink);
    // Shrunk, the slice has no index 1 here, whatever an older resize presented says.
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'L6', index: 1, resize: resizeDoc(5, h.clock.now + 5) })), code('invalid_request'));
    assert.throws(() => h.hosting.reserve(reserveReq(h, { lease: 'L7', index: 1 })), code('invalid_request'));
    // A newer resize presented with the spec opens it again.
    assert.equal(h.hosting.reserve(reserveReq(h, { lease: 'L8', index: 1, resize: resizeDoc(2, h.clock.now + 20) })).kind, 'leased');
    // A placement adopted later keeps only the indexes the slice has.
    assert.equal(h.hosting.adopt(ALICE, 'web', { 0: 'gw1', 1: 'gw3', 2: 'gw2' }, 2), true);
    assert.deepEqual(h.store.getSlice(ALICE, 'web')?.placement, { 0: 'gw1' });
    assert.equal(h.hosting.adopt(ALICE, 'web', { 0: 'gw1', 2: 'gw9' }, 2), false, 'the same placement once the dropped index is dropped');
  });

  void test('a newer placement that puts a sliver on another gateway leaves an event per index moved, and only then', (t) => {
    const h = host(t);
    const req = reserveReq(h, { index: 2 });
    h.hosting.reserve(req);
    h.hosting.commit(commitReq(req, { placement: { 0: 'gw1', 1: 'gw3', 2: 'gw2' } }));
    const moves = () => h.store.listEvents({ limit: 1000 }).filter((e) => e.type === 'slice.sliver-moved');
    assert.equal(h.hosting.adopt(ALICE, 'web', { 0: 'gw4', 1: 'gw3', 2: 'gw2' }, 2), true);
    assert.deepEqual(moves().map((e) => [e.sliverId, e.detail]), [[null, { slice: 'web', user: ALICE, index: 0, from: 'gw1', to: 'gw4', version: 2 }]]);
    // Another of this gateway's indexes committed under a newer placement: what it changed is logged too.
    const one = reserveReq(h, { lease: 'L1b', index: 1 });
    h.hosting.reserve(one);
    h.hosting.commit(commitReq(one, { placement: { 0: 'gw4', 1: 'gw2', 2: 'gw2' }, version: 3 }));
    assert.deepEqual(moves().map((e) => e.detail['index']), [0, 1]);
    assert.deepEqual(moves()[1]?.detail, { slice: 'web', user: ALICE, index: 1, from: 'gw3', to: 'gw2', version: 3 });
    // The same placement again moves nothing.
    assert.equal(h.hosting.adopt(ALICE, 'web', { 0: 'gw4', 1: 'gw2', 2: 'gw2' }, 3), false);
    assert.equal(moves().length, 2);
  });

  void test('a resize older than the one held, signed before the create, or sent again changes nothing', (t) => {
    const h = host(t);
    const req = reserveReq(h, { index: 2 });
    h.hosting.reserve(req);
    const sliver = h.hosting.commit(commitReq(req));
    const grow = resizeDoc(4, h.clock.now + 10);
    assert.equal(h.hosting.resize(ALICE, 'web', grow).resized, true);
    assert.deepEqual(h.hosting.resize(ALICE, 'web', resizeDoc(1, h.clock.now + 9)), { resized: false, retired: [] }, 'older than the one held');
    assert.deepEqual(h.hosting.resize(ALICE, 'web', { ...grow }), { resized: false, retired: [] }, 'the same resize again');
    assert.deepEqual(h.store.getSlice(ALICE, 'web')?.resizeDocument, grow);
    assert.equal(h.store.getSliver(sliver.id)?.desired, 'running');
    // Of two resizes signed in one second, the greater nonce holds, on every host alike.
    const tieLow = resizeDoc(1, h.clock.now + 10, 'a-low');
    assert.equal(h.hosting.resize(ALICE, 'web', tieLow).resized, false, "'a-low' < the held nonce");
    const tieHigh = resizeDoc(3, h.clock.now + 10, 'z-high');
    assert.equal(h.hosting.resize(ALICE, 'web', tieHigh).resized, true);

    const fresh = host(t);
    const first = reserveReq(fresh, { index: 2 });
    fresh.hosting.reserve(first);
    fresh.hosting.commit(commitReq(first));
    assert.deepEqual(fresh.hosting.resize(ALICE, 'web', resizeDoc(1, fresh.clock.now - 1)), { resized: false, retired: [] }, 'signed before this incarnation was created');
    assert.equal(fresh.store.getSlice(ALICE, 'web')?.resizeDocument, null);
    assert.throws(() => fresh.hosting.reserve(reserveReq(fresh, { lease: 'L2', index: 3, resize: resizeDoc(5, fresh.clock.now - 1) })), code('invalid_request'),
      'a resize older than the create does not grow it');
    assert.deepEqual(fresh.hosting.resize(BOB, 'web', resizeDoc(1, fresh.clock.now + 1)), { resized: false, retired: [] }, 'bob has no slice web here');
    fresh.hosting.remove(ALICE, 'web', fresh.clock.now + 2, 'deleted');
    assert.deepEqual(fresh.hosting.resize(ALICE, 'web', resizeDoc(1, fresh.clock.now + 3)), { resized: false, retired: [] }, 'nor once deleted');
  });

  void test('a commit keeps what the record of this incarnation learnt: a renewal and a newer resize', (t) => {
    const h = host(t);
    const zero = reserveReq(h);
    h.hosting.reserve(zero);
    h.hosting.commit(commitReq(zero, { placement: { 0: 'gw2', 1: 'gw3', 2: 'gw4' } }));
    const expires = h.clock.now + zero.spec.lifetimeSec + 3600;
    assert.equal(h.hosting.renew(ALICE, 'web', expires, { renew: 1 }, h.clock.now), true);
    const grow = resizeDoc(4, h.clock.now + 10);
    h.hosting.resize(ALICE, 'web', grow);
    // Healing later places index 3 here too, with the spec and an older resize.
    const three = reserveReq(h, { lease: 'L3', index: 3, resize: resizeDoc(5, h.clock.now + 5) });
    h.hosting.reserve(three);
    h.hosting.commit(commitReq(three, { placement: { 0: 'gw2', 1: 'gw3', 2: 'gw4', 3: 'gw2', 4: 'gw5' }, version: 2 }));
    const record = h.store.getSlice(ALICE, 'web');
    assert.equal(record?.expiresAt, expires, 'the renewal holds');
    assert.deepEqual(record?.resizeDocument, grow, 'the newer resize holds');
    assert.deepEqual(record?.placement, { 0: 'gw2', 1: 'gw3', 2: 'gw4', 3: 'gw2' }, 'and the placement has four indexes');
    assert.equal(record?.version, 2);
  });
});

