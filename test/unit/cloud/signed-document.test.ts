// Users and their signed documents: keys from keygen and from a real
// `ssh-keygen`, and every way a document can be bad: forged, tampered,
// stale, replayed, malformed. Each gateway checks these by itself.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMPTY_REPLAY_WINDOW, admitOnce, signDocument, verifyDocument } from '../../../src/cloud/signed-document.js';
import { parseUserPrivateKey, parseUserPublicKey, userKeyOf } from '../../../src/cloud/user-key.js';
import { HearthError } from '../../../src/model/errors.js';

const now = 1_800_000_000;
const alice = generateKeyPairSync('ed25519').privateKey;
const mallory = generateKeyPairSync('ed25519').privateKey;
const nonce = (): string => randomBytes(16).toString('base64url');
const spec = { name: 'web', slivers: 3, template: 'busybox' };
const signed = (over: Partial<Parameters<typeof signDocument>[0]> = {}): ReturnType<typeof signDocument> =>
  signDocument({ kind: 'slice.create', body: spec, privateKey: alice, at: now, nonce: nonce(), ...over });

void describe('user keys', () => {
  test('an ssh-keygen ed25519 key pair is read, and its id is the fingerprint ssh-keygen prints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-user-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@home', '-f', join(dir, 'id')]);
      const pub = parseUserPublicKey(readFileSync(join(dir, 'id.pub'), 'utf8'));
      const printed = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'id.pub')], { encoding: 'utf8' }).split(' ')[1];
      assert.equal(pub.id, printed);
      assert.equal(pub.comment, 'alice@home');
      const pair = parseUserPrivateKey(readFileSync(join(dir, 'id'), 'utf8'));
      assert.equal(pair.publicKey.id, pub.id, 'the private key file gives the same user');
      const doc = signDocument({ kind: 'slice.create', body: spec, privateKey: pair.privateKey, at: now, nonce: nonce() });
      assert.deepEqual(verifyDocument(doc, { now }), { ok: true, doc, userId: pub.id });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a PKCS#8 key round-trips; keys of other types and junk are refused', () => {
    const pem = alice.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.equal(parseUserPrivateKey(pem).publicKey.id, userKeyOf(alice).id);
    assert.equal(parseUserPublicKey(userKeyOf(alice).ssh).id, userKeyOf(alice).id);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const bad of [() => parseUserPrivateKey(rsa), () => parseUserPublicKey('ssh-rsa AAAA'), () => parseUserPublicKey('x'.repeat(2000)), () => parseUserPrivateKey('nonsense')]) {
      assert.throws(bad, (err: unknown) => err instanceof HearthError && err.code === 'invalid_request');
    }
  });
});

void describe('signed documents', () => {
  test('a fresh document from its user verifies, and names the user', () => {
    const doc = signed();
    const v = verifyDocument(doc, { now: now + 10, kind: 'slice.create' });
    assert.ok(v.ok);
    assert.equal(v.userId, userKeyOf(alice).id);
  });

  test('the signature covers the canonical form: key order and spacing do not matter', () => {
    const doc = signed();
    const reordered = JSON.parse(JSON.stringify({ sig: doc.sig, nonce: doc.nonce, at: doc.at, user: doc.user, body: { template: 'busybox', slivers: 3, name: 'web' }, kind: doc.kind, v: 1 })) as unknown;
    assert.equal(verifyDocument(reordered, { now }).ok, true);
  });

  test('forged, tampered and re-signed documents are refused as invalid_signature', () => {
    const doc = signed();
    const cases: unknown[] = [
      { ...doc, sig: signed().sig },
      { ...doc, body: { ...spec, slivers: 30 } },
      { ...doc, at: doc.at + 1 },
      { ...doc, kind: 'slice.delete' },
      // Mallory signs with her key but claims to be alice.
      { ...signDocument({ kind: 'slice.create', body: spec, privateKey: mallory, at: now, nonce: nonce() }), user: doc.user },
    ];
    for (const bad of cases) {
      const v = verifyDocument(bad, { now });
      assert.equal(v.ok, false);
      if (!v.ok) assert.equal(v.fault, 'invalid_signature');
    }
  });

  test('a document outside the clock-skew window is stale, either way', () => {
    for (const at of [now - 301, now + 301]) {
      const v = verifyDocument(signed({ at }), { now });
      assert.equal(v.ok ? 'ok' : v.fault, 'stale_document');
    }
    assert.equal(verifyDocument(signed({ at: now - 300 }), { now }).ok, true);
  });

  test('a replayed document is seen once and refused after', () => {
    const doc = signed();
    const v = verifyDocument(doc, { now });
    assert.ok(v.ok);
    const first = admitOnce(EMPTY_REPLAY_WINDOW, v, now);
    assert.equal(first.fresh, true);
    assert.equal(admitOnce(first.window, v, now + 5).fresh, false);
    const other = verifyDocument(signed(), { now });
    assert.ok(other.ok);
    assert.equal(admitOnce(first.window, other, now + 5).fresh, true, 'another nonce is another document');
    const later = admitOnce(first.window, other, now + 400).window;
    assert.deepEqual([...later.seen.keys()], [`${other.userId} ${other.doc.nonce}`], 'entries past the window are dropped (their documents are stale anyway)');
  });

  test('malformed documents say what is wrong', () => {
    const doc = signed();
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/], [[doc], /JSON object/], ['doc', /JSON object/],
      [{ ...doc, extra: 1 }, /unknown fields: extra/],
      [{ ...doc, v: 2 }, /v must be 1/],
      [{ ...doc, kind: 'Slice/Create' }, /kind/],
      [{ ...doc, at: 1.5 }, /whole seconds/],
      [{ ...doc, nonce: 'short' }, /nonce/],
      [{ ...doc, sig: 'zz' }, /sig/],
      [{ ...doc, user: 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ' }, /OpenSSH public key|ed25519/],
      [Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'body')), /body is missing/],
    ];
    for (const [bad, why] of cases) {
      const v = verifyDocument(bad, { now });
      assert.equal(v.ok ? 'ok' : v.fault, 'malformed_document', JSON.stringify(bad));
      if (!v.ok) assert.match(v.reason, why);
    }
    const wrongKind = verifyDocument(doc, { now, kind: 'slice.delete' });
    assert.equal(wrongKind.ok ? 'ok' : wrongKind.fault, 'malformed_document');
  });
});
