// A user's signed request (RFC 9421) as the gateway checks it: the CLI's
// signer and the gateway's verifier agree, a signature is good once, for
// exactly the method, path, query and authority it covers, within the clock
// skew either way, by the key it names; anything else (no signature, two,
// a borrowed key id, a key that is not ssh-ed25519, junk) is unauthorized,
// never a crash.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import sshpk from 'sshpk';
import { createUserVerifier } from '../../../src/api/user-auth.js';
import { createRequestSigner } from '../../../src/cli/request-signer.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';
import { USER_SIGNATURE_PARAMS, USER_SIGNED_FIELDS } from '../../../src/cloud/signed-request.js';
import { HearthError } from '../../../src/model/errors.js';

const alice = generateKeyPairSync('ed25519').privateKey;
const bob = generateKeyPairSync('ed25519').privateKey;
const URL_SLICES = 'http://gw-1.home:8080/api/v1/slices';
const URL_WEB = 'http://gw-1.home:8080/api/v1/slices/web?user=me';
/** The verifier's clock, as app.ts passes it: the same Date.now() the signer reads. */
const nowSec = (): number => Math.floor(Date.now() / 1000);

interface Req {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Header names as Node's HTTP parser hands them to the server: lower case. */
function asReceived(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** A request signed by the CLI's own signer. */
async function signed(key: KeyObject, method: string, url: string): Promise<Req> {
  const headers = await createRequestSigner(key)({ method, url, headers: { accept: 'application/json' } });
  return { method, url, headers: asReceived(headers) };
}

/** A request signed the way the CLI does, with any of its parameters changed: an old clock, another key id, fewer fields. */
async function signedWith(key: KeyObject, over: {
  createdMs?: number; expiresMs?: number; keyid?: string; nonce?: string | null; fields?: readonly string[]; params?: readonly string[];
} = {}, method = 'GET', url = URL_SLICES): Promise<Req> {
  const created = over.createdMs ?? Date.now();
  const msg = await httpbis.signMessage({
    key: { id: over.keyid ?? userKeyOf(key).ssh, alg: 'ed25519', sign: async (data) => sign(null, data, key) },
    fields: [...(over.fields ?? USER_SIGNED_FIELDS)],
    params: [...(over.params ?? USER_SIGNATURE_PARAMS)],
    paramValues: {
      created: new Date(created), expires: new Date(over.expiresMs ?? created + 60_000),
      ...(over.nonce === null ? {} : { nonce: over.nonce ?? randomBytes(16).toString('base64url') }),
    },
  }, { method, url, headers: {} });
  return { method, url, headers: asReceived(msg.headers as Record<string, string>) };
}

async function refused(p: Promise<unknown>, code: string, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HearthError, `a HearthError, not ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (detail !== undefined) assert.match(err.message, detail);
    return true;
  });
}

void describe('a user signs a request with their key and the gateway knows who asks', () => {
  test('a good signature from the CLI signer gives the user id of its key', async () => {
    const users = createUserVerifier();
    const id = await users.verify(await signed(alice, 'GET', URL_SLICES), nowSec());
    assert.match(id, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(id, userKeyOf(alice).id);
    assert.equal(await users.verify(await signed(bob, 'GET', URL_WEB), nowSec()), userKeyOf(bob).id, 'another user is another id');
  });

  test('the same signed request again is a replay', async () => {
    const users = createUserVerifier();
    const req = await signed(alice, 'GET', URL_WEB);
    assert.equal(await users.verify(req, nowSec()), userKeyOf(alice).id);
    await refused(users.verify(req, nowSec()), 'replayed_document');
    await refused(users.verify({ ...req, headers: { ...req.headers } }, nowSec()), 'replayed_document', /already used/);
  });

  test('a signature does not carry over to another method, path, query or authority', async () => {
    const users = createUserVerifier();
    const tampered: [string, (r: Req) => Req][] = [
      ['method', (r) => ({ ...r, method: 'DELETE' })],
      ['path', (r) => ({ ...r, url: r.url.replace('/slices/web', '/slices/db') })],
      ['query changed', (r) => ({ ...r, url: r.url.replace('user=me', 'user=you') })],
      ['query dropped', (r) => ({ ...r, url: r.url.replace('?user=me', '') })],
      ['host', (r) => ({ ...r, url: r.url.replace('gw-1.home', 'gw-2.home') })],
      ['port', (r) => ({ ...r, url: r.url.replace(':8080', ':8081') })],
    ];
    for (const [what, change] of tampered) {
      const genuine = await signed(alice, 'GET', URL_WEB);
      await refused(users.verify(change(genuine), nowSec()), 'unauthorized', /does not verify|refused/);
      // The control: the request as signed still verifies, so the refusal was for the change (and did not use up the nonce).
      assert.equal(await users.verify(genuine, nowSec()), userKeyOf(alice).id, what);
    }
  });

  test('a request without a signature is told to sign it or send the owner token', async () => {
    const users = createUserVerifier();
    await refused(users.verify({ method: 'GET', url: URL_SLICES, headers: {} }, nowSec()), 'unauthorized', /owner token/);
    const { signature: _dropped, ...inputOnly } = (await signed(alice, 'GET', URL_SLICES)).headers;
    await refused(users.verify({ method: 'GET', url: URL_SLICES, headers: inputOnly }, nowSec()), 'unauthorized', /owner token/);
  });

  test('a signature by one key under another key id is refused', async () => {
    const users = createUserVerifier();
    await refused(users.verify(await signedWith(alice, { keyid: userKeyOf(bob).ssh }), nowSec()), 'unauthorized');
    // And the same request honestly signed by alice passes: the key id was the fault.
    assert.equal(await users.verify(await signedWith(alice), nowSec()), userKeyOf(alice).id);
  });

  test('a signature from a clock within the skew window either way is good, a second old or five minutes', async () => {
    const users = createUserVerifier();
    for (const offsetSec of [-1, -2, -10, -60, -290, 60, 290]) {
      const req = await signedWith(alice, { createdMs: Date.now() + offsetSec * 1000, expiresMs: Date.now() + 600_000 });
      assert.equal(await users.verify(req, nowSec()), userKeyOf(alice).id, `created ${offsetSec} s from now`);
    }
  });

  test('a signature created longer ago than the skew window, or too far ahead, is refused', async () => {
    const users = createUserVerifier();
    // expires is left in the future, so only `created` can be the reason.
    for (const offsetSec of [-310, -3600, 310, 3600]) {
      const req = await signedWith(alice, { createdMs: Date.now() + offsetSec * 1000, expiresMs: Date.now() + 7200_000 });
      await refused(users.verify(req, nowSec()), 'unauthorized', /old|created|future/i);
    }
    // The verifier's own clock decides, not only the library's: a fresh signature checked as if 400 s later is stale.
    const fresh = await signedWith(alice, { expiresMs: Date.now() + 7200_000 });
    await refused(users.verify(fresh, nowSec() + 400), 'unauthorized', /created 40\d s ago/);
    await refused(users.verify(await signedWith(alice), nowSec() - 400), 'unauthorized', /too old|ahead/);
  });

  test('two signatures in one request are refused, even when both are good', async () => {
    const users = createUserVerifier();
    const once = await createRequestSigner(alice)({ method: 'GET', url: URL_SLICES, headers: {} });
    for (const second of [alice, bob]) {
      const twice = asReceived(await createRequestSigner(second)({ method: 'GET', url: URL_SLICES, headers: { ...once } }));
      assert.match(twice['signature-input'] ?? '', /^sig=.*, sig0=/, 'two signatures, as a second signer appends them');
      await refused(users.verify({ method: 'GET', url: URL_SLICES, headers: twice }, nowSec()), 'unauthorized', /exactly one/);
    }
  });

  test('a key id that is not an ssh-ed25519 key is unauthorized, never a crash', async () => {
    const users = createUserVerifier();
    const rsa = sshpk.parseKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'pem').toString('ssh');
    assert.match(rsa, /^ssh-rsa AAAA/);
    const ecdsa = sshpk.parseKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'pem').toString('ssh');
    for (const keyid of [rsa, ecdsa, 'ssh-ed25519 AAAA', 'garbage', '', 'x'.repeat(5000)]) {
      await refused(users.verify(await signedWith(alice, { keyid }), nowSec()), 'unauthorized');
    }
  });

  test('a signature without a nonce, or not covering every required component, is refused', async () => {
    const users = createUserVerifier();
    await refused(users.verify(await signedWith(alice, { nonce: null, params: ['created', 'expires', 'keyid', 'alg'] }), nowSec()), 'unauthorized');
    await refused(users.verify(await signedWith(alice, { nonce: 'short' }), nowSec()), 'unauthorized', /nonce/);
    for (const leftOut of USER_SIGNED_FIELDS) {
      const req = await signedWith(alice, { fields: USER_SIGNED_FIELDS.filter((f) => f !== leftOut) });
      await refused(users.verify(req, nowSec()), 'unauthorized', /refused/);
    }
    await refused(users.verify(await signedWith(alice, { params: ['expires', 'nonce', 'keyid', 'alg'] }), nowSec()), 'unauthorized');
  });

  test('signature headers that are not structured fields are unauthorized, not a crash', async () => {
    const users = createUserVerifier();
    const good = (await signed(alice, 'GET', URL_SLICES)).headers;
    const junk: Record<string, string>[] = [
      { ...good, signature: 'not a dictionary (' },
      { ...good, 'signature-input': 'sig=' },
      { ...good, 'signature-input': 'sig="a string"' },
      { ...good, signature: 'sig=:AAAA:' },
      { ...good, signature: 'other=:AAAA:' },
      { 'signature-input': '', signature: '' },
    ];
    for (const headers of junk) await refused(users.verify({ method: 'GET', url: URL_SLICES, headers }, nowSec()), 'unauthorized');
  });
});
