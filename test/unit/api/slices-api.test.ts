// The slice routes over HTTP, in-process, on a gateway whose community is
// never started: creating, resizing and deleting need no owner token (the
// user's signed document is the authority) but every bad, forged, tampered,
// stale, replayed or misplaced document is refused before the community is
// asked, as a problem with a stable code, leaving no lease, slice or sliver
// behind; a resize of a slice no gateway knows is slice_not_found; reading
// takes the owner token or the user's signed request, and a user's key opens
// the slice routes only.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createRequestSigner } from '../../../src/cli/request-signer.js';
import { signDocument, type SignedDocument } from '../../../src/cloud/signed-document.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';
import { SLICE_KINDS } from '../../../src/model/slice.js';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';

let h: ApiHarness;
before(async () => {
  h = await apiHarness();
});
after(async () => h.close());

const alice = generateKeyPairSync('ed25519').privateKey;
const bob = generateKeyPairSync('ed25519').privateKey;
const nowSec = (): number => Math.floor(Date.now() / 1000);
const spec = { name: 'web', slivers: 2, template: 'busybox' };
/** The Host a client sends; app.ts rebuilds the signed URL from it. */
const HOST = 'gw-test.home:8080';

function doc(over: { kind?: string; body?: unknown; key?: KeyObject; at?: number } = {}): SignedDocument {
  return signDocument({
    kind: over.kind ?? SLICE_KINDS.create, body: over.body ?? spec, privateKey: over.key ?? alice,
    at: over.at ?? nowSec(), nonce: randomBytes(16).toString('base64url'),
  });
}

/** Headers for a GET the user signs, as the CLI does it: over http://<Host><path>. */
async function userSigned(path: string, key: KeyObject = alice): Promise<Record<string, string>> {
  return { host: HOST, ...await createRequestSigner(key)({ method: 'GET', url: `http://${HOST}${path}`, headers: {} }) };
}

interface Problem {
  code: string;
  status: number;
  detail: string;
}

/** A refusal: the status, problem+json with the code, and no lease, slice or sliver left in the store. */
function assertRefused(res: { statusCode: number; headers: Record<string, unknown>; body: string; json: <T>() => T }, status: number, code: string): Problem {
  assert.equal(res.statusCode, status, res.body.slice(0, 300));
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json<Problem>();
  assert.equal(problem.code, code, problem.detail);
  assert.equal(problem.status, status);
  assert.ok(problem.detail.length > 0 && problem.detail.length < 1000, 'a short human-readable detail');
  assert.deepEqual(h.store.listLeases(), [], 'no lease taken');
  assert.deepEqual(h.store.listSlices(), [], 'no slice recorded');
  assert.deepEqual(h.store.listSlivers(), [], 'no sliver made');
  return problem;
}

const json = { 'content-type': 'application/json' };

