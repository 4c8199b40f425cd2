// How a host judges a user's slice documents by its own clock: a
// slice.create spec holds for the slice's whole lifetime (a healer presents
// it days after it was signed) but not a second past it, nor from more than
// the clock skew ahead; a slice.delete must be fresh, signed, and name one
// slice and nothing else; a slice.resize names one slice and a number of
// slivers a spec could have, and is never from beyond the skew ahead.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLICE_ROUTES, sliceHostRoutes, verifyCreate, verifyDelete, verifyRenew, verifyResize } from '../../../src/agent/slice-host.js';
import { DEFAULT_SKEW_SEC, signDocument, type SignedDocument } from '../../../src/cloud/signed-document.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_POLICY } from '../../../src/model/policy.js';
import type { PeerRoute } from '../../../src/peer/router.js';
import { createSliceHosting } from '../../../src/slivers/hosting.js';
import { openDb } from '../../../src/store/db.js';
import { createStore } from '../../../src/store/store.js';
import { DEFAULT_LIFETIME_SEC, MAX_LIFETIME_SEC, MAX_SLICE_SLIVERS, SLICE_KINDS } from '../../../src/model/slice.js';

const now = 1_800_000_000;
const DAY = 24 * 3600;
const alice = generateKeyPairSync('ed25519').privateKey;
const mallory = generateKeyPairSync('ed25519').privateKey;
const spec = { name: 'web', slivers: 3, template: 'busybox', lifetimeSec: 7 * DAY };

function doc(over: { kind?: string; body?: unknown; key?: KeyObject; at?: number } = {}): SignedDocument {
  return signDocument({
    kind: over.kind ?? SLICE_KINDS.create, body: 'body' in over ? over.body : spec, privateKey: over.key ?? alice,
    at: over.at ?? now, nonce: randomBytes(16).toString('base64url'),
  });
}
const deletion = (over: { body?: unknown; at?: number; key?: KeyObject } = {}): SignedDocument => doc({ kind: SLICE_KINDS.delete, body: { name: 'web' }, ...over });

