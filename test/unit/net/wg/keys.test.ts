// WireGuard keys from node:crypto, in wg's text. That `wg pubkey` agrees is
// checked against the real tool in test/integration/net/wireguard.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HearthError } from '../../../../src/model/errors.js';
import { generateKeyPair, isWgKey, publicKeyOf, readKeyFile, writeKeyFile } from '../../../../src/net/wg/keys.js';

// RFC 7748, section 6.1: Alice's X25519 private and public key.
const ALICE_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
const ALICE_PUBLIC = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');

test('publicKeyOf computes X25519 as RFC 7748 does', () => {
  assert.equal(publicKeyOf(ALICE_PRIVATE), ALICE_PUBLIC);
});

test('a generated pair is two keys, the private one clamped as wg genkey does', () => {
  const pair = generateKeyPair();
  assert.ok(isWgKey(pair.privateKey) && isWgKey(pair.publicKey));
  assert.equal(publicKeyOf(pair.privateKey), pair.publicKey);
  const raw = Buffer.from(pair.privateKey, 'base64');
  assert.equal((raw[0] as number) & 7, 0);
  assert.equal((raw[31] as number) >> 6, 1);
  assert.notEqual(generateKeyPair().privateKey, pair.privateKey);
});

test('isWgKey takes only the base64 of 32 bytes', () => {
  assert.equal(isWgKey(ALICE_PUBLIC), true);
  for (const bad of ['', ALICE_PUBLIC.slice(0, -1), `${ALICE_PUBLIC}=`, ALICE_PUBLIC.replace(/=$/, 'A'), `${ALICE_PUBLIC.slice(0, 42)}B=`, ' '.repeat(44)]) {
    assert.equal(isWgKey(bad), false, JSON.stringify(bad));
  }
});

test('a malformed private key is refused without being repeated', () => {
  const secret = `${ALICE_PRIVATE.slice(0, 40)}!!!=`;
  assert.throws(() => publicKeyOf(secret), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request' && !err.message.includes(secret.slice(0, 10)));
});

test('a key file is written 0600 as wg genkey prints it, and read back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-wg-keys-'));
  try {
    const path = join(dir, 'wg.key');
    await writeKeyFile(path, ALICE_PRIVATE);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await readKeyFile(path), ALICE_PRIVATE);
    await writeFile(path, 'not a key\n');
    await assert.rejects(readKeyFile(path), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request');
    await assert.rejects(readKeyFile(join(dir, 'absent.key')), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