void describe('POST /api/v1/slices: the signed document is the authority, and a bad one goes no further', () => {
  interface Case {
    name: string;
    payload: () => unknown;
    raw?: string;
    status: number;
    code: string;
  }
  const cases: Case[] = [
    { name: 'malformed JSON', payload: () => undefined, raw: '{"document": {', status: 400, code: 'malformed_json' },
    { name: 'no document', payload: () => ({}), status: 400, code: 'invalid_request' },
    { name: 'a field beside the document', payload: () => ({ document: doc(), owner: 'me' }), status: 400, code: 'invalid_request' },
    { name: 'a field inside the document', payload: () => ({ document: { ...doc(), admin: true } }), status: 400, code: 'invalid_request' },
    { name: 'the document as a string', payload: () => ({ document: JSON.stringify(doc()) }), status: 400, code: 'invalid_request' },
    { name: 'a document of version 2', payload: () => ({ document: { ...doc(), v: 2 } }), status: 400, code: 'invalid_request' },
    {
      name: 'signed by bob in alice\'s name',
      payload: () => ({ document: { ...doc({ key: bob }), user: userKeyOf(alice).ssh } }), status: 401, code: 'invalid_signature',
    },
    {
      name: 'the spec changed after signing',
      payload: () => {
        const d = doc();
        return { document: { ...d, body: { ...spec, slivers: 40 } } };
      },
      status: 401, code: 'invalid_signature',
    },
    { name: 'the signature of another document', payload: () => ({ document: { ...doc(), sig: doc().sig } }), status: 401, code: 'invalid_signature' },
    { name: 'signed 10 minutes ago', payload: () => ({ document: doc({ at: nowSec() - 600 }) }), status: 401, code: 'stale_document' },
    { name: 'signed 10 minutes ahead', payload: () => ({ document: doc({ at: nowSec() + 600 }) }), status: 401, code: 'stale_document' },
    { name: 'a slice.delete document', payload: () => ({ document: doc({ kind: SLICE_KINDS.delete, body: { name: 'web' } }) }), status: 400, code: 'malformed_document' },
    { name: 'a user key that is not ed25519', payload: () => ({ document: { ...doc(), user: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ' } }), status: 400, code: 'malformed_document' },
    { name: 'a short nonce', payload: () => ({ document: { ...doc(), nonce: 'abc' } }), status: 400, code: 'malformed_document' },
    { name: 'a well signed spec with 0 slivers', payload: () => ({ document: doc({ body: { ...spec, slivers: 0 } }) }), status: 400, code: 'invalid_request' },
    { name: 'a well signed spec with a bad name', payload: () => ({ document: doc({ body: { ...spec, name: '../etc' } }) }), status: 400, code: 'invalid_name' },
    {
      name: 'a well signed spec with an absurd bandwidth request',
      payload: () => ({ document: doc({ body: { ...spec, resources: { upMbit: 1e9 } } }) }), status: 400, code: 'invalid_resources',
    },
    {
      name: 'a well signed spec with a negative bandwidth request',
      payload: () => ({ document: doc({ body: { ...spec, resources: { downMbit: -1 } } }) }), status: 400, code: 'invalid_resources',
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const res = await h.api.inject({
        method: 'POST', url: '/api/v1/slices', headers: json,
        ...(c.raw !== undefined ? { payload: c.raw } : { payload: c.payload() as object }),
      });
      assertRefused(res, c.status, c.code);
      assert.deepEqual([h.store.listSlices(), h.store.listLeases(), h.store.listSlivers()], [[], [], []], 'nothing half-made');
    });
  }

  test('a good document needs no owner token and reaches the community (here: none)', async () => {
    const res = await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document: doc() } });
    assertRefused(res, 409, 'not_in_community');
  });

  test('the same document sent again gets the same answer (the nonce is the request id); a new signature is a new request', async () => {
    const document = doc();
    assertRefused(await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document } }), 409, 'not_in_community');
    assertRefused(await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document } }), 409, 'not_in_community');
    // A new signature over the same spec is a new request.
    assertRefused(await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document: doc() } }), 409, 'not_in_community');
  });

  test('a refused document does not use up its nonce: the genuine one still goes through', async () => {
    const genuine = doc();
    assertRefused(await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document: { ...genuine, body: { ...spec, slivers: 9 } } } }), 401, 'invalid_signature');
    assertRefused(await h.api.inject({ method: 'POST', url: '/api/v1/slices', payload: { document: genuine } }), 409, 'not_in_community');
  });

  test('a wrong owner token does not matter where the document is the authority', async () => {
    const res = await h.api.inject({ method: 'POST', url: '/api/v1/slices', headers: { authorization: 'Bearer wrong' }, payload: { document: doc() } });
    assertRefused(res, 409, 'not_in_community');
  });
});

void describe('GET /api/v1/slices: the owner token, or the user\'s signed request', () => {
  test('neither is unauthorized, and says how to ask', async () => {
    const problem = assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers: { host: HOST } }), 401, 'unauthorized');
    assert.match(problem.detail, /owner token/);
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices/web', headers: { host: HOST } }), 401, 'unauthorized');
  });

  test('a user\'s signature reaches the slice service', async () => {
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers: await userSigned('/api/v1/slices') }), 409, 'not_in_community');
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices/web', headers: await userSigned('/api/v1/slices/web') }), 409, 'not_in_community');
  });

  test('inject\'s own Host (localhost:80) works too: signer and verifier agree on the authority', async () => {
    const headers = await createRequestSigner(alice)({ method: 'GET', url: 'http://localhost:80/api/v1/slices', headers: {} });
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers }), 409, 'not_in_community');
  });

  test('the owner token reaches the slice service', async () => {
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers: h.auth }), 409, 'not_in_community');
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices/web', headers: h.auth }), 409, 'not_in_community');
  });

  test('a signed request sent again is a replay', async () => {
    const headers = await userSigned('/api/v1/slices');
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers }), 409, 'not_in_community');
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers }), 409, 'replayed_document');
  });

  test('a signature for another path, or another Host, is unauthorized', async () => {
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers: await userSigned('/api/v1/slices/web') }), 401, 'unauthorized');
    const elsewhere = { ...await userSigned('/api/v1/slices'), host: 'gw-other.home:8080' };
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers: elsewhere }), 401, 'unauthorized');
  });

  test('a user asking for another user\'s slice is forbidden', async () => {
    const path = `/api/v1/slices/web?user=${encodeURIComponent(userKeyOf(bob).id)}`;
    assertRefused(await h.api.inject({ method: 'GET', url: path, headers: await userSigned(path) }), 403, 'forbidden');
  });

  test('a user\'s key opens the slice routes only', async () => {
    for (const path of ['/api/v1/slivers', '/api/v1/node', '/api/v1/nodes', '/api/v1/community']) {
      assertRefused(await h.api.inject({ method: 'GET', url: path, headers: await userSigned(path) }), 401, 'unauthorized');
    }
  });

  test('a wrong owner token is not rescued by a good signature', async () => {
    const headers = { ...await userSigned('/api/v1/slices'), authorization: 'Bearer wrong' };
    assertRefused(await h.api.inject({ method: 'GET', url: '/api/v1/slices', headers }), 401, 'unauthorized');
  });
});