function throwsCode(fn: () => unknown, code: string, detail?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HearthError, `a HearthError, not ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (detail !== undefined) assert.match(err.message, detail);
    return true;
  });
}

void describe('verifyCreate: a slice spec holds for the slice\'s lifetime', () => {
  test('signed two days ago with a seven-day lifetime, it is accepted, and names its user and spec', () => {
    const d = doc({ at: now - 2 * DAY });
    const v = verifyCreate(d, now);
    assert.equal(v.user, userKeyOf(alice).id);
    assert.deepEqual(v.doc, d);
    assert.equal(v.spec.name, 'web');
    assert.equal(v.spec.slivers, 3);
    assert.equal(v.spec.lifetimeSec, 7 * DAY);
    assert.deepEqual(v.spec.sshKeys, [], 'defaults are filled in');
  });

  test('it holds until the last second of its lifetime, and is stale from the moment it ends', () => {
    assert.equal(verifyCreate(doc({ at: now - 7 * DAY + 1 }), now).spec.name, 'web');
    throwsCode(() => verifyCreate(doc({ at: now - 7 * DAY }), now), 'stale_document', /expired/);
    throwsCode(() => verifyCreate(doc({ at: now - 30 * DAY }), now), 'stale_document');
  });

  test('the lifetime is the spec\'s own: the default week, or a short one', () => {
    const { lifetimeSec: _dropped, ...defaultLifetime } = spec;
    assert.ok(verifyCreate(doc({ body: defaultLifetime, at: now - DEFAULT_LIFETIME_SEC + 60 }), now));
    throwsCode(() => verifyCreate(doc({ body: defaultLifetime, at: now - DEFAULT_LIFETIME_SEC }), now), 'stale_document');
    throwsCode(() => verifyCreate(doc({ body: { ...spec, lifetimeSec: 3600 }, at: now - 3601 }), now), 'stale_document');
    assert.ok(verifyCreate(doc({ body: { ...spec, lifetimeSec: MAX_LIFETIME_SEC }, at: now - MAX_LIFETIME_SEC + 1 }), now));
  });

  test('signed in the future: within the clock skew it is accepted, beyond it stale', () => {
    assert.ok(verifyCreate(doc({ at: now + DEFAULT_SKEW_SEC }), now));
    throwsCode(() => verifyCreate(doc({ at: now + DEFAULT_SKEW_SEC + 1 }), now), 'stale_document', /future/);
    throwsCode(() => verifyCreate(doc({ at: now + DAY }), now), 'stale_document');
  });

  test('a forged or tampered spec, a delete, or a bad spec is refused whatever its age', () => {
    const d = doc({ at: now - DAY });
    throwsCode(() => verifyCreate({ ...d, body: { ...spec, slivers: 30 } }, now), 'invalid_signature');
    throwsCode(() => verifyCreate({ ...doc({ key: mallory, at: now - DAY }), user: d.user }, now), 'invalid_signature');
    throwsCode(() => verifyCreate(deletion(), now), 'malformed_document');
    throwsCode(() => verifyCreate({ ...d, extra: 1 }, now), 'malformed_document');
    throwsCode(() => verifyCreate(doc({ body: { ...spec, slivers: 0 } }), now), 'invalid_request');
    throwsCode(() => verifyCreate(null, now), 'malformed_document');
  });
});

void describe('verifyDelete: fresh, signed, one slice', () => {
  test('a good delete gives its user and the slice it names', () => {
    const d = deletion({ at: now - 60 });
    const v = verifyDelete(d, now);
    assert.deepEqual(v, { doc: d, user: userKeyOf(alice).id, name: 'web' });
    assert.equal(verifyDelete(deletion({ key: mallory }), now).user, userKeyOf(mallory).id, 'anyone may sign a delete; a host removes only the signer\'s slice');
  });

  test('a delete is held to the clock skew, not to a lifetime', () => {
    assert.ok(verifyDelete(deletion({ at: now - DEFAULT_SKEW_SEC }), now));
    throwsCode(() => verifyDelete(deletion({ at: now - 600 }), now), 'stale_document');
    throwsCode(() => verifyDelete(deletion({ at: now + 600 }), now), 'stale_document');
  });

  test('a body that is not exactly {"name": …} is malformed', () => {
    for (const body of [{ name: 'web', force: true }, { name: 7 }, {}, null, 'web', ['web'], { slice: 'web' }]) {
      throwsCode(() => verifyDelete(deletion({ body }), now), 'malformed_document', /names one slice/);
    }
  });

  test('a forged delete, or a create in its place, is refused', () => {
    const d = deletion();
    throwsCode(() => verifyDelete({ ...d, body: { name: 'db' } }, now), 'invalid_signature');
    throwsCode(() => verifyDelete({ ...deletion({ key: mallory }), user: d.user }, now), 'invalid_signature');
    throwsCode(() => verifyDelete(doc(), now), 'malformed_document', /slice\.delete/);
    throwsCode(() => verifyDelete({ ...d, extra: 1 }, now), 'malformed_document');
  });
});

void describe('verifyRenew', () => {
  const renewKey = generateKeyPairSync('ed25519').privateKey;
  const renewal = (body: unknown, at: number) => signDocument({ kind: SLICE_KINDS.renew, body, privateKey: renewKey, at, nonce: randomBytes(16).toString('base64url') });

  void test('a renewal names its slice and moves the expiry to lifetimeSec after it was signed', () => {
    const now = 1_800_000_000;
    const r = verifyRenew(renewal({ name: 'web', lifetimeSec: 3600 }, now - 10), now);
    assert.equal(r.name, 'web');
    assert.equal(r.expiresAt, now - 10 + 3600);
    assert.equal(r.user, userKeyOf(renewKey).id);
  });

  void test('a stale renewal is refused, unless the caller allows it (a tombstone or renewal pulled from a peer)', () => {
    const now = 1_800_000_000;
    const old = renewal({ name: 'web', lifetimeSec: 86400 }, now - 3600);
    assert.throws(() => verifyRenew(old, now), (e: unknown) => e instanceof HearthError && e.code === 'stale_document');
    assert.equal(verifyRenew(old, now, MAX_LIFETIME_SEC).expiresAt, now - 3600 + 86400);
  });

  void test('a body other than a name and a lifetime in bounds is malformed', () => {
    const now = 1_800_000_000;
    for (const body of [{ name: 'web' }, { name: 'web', lifetimeSec: 10 }, { name: 'web', lifetimeSec: MAX_LIFETIME_SEC + 1 }, { name: 'web', lifetimeSec: 3600, extra: 1 }, null]) {
      assert.throws(() => verifyRenew(renewal(body, now), now), (e: unknown) => e instanceof HearthError && e.code === 'malformed_document', JSON.stringify(body));
    }
  });
});

void describe('verifyResize: signed, one slice and a number of slivers, fresh unless pulled from a peer', () => {
  const resize = (over: { body?: unknown; at?: number; key?: KeyObject } = {}): SignedDocument => doc({ kind: SLICE_KINDS.resize, body: { slice: 'web', slivers: 5 }, ...over });

  test('a good resize gives its user, the slice it names and the number of slivers', () => {
    const d = resize({ at: now - 60 });
    assert.deepEqual(verifyResize(d, now), { doc: d, user: userKeyOf(alice).id, name: 'web', slivers: 5 });
    assert.equal(verifyResize(resize({ body: { slice: 'web', slivers: MAX_SLICE_SLIVERS } }), now).slivers, MAX_SLICE_SLIVERS);
  });

  test('held to the clock skew, unless the caller allows an old one (a healer presents it, a peer sends it); never from the future', () => {
    assert.ok(verifyResize(resize({ at: now - DEFAULT_SKEW_SEC }), now));
    throwsCode(() => verifyResize(resize({ at: now - 600 }), now), 'stale_document');
    assert.equal(verifyResize(resize({ at: now - 30 * DAY }), now, MAX_LIFETIME_SEC).slivers, 5);
    throwsCode(() => verifyResize(resize({ at: now + 600 }), now), 'stale_document');
    throwsCode(() => verifyResize(resize({ at: now + DAY }), now, MAX_LIFETIME_SEC), 'stale_document', /future/);
  });

  test('a number of slivers a spec could not have is refused as in a spec; another shape is malformed', () => {
    for (const slivers of [0, MAX_SLICE_SLIVERS + 1, 10_000, 1.5, '2']) {
      throwsCode(() => verifyResize(resize({ body: { slice: 'web', slivers } }), now), 'invalid_request', /slivers/);
    }
    throwsCode(() => verifyResize(resize({ body: { slice: '../etc', slivers: 2 } }), now), 'invalid_name');
    for (const body of [{ name: 'web', slivers: 2 }, { slice: 'web' }, { slice: 'web', slivers: 2, template: 'debian' }, null, 'web']) {
      throwsCode(() => verifyResize(resize({ body }), now), 'malformed_document', /slice\.resize/);
    }
  });

  test('a tampered or forged resize, or another kind of document, is refused', () => {
    const d = resize();
    throwsCode(() => verifyResize({ ...d, body: { slice: 'web', slivers: 50 } }, now), 'invalid_signature');
    throwsCode(() => verifyResize({ ...resize({ key: mallory }), user: d.user }, now), 'invalid_signature');
    throwsCode(() => verifyResize(doc(), now), 'malformed_document', /slice\.resize/);
    throwsCode(() => verifyResize(deletion(), now), 'malformed_document');
    throwsCode(() => verifyResize({ ...d, extra: 1 }, now), 'malformed_document');
  });
});


void describe('the reserve route with a commit: one sliver alone, reserved and committed in one call', () => {
  function hostOf(t: { after: (fn: () => void) => void }, homes?: () => Promise<void>) {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-slice-host-'));
    const db = openDb(join(dir, 'h.db'));
    t.after(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const store = createStore({ db, now: () => new Date().toISOString() });
    const hosting = createSliceHosting({
      store, contribution: () => ({ cpu: 2, memoryMb: 1024, diskMb: 4096, slivers: 8 }), policy: () => DEFAULT_POLICY, templates: ['busybox'],
      nowSec: () => now, kick: () => undefined,
    });
    const registered: string[] = [];
    const routes = sliceHostRoutes({
      hosting, store, nowSec: () => now,
      register: async (user, name) => {
        registered.push(`${user} ${name}`);
        await homes?.();
      },
    });
    const reserve = routes.find((r) => r.method === SLICE_ROUTES.reserve.method && r.path === SLICE_ROUTES.reserve.path) as PeerRoute;
    const ask = (body: unknown) => reserve.handler({
      member: 'gw1', fingerprint: '', method: 'POST', path: reserve.path, params: {}, query: new URLSearchParams(), body, signal: new AbortController().signal,
    });
    return { store, hosting, registered, ask };
  }
  const document = doc();
  const body = (over: Record<string, unknown> = {}) => ({ document, index: 1, lease: 'L'.repeat(16), ttlSec: 30, commit: { placement: { 0: 'gw2', 1: 'gw3' }, version: 2 }, ...over });

  test('the sliver is hosted, with the placement and version it carried, registered with the homes, and no lease is left', async (t) => {
    const h = hostOf(t);
    const reply = (await h.ask(body())).body as { kind: string; sliver: { index: number; name: string } };
    assert.equal(reply.kind, 'hosted');
    assert.equal(reply.sliver.index, 1);
    assert.deepEqual(h.store.listLeases(), []);
    const record = h.hosting.record(userKeyOf(alice).id, 'web');
    assert.deepEqual({ placement: record?.placement, version: record?.version }, { placement: { 0: 'gw2', 1: 'gw3' }, version: 2 });
    assert.deepEqual(record?.document, document);
    assert.deepEqual(h.registered, [], 'a later commit: the registration begins after the answer');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.registered, [`${userKeyOf(alice).id} web`]);
    assert.equal(h.hosting.slivers().length, 1);
  });

  test("a heal's commit is answered without waiting for the homes; a slice's first placement waits for them", async (t) => {
    const h = hostOf(t, () => new Promise<void>(() => undefined));
    const answered = (p: Promise<unknown>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
    assert.equal(await answered(h.ask(body())), true, 'version 2: answered while the homes have not');
    const first = hostOf(t, () => new Promise<void>(() => undefined));
    assert.equal(await answered(first.ask(body({ commit: { placement: { 0: 'gw2', 1: 'gw3' }, version: 1 } }))), false, 'version 1: not before the homes');
    assert.deepEqual(first.registered, [`${userKeyOf(alice).id} web`], 'version 1: registered before the answer');
    assert.equal(first.hosting.slivers().length, 1, 'committed all the same');
  });

  test('asked again (its answer was lost), it answers with the same sliver and makes no second one', async (t) => {
    const h = hostOf(t);
    const first = (await h.ask(body())).body as { kind: string; sliver: { name: string } };
    const again = (await h.ask(body())).body as { kind: string; sliver: { name: string } };
    assert.deepEqual(again, first);
    assert.equal(h.hosting.slivers().length, 1);
  });

  test('a commit without a placement or version is invalid_request naming the field, and leaves no lease and no sliver', async (t) => {
    const h = hostOf(t);
    for (const [commit, named] of [[{ version: 2 }, 'placement'], [{ placement: { 1: 'gw3' }, version: 0 }, 'version'], [null, 'placement'], [{ placement: [1], version: 1 }, 'placement']] as const) {
      await assert.rejects(h.ask(body({ commit })), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request' && err.extra['field'] === named);
    }
    assert.deepEqual(h.store.listLeases(), []);
    assert.deepEqual(h.hosting.slivers(), []);
  });

  test('without a commit it only leases, as before', async (t) => {
    const h = hostOf(t);
    const { commit: _none, ...lease } = body();
    assert.equal(((await h.ask(lease)).body as { kind: string }).kind, 'leased');
    assert.equal(h.store.listLeases().length, 1);
    assert.deepEqual(h.hosting.slivers(), []);
  });
});
