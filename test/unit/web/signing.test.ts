// The portal's signing (web/src/signing.ts) in Node's WebCrypto, checked by
// the gateway's own verifiers: a request it signs is taken as that user by
// api/user-auth.ts, a document it signs verifies with cloud/signed-document.ts,
// from both key files a user may have (PKCS#8 from `hearth user keygen`, and
// an unencrypted OpenSSH key from ssh-keygen), and a change to what was
// signed does not verify.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importUserKey, signDocument, signRequest } from '../../../web/src/signing.js';
import { createUserVerifier } from '../../../src/api/user-auth.js';
import { verifyDocument } from '../../../src/cloud/signed-document.js';
import { parseUserPrivateKey } from '../../../src/cloud/user-key.js';

const pkcs8 = (): string => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

async function openSshKey(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sshkey-'));
  try {
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ana@home', '-f', join(dir, 'k')]);
    return readFileSync(join(dir, 'k'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('both kinds of key file give the public line the gateway derives from the same file', async () => {
  for (const file of [pkcs8(), await openSshKey()]) {
    const key = await importUserKey(file);
    const expected = parseUserPrivateKey(file).publicKey.ssh;
    assert.equal(key.ssh.split(' ').slice(0, 2).join(' '), expected.split(' ').slice(0, 2).join(' '));
  }
  assert.match((await importUserKey(await openSshKey())).ssh, / ana@home$/, 'the comment is kept');
});

test("a request signed in the page is taken by the gateway as that user's; changed, replayed or stale, it is refused", async () => {
  const file = await openSshKey();
  const key = await importUserKey(file);
  const verifier = createUserVerifier();
  const now = Math.floor(Date.now() / 1000);
  const url = 'http://gw1.example:7480/api/v1/slices/web?user=me';
  const headers = await signRequest(key, 'GET', url, 60, now);
  const req = (method: string, u: string, h: Record<string, string>) => ({ method, url: u, headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])) });
  assert.equal(await verifier.verify(req('GET', url, headers), now), parseUserPrivateKey(file).publicKey.id);
  const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'accepted', (e: { code: string }) => e.code);
  assert.equal(await code(verifier.verify(req('GET', url, headers), now)), 'replayed_document');
  const other = await signRequest(key, 'GET', url, 60, now);
  assert.equal(await code(verifier.verify(req('DELETE', url, other), now)), 'unauthorized', 'another method');
  const third = await signRequest(key, 'GET', url, 60, now);
  assert.equal(await code(verifier.verify(req('GET', 'http://gw1.example:7480/api/v1/slices/web?user=you', third), now)), 'unauthorized', 'another query');
  const old = await signRequest(key, 'GET', 'http://gw1.example:7480/api/v1/slices', 60, now - 1000);
  assert.equal(await code(verifier.verify(req('GET', 'http://gw1.example:7480/api/v1/slices', old), now)), 'unauthorized', 'too old');
});

test('a document signed in the page verifies at any gateway, and not once its body is changed', async () => {
  const key = await importUserKey(pkcs8());
  const now = Math.floor(Date.now() / 1000);
  const doc = await signDocument(key, 'slice.create', { name: 'web', slivers: 2, template: 'busybox' }, now);
  const ok = verifyDocument(doc, { now, kind: 'slice.create' });
  assert.equal(ok.ok, true, JSON.stringify(ok));
  const changed = verifyDocument({ ...doc, body: { name: 'web', slivers: 3, template: 'busybox' } }, { now, kind: 'slice.create' });
  assert.deepEqual(changed.ok ? 'accepted' : changed.fault, 'invalid_signature');
});

test('what the page cannot use is refused with the reason', async () => {
  await assert.rejects(importUserKey('hello'), /not an OpenSSH private key|not a OPENSSH PRIVATE KEY file/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await assert.rejects(importUserKey(rsa), /not an Ed25519 private key/);
  await assert.rejects(importUserKey('-----BEGIN PRIVATE KEY-----\nnot*a*key\n-----END PRIVATE KEY-----'), /damaged: its body is not base64/);
});