void describe('DELETE /api/v1/slices/:name: a fresh slice.delete document naming that slice', () => {
  const del = async (name: string, payload: unknown) =>
    h.api.inject({ method: 'DELETE', url: `/api/v1/slices/${name}`, payload: payload as object });

  test('a slice.create document is not a delete', async () => {
    assertRefused(await del('web', { document: doc() }), 400, 'malformed_document');
  });

  test('a delete naming another slice is refused before the community is asked', async () => {
    const problem = assertRefused(await del('web', { document: doc({ kind: SLICE_KINDS.delete, body: { name: 'db' } }) }), 400, 'invalid_request');
    assert.match(problem.detail, /db/);
  });

  test('a forged, stale or malformed delete is refused', async () => {
    const good = doc({ kind: SLICE_KINDS.delete, body: { name: 'web' } });
    assertRefused(await del('web', { document: { ...good, body: { name: 'db' } } }), 401, 'invalid_signature');
    assertRefused(await del('web', { document: { ...doc({ kind: SLICE_KINDS.delete, body: { name: 'web' }, key: bob }), user: userKeyOf(alice).ssh } }), 401, 'invalid_signature');
    assertRefused(await del('web', { document: doc({ kind: SLICE_KINDS.delete, body: { name: 'web' }, at: nowSec() - 600 }) }), 401, 'stale_document');
    assertRefused(await del('web', { document: doc({ kind: SLICE_KINDS.delete, body: { name: 'web', force: true } }) }), 400, 'malformed_document');
    assertRefused(await del('web', {}), 400, 'invalid_request');
    assertRefused(await del('web', { document: good, also: 1 }), 400, 'invalid_request');
  });

  test('a good delete needs no owner token and reaches the community (here: none)', async () => {
    assertRefused(await del('web', { document: doc({ kind: SLICE_KINDS.delete, body: { name: 'web' } }) }), 409, 'not_in_community');
  });
});

