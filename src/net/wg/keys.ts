// WireGuard keys: Curve25519 (X25519) key pairs from node:crypto (OpenSSL),
// in the base64 text `wg genkey` and `wg pubkey` use. OpenSSL clamps the
// private scalar as `wg genkey` does. A private key reaches wg only as a
// file (wg reads keys from files alone, and Node's child stdin is a socket,
// which /dev/stdin cannot open), written 0600 like wg genkey's under umask 077.
// Must never: derive or combine keys by hand, or put a private key in an
// error, a log line or a command line.

import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../kit/atomic-write.js';
import { HearthError } from '../../model/errors.js';

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

// 32 bytes in padded base64: 43 characters, the last carrying 4 zero bits, then '='.
const KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
// PKCS#8 wrapping of a raw X25519 private key (RFC 8410): the DER header before the 32 bytes.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** True for the base64 text of 32 bytes, as wg prints keys. */
export function isWgKey(text: string): boolean {
  return KEY_RE.test(text);
}

export function validateWgKey(field: string, text: string): void {
  if (!isWgKey(text)) {
    throw new HearthError('invalid_request', `${field} is not a WireGuard key (44 characters of base64 for 32 bytes)`, { field });
  }
}

const fromBase64Url = (text: string | undefined): string => Buffer.from(text ?? '', 'base64url').toString('base64');

export function generateKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey: fromBase64Url(privateKey.export({ format: 'jwk' }).d), publicKey: fromBase64Url(publicKey.export({ format: 'jwk' }).x) };
}

/** The public key of `privateKey`, as `wg pubkey` computes it. */
export function publicKeyOf(privateKey: string): string {
  validateWgKey('privateKey', privateKey);
  const der = Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKey, 'base64')]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return fromBase64Url(createPublicKey(key).export({ format: 'jwk' }).x);
}

/** Writes `privateKey` to `path` (mode 0600, replaced whole) as wg genkey prints it. */
export async function writeKeyFile(path: string, privateKey: string): Promise<void> {
  validateWgKey('privateKey', privateKey);
  await writeFileAtomic(path, `${privateKey}\n`, { mode: 0o600 });
}

/** The private key in `path`; invalid_request if the file holds anything else. */
export async function readKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new HearthError('invalid_request', `cannot read the WireGuard key file ${path}: ${(error as Error).message}`, { field: 'privateKeyFile' }, { cause: error });
  }
  if (!isWgKey(text)) throw new HearthError('invalid_request', `${path} does not hold a WireGuard key`, { field: 'privateKeyFile' });
  return text;
}
