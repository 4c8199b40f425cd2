import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile, readFile, chmod, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERT_FILE, KEY_FILE, fingerprintOfDer, fingerprintOfPem, loadOrCreateIdentity } from '../../../src/overlay/identity.js';
import { HearthError } from '../../../src/model/errors.js';

const root = await mkdtemp(join(tmpdir(), 'hearth-identity-'));
after(() => rm(root, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  counter += 1;
  return join(root, `gw-${counter}`, 'identity');
}

void describe('loadOrCreateIdentity', () => {
  void test('creates a key and certificate once and returns the same id on every later start', async () => {
    const dir = freshDir();
    const first = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    const second = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    assert.equal(second.id, first.id);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
    assert.match(first.id, /^[0-9a-f]{64}$/);
    assert.equal(first.shortId, first.id.slice(0, 16));
  });

  void test('two gateways get different ids', async () => {
    const a = await loadOrCreateIdentity(freshDir(), { commonName: 'gw-a' });
    const b = await loadOrCreateIdentity(freshDir(), { commonName: 'gw-a' });
    assert.notEqual(a.id, b.id);
  });

  void test('the key is readable by its owner only and stored as PKCS#8 PEM', async () => {
    const dir = freshDir();
    const identity = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, CERT_FILE))).mode & 0o022, 0, 'certificate is not group/world-writable');
    assert.match(identity.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(await readFile(join(dir, KEY_FILE), 'utf8'), identity.keyPem);
  });

  void test('a key made world-readable by hand is narrowed back to 0600', async () => {
    const dir = freshDir();
    await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await chmod(join(dir, KEY_FILE), 0o644);
    await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
  });

  void test('the id is the certificate fingerprint as node:crypto computes it', async () => {
    const identity = await loadOrCreateIdentity(freshDir(), { commonName: 'gw-one' });
    const cert = new X509Certificate(identity.certPem);
    assert.equal(identity.id, cert.fingerprint256.replaceAll(':', '').toLowerCase());
    assert.equal(fingerprintOfPem(identity.certPem), identity.id);
    assert.equal(fingerprintOfDer(cert.raw), identity.id);
  });

  void test('the certificate is a self-signed, 10-year ECDSA P-256 certificate named after the gateway', async () => {
    const identity = await loadOrCreateIdentity(freshDir(), { commonName: 'gw-one' });
    const cert = new X509Certificate(identity.certPem);
    assert.equal(cert.subject, 'CN=gw-one');
    assert.equal(cert.issuer, cert.subject);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(cert.subjectAltName, 'DNS:gw-one');
    assert.equal(cert.ca, false);
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `validity is ${years} years`);
  });

  void test('a name that is not a DNS label still becomes the CN, without a SAN', async () => {
    const identity = await loadOrCreateIdentity(freshDir(), { commonName: 'Casa de Pau, Gràcia' });
    const cert = new X509Certificate(identity.certPem);
    assert.match(cert.subject, /Casa de Pau/);
    assert.equal(cert.subjectAltName, undefined);
  });

  void test('a corrupt key file is reported naming the file, and left untouched', async () => {
    const dir = freshDir();
    await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await writeFile(join(dir, KEY_FILE), 'not a key\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(dir, { commonName: 'gw-one' }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.code, 'identity_corrupt');
      assert.match(err.message, new RegExp(`${KEY_FILE}`));
      return true;
    });
    assert.equal(await readFile(join(dir, KEY_FILE), 'utf8'), 'not a key\n');
  });

  void test('a corrupt certificate file is reported naming the file', async () => {
    const dir = freshDir();
    await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await writeFile(join(dir, CERT_FILE), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(loadOrCreateIdentity(dir, { commonName: 'gw-one' }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.match(err.message, new RegExp(`${CERT_FILE}`));
      return true;
    });
  });

  void test('a certificate of another gateway beside our key is refused', async () => {
    const dir = freshDir();
    const other = await loadOrCreateIdentity(freshDir(), { commonName: 'gw-two' });
    await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await writeFile(join(dir, CERT_FILE), other.certPem);
    await assert.rejects(loadOrCreateIdentity(dir, { commonName: 'gw-one' }), /does not belong/);
  });

  void test('a key without a certificate (crash between writes) gets a certificate for that key', async () => {
    const dir = freshDir();
    const first = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await unlink(join(dir, CERT_FILE));
    const second = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    assert.equal(second.keyPem, first.keyPem);
    assert.ok(new X509Certificate(second.certPem).checkPrivateKey(createPrivateKey(first.keyPem)));
  });

  void test('a certificate without its key is refused rather than replaced', async () => {
    const dir = freshDir();
    const first = await loadOrCreateIdentity(dir, { commonName: 'gw-one' });
    await unlink(join(dir, KEY_FILE));
    await assert.rejects(loadOrCreateIdentity(dir, { commonName: 'gw-one' }), /node\.key is missing/);
    assert.equal(await readFile(join(dir, CERT_FILE), 'utf8'), first.certPem);
  });

  void test('an aborted signal rejects with its reason before touching the disk', async () => {
    const dir = freshDir();
    const reason = new Error('stop');
    await assert.rejects(loadOrCreateIdentity(dir, { commonName: 'gw-one', signal: AbortSignal.abort(reason) }), reason);
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });
});