void describe('POST /api/v1/slices/:name/resize: a fresh slice.resize document naming that slice and a number of slivers', () => {
  const resize = (body: unknown = { slice: 'web', slivers: 3 }, over: { key?: KeyObject; at?: number } = {}) => doc({ kind: SLICE_KINDS.resize, body, ...over });
  const post = async (name: string, payload: unknown, harness: ApiHarness = h) =>
    harness.api.inject({ method: 'POST', url: `/api/v1/slices/${name}/resize`, payload: payload as object });

  let alone: ApiHarness;
  before(async () => {
    alone = await apiHarness(undefined, { alone: true });
  });
  after(async () => alone.close());

  test('a malformed document, or one of another kind or shape, is refused', async () => {
    assertRefused(await post('web', { document: doc() }), 400, 'malformed_document');
    assertRefused(await post('web', { document: doc({ kind: SLICE_KINDS.renew, body: { name: 'web', lifetimeSec: 3600 } }) }), 400, 'malformed_document');
    assertRefused(await post('web', { document: resize({ name: 'web', slivers: 3 }) }), 400, 'malformed_document');
    assertRefused(await post('web', { document: resize({ slice: 'web', slivers: 3, spread: 'zones' }) }), 400, 'malformed_document');
    assertRefused(await post('web', { document: resize({ slice: 'web' }) }), 400, 'malformed_document');
    assertRefused(await post('web', { document: { ...resize(), nonce: 'abc' } }), 400, 'malformed_document');
    assertRefused(await post('web', { document: { ...resize(), admin: true } }), 400, 'invalid_request');
    assertRefused(await post('web', {}), 400, 'invalid_request');
    assertRefused(await post('web', { document: resize(), also: 1 }), 400, 'invalid_request');
  });

  test('a tampered or forged resize is refused', async () => {
    const good = resize();
    assertRefused(await post('web', { document: { ...good, body: { slice: 'web', slivers: 30 } } }), 401, 'invalid_signature');
    assertRefused(await post('web', { document: { ...resize(undefined, { key: bob }), user: userKeyOf(alice).ssh } }), 401, 'invalid_signature');
    assertRefused(await post('web', { document: { ...good, sig: resize().sig } }), 401, 'invalid_signature');
  });

  test('a resize signed 10 minutes ago or ahead is stale', async () => {
    assertRefused(await post('web', { document: resize(undefined, { at: nowSec() - 600 }) }), 401, 'stale_document');
    assertRefused(await post('web', { document: resize(undefined, { at: nowSec() + 600 }) }), 401, 'stale_document');
  });

  test('a number of slivers or a name a spec could not have is refused as in a spec', async () => {
    for (const slivers of [0, 10_000, -1, 1.5, '3']) {
      const problem = assertRefused(await post('web', { document: resize({ slice: 'web', slivers }) }), 400, 'invalid_request');
      assert.match(problem.detail, /slivers must be a whole number from 1 to 64/, JSON.stringify(slivers));
    }
    assertRefused(await post('web', { document: resize({ slice: '../etc', slivers: 2 }) }), 400, 'invalid_name');
  });

  test('a resize naming another slice is refused before the community is asked', async () => {
    const problem = assertRefused(await post('web', { document: resize({ slice: 'db', slivers: 2 }) }), 400, 'invalid_request');
    assert.match(problem.detail, /db/);
  });

  test('a good resize needs no owner token and reaches the community (here: none); sent again, it is a replay', async () => {
    const document = resize();
    assertRefused(await post('web', { document }), 409, 'not_in_community');
    assertRefused(await post('web', { document }), 409, 'replayed_document');
    assertRefused(await post('web', { document: resize() }), 409, 'not_in_community');
  });

  test('a refused resize does not use up its nonce', async () => {
    const genuine = resize();
    assertRefused(await post('web', { document: { ...genuine, body: { slice: 'web', slivers: 9 } } }), 401, 'invalid_signature');
    assertRefused(await post('web', { document: genuine }), 409, 'not_in_community');
  });

  test('a slice no gateway knows of is slice_not_found', async () => {
    const res = await post('web', { document: resize() }, alone);
    assert.equal(res.statusCode, 404, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json<Problem>().code, 'slice_not_found');
  });
});

