// A user of the community cloud is an Ed25519 key pair. Its public half is
// written and read in OpenSSH's one-line form (`ssh-ed25519 AAAA… comment`),
// so an existing ssh key works as well as one made by `hearth user keygen`;
// its id is the key's SHA-256 fingerprint as OpenSSH prints it. Parsing is
// sshpk's; signing and verifying are Node's.
// Pure. Must never: accept a key of another type, or read or write files.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import sshpk from 'sshpk';
import { HearthError } from '../model/errors.js';

export interface UserPublicKey {
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  id: string;
  /** The one-line OpenSSH form, without a comment. */
  ssh: string;
  comment: string;
  key: KeyObject;
}

export interface UserKeyPair {
  publicKey: UserPublicKey;
  privateKey: KeyObject;
}

function badKey(detail: string): HearthError {
  return new HearthError('invalid_request', detail, { field: 'key' });
}

/** A named part of an sshpk key (A: the public point, k: the seed). */
function partOf(key: { parts: { name: string; data: Buffer }[] }, name: string): Buffer | undefined {
  return key.parts.find((p) => p.name === name)?.data;
}

/** sshpk names a key without a comment "(unnamed)". */
function commentOf(key: { comment?: string }): string {
  return key.comment === undefined || key.comment === '(unnamed)' ? '' : key.comment;
}

function fromRaw(raw: Buffer, comment: string): UserPublicKey {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  // The ssh wire form: string "ssh-ed25519", string key.
  const wire = (s: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, s.length]), s]);
  const ssh = `ssh-ed25519 ${Buffer.concat([wire(Buffer.from('ssh-ed25519')), wire(raw)]).toString('base64')}`;
  const id = sshpk.parseKey(ssh, 'ssh').fingerprint('sha256').toString();
  return { id, ssh, comment, key };
}

/** An `ssh-ed25519 AAAA… [comment]` line, checked to be an Ed25519 key. */
export function parseUserPublicKey(text: string): UserPublicKey {
  if (text.length > 1024) throw badKey('a public key line is at most 1024 characters');
  let parsed: sshpk.Key;
  try {
    parsed = sshpk.parseKey(text.trim(), 'ssh');
  } catch (err) {
    throw badKey(`not an OpenSSH public key: ${(err as Error).message}`);
  }
  if (parsed.type !== 'ed25519') throw badKey(`a user key must be ed25519, not ${parsed.type}`);
  const raw = partOf(parsed, 'A');
  if (raw === undefined || raw.length !== 32) throw badKey('an ed25519 key has 32 bytes');
  return fromRaw(raw, commentOf(parsed));
}

/** A private key file: PKCS#8 PEM (as keygen writes it) or an unencrypted OpenSSH ed25519 key. */
export function parseUserPrivateKey(text: string): UserKeyPair {
  if (text.includes('BEGIN PRIVATE KEY')) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(text);
    } catch (err) {
      throw badKey(`not a PKCS#8 private key: ${(err as Error).message}`);
    }
    return { privateKey, publicKey: userKeyOf(privateKey) };
  }
  let parsed: sshpk.PrivateKey;
  try {
    parsed = sshpk.parsePrivateKey(text, 'auto');
  } catch (err) {
    throw badKey(`not a private key hearth can read (PKCS#8, or an unencrypted OpenSSH key): ${(err as Error).message}`);
  }
  if (parsed.type !== 'ed25519') throw badKey(`a user key must be ed25519, not ${parsed.type}`);
  const seed = partOf(parsed, 'k');
  const raw = partOf(parsed, 'A');
  if (seed === undefined || raw === undefined) throw badKey('the ed25519 key has no seed');
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.subarray(0, 32).toString('base64url'), x: raw.toString('base64url') }, format: 'jwk' });
  return { privateKey, publicKey: fromRaw(raw, commentOf(parsed)) };
}

/** The public half of an Ed25519 private key, as a user key. */
export function userKeyOf(privateKey: KeyObject, comment = ''): UserPublicKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw badKey(`a user key must be ed25519, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  return fromRaw(Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '', 'base64url'), comment);
}