void describe("GET /api/v1/slices/:name/events: what this gateway logged of a slice, for the owner and the slice's user", () => {
  // A gateway alone in its view: a slice it logged nothing of is one no gateway knows.
  let g: ApiHarness;
  const ana = userKeyOf(alice).id;
  const bo = userKeyOf(bob).id;
  before(async () => {
    g = await apiHarness(undefined, { alone: true });
    // Alice's slice web as a host logs it (slivers/hosting.ts): a sliver hosted, its own events, a move by a healing.
    g.store.insertSliver('w0', { name: 'web-0', slice: 'web', template: 'busybox', packages: [], resources: { cpu: 0.1, memoryMb: 32, diskMb: 64, pids: 128, upMbit: 0, downMbit: 0 } }, 'running', { user: ana, index: 0 });
    g.store.appendEvent('w0', 'slice.sliver-hosted', { slice: 'web', user: ana, index: 0, entry: 'gw-a' });
    g.store.appendEvent(null, 'slice.sliver-moved', { slice: 'web', user: ana, index: 1, from: 'gw-b', to: 'gw-c', version: 2 });
    g.store.appendEvent('w0', 'sliver.started', { name: 'web-0' });
    // Bob's slice, and one name both have.
    g.store.appendEvent(null, 'slice.sliver-moved', { slice: 'bobs', user: bo, index: 0, from: 'gw-b', to: 'gw-c', version: 2 });
    g.store.appendEvent(null, 'slice.sliver-moved', { slice: 'both', user: bo, index: 0, from: 'gw-b', to: 'gw-c', version: 2 });
    g.store.appendEvent(null, 'slice.sliver-moved', { slice: 'both', user: ana, index: 0, from: 'gw-b', to: 'gw-c', version: 2 });
  });
  after(async () => g.close());

  const get = async (path: string, headers: Record<string, string>) => g.api.inject({ method: 'GET', url: path, headers });
  const signed = async (path: string, key: KeyObject = alice) => get(path, await userSigned(path, key));
  interface Page {
    slice: string;
    user: string;
    items: { seq: number; type: string; sliverId: string | null; detail: Record<string, unknown> }[];
    next: number | null;
  }
  const page = (res: { statusCode: number; body: string; json: <T>() => T }): Page => {
    assert.equal(res.statusCode, 200, res.body.slice(0, 300));
    return res.json<Page>();
  };
  const refused = (res: { statusCode: number; headers: Record<string, unknown>; body: string; json: <T>() => T }, status: number, code: string): void => {
    assert.equal(res.statusCode, status, res.body.slice(0, 300));
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json<Problem>().code, code);
  };
  const WEB = ['sliver.requested', 'slice.sliver-hosted', 'slice.sliver-moved', 'sliver.started'];

  test("the owner reads the slice's events and its sliver's, oldest first, and no one else's", async () => {
    const p = page(await get('/api/v1/slices/web/events', g.auth));
    assert.deepEqual([p.slice, p.user, p.next], ['web', ana, null]);
    assert.deepEqual(p.items.map((e) => e.type), WEB);
    assert.deepEqual(p.items.find((e) => e.type === 'slice.sliver-moved')?.detail, { slice: 'web', user: ana, index: 1, from: 'gw-b', to: 'gw-c', version: 2 });
  });

  test('the user reads their own slice with a signed request', async () => {
    assert.deepEqual(page(await signed('/api/v1/slices/web/events')).items.map((e) => e.type), WEB);
    assert.deepEqual(page(await signed(`/api/v1/slices/web/events?user=${encodeURIComponent(ana)}`)).items.map((e) => e.type), WEB);
  });

  test("another user's slice is refused with the code GET /api/v1/slices/:name gives it", async () => {
    refused(await signed('/api/v1/slices/web/events', bob), 404, 'slice_not_found');
    refused(await signed('/api/v1/slices/web', bob), 404, 'slice_not_found');
    refused(await signed('/api/v1/slices/bobs/events'), 404, 'slice_not_found');
    const theirs = `/api/v1/slices/web/events?user=${encodeURIComponent(ana)}`;
    refused(await signed(theirs, bob), 403, 'forbidden');
    refused(await signed(`/api/v1/slices/web?user=${encodeURIComponent(ana)}`, bob), 403, 'forbidden');
    // Of a name both have, each sees their own.
    assert.deepEqual(page(await signed('/api/v1/slices/both/events', bob)).items.map((e) => e.detail['user']), [bo]);
    assert.deepEqual(page(await signed('/api/v1/slices/both/events')).items.map((e) => e.detail['user']), [ana]);
  });

  test('a slice nobody has is slice_not_found; the owner names the user of a name two users have', async () => {
    refused(await get('/api/v1/slices/nope/events', g.auth), 404, 'slice_not_found');
    refused(await get('/api/v1/slices/both/events', g.auth), 400, 'invalid_request');
    assert.equal(page(await get(`/api/v1/slices/both/events?user=${encodeURIComponent(bo)}`, g.auth)).user, bo);
  });

  test('pages follow next; a type picks the moves', async () => {
    const first = page(await get('/api/v1/slices/web/events?limit=3', g.auth));
    assert.deepEqual(first.items.map((e) => e.type), WEB.slice(0, 3));
    assert.equal(first.next, first.items[2]?.seq);
    const rest = page(await get(`/api/v1/slices/web/events?limit=3&after=${String(first.next)}`, g.auth));
    assert.deepEqual([rest.items.map((e) => e.type), rest.next], [WEB.slice(3), null]);
    const moves = page(await get('/api/v1/slices/web/events?type=slice.sliver-moved', g.auth));
    assert.deepEqual(moves.items.map((e) => e.detail['to']), ['gw-c']);
  });

  test('bad paging or an unknown parameter is a 400; neither token nor signature a 401', async () => {
    for (const query of ['after=-1', 'after=x', 'after=1e3', 'limit=0', 'limit=501', 'limit=2.5', 'type=Sliver', 'type=slice', 'since=3']) {
      refused(await get(`/api/v1/slices/web/events?${query}`, g.auth), 400, 'invalid_request');
    }
    refused(await get('/api/v1/slices/web/events', { host: HOST }), 401, 'unauthorized');
  });
});
