// A user of the community cloud is an Ed25519 key pair. Its public half is
// written and read in OpenSSH's one-line form (`ssh-ed25519 AAAA… comment`),
// so an existing ssh key works as well as one made by `hearth user keygen`;
// its id is the key's SHA-256 fingerprint as OpenSSH prints it. A public
// key line is read here (every slice route and record pull verifies a user's
// document, and sshpk's parser, cold in an agent's interpreter, was over a
// quarter of the slice routes' time on their hosts: BENCHMARKS.md, session 40);
// private keys, read only by the CLI, are sshpk's. Signing and verifying
// are Node's.
// Pure. Must never: accept a key of another type, or read or write files.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
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

const ED25519 = 'ssh-ed25519';

/** The ssh wire form of a string: its length (uint32, big-endian), then its bytes. */
function wire(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A key blob's strings, which must fill it exactly; undefined when they do not. */
function wireStrings(blob: Buffer): Buffer[] | undefined {
  const strings: Buffer[] = [];
  for (let at = 0; at < blob.length;) {
    if (blob.length - at < 4) return undefined;
    const length = blob.readUInt32BE(at);
    if (length > blob.length - at - 4) return undefined;
    strings.push(blob.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return strings;
}

function fromRaw(raw: Buffer, comment: string): UserPublicKey {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  // The key blob: string "ssh-ed25519", string key. Its fingerprint is the blob's SHA-256, unpadded base64.
  const blob = Buffer.concat([wire(Buffer.from(ED25519)), wire(raw)]);
  const id = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { id, ssh: `${ED25519} ${blob.toString('base64')}`, comment, key };
}

/** An `ssh-ed25519 AAAA… [comment]` line, checked to be an Ed25519 key. */
export function parseUserPublicKey(text: string): UserPublicKey {
  if (text.length > 1024) throw badKey('a public key line is at most 1024 characters');
  const [type = '', data = '', ...comment] = text.trim().split(/\s+/);
  const blob = Buffer.from(data, 'base64');
  if (data === '' || blob.toString('base64').replace(/=+$/, '') !== data.replace(/=+$/, '')) {
    throw badKey('not an OpenSSH public key: expected "ssh-ed25519 AAAA… [comment]"');
  }
  const strings = wireStrings(blob);
  const named = strings?.[0]?.toString('latin1');
  if (named !== type) throw badKey(`not an OpenSSH public key: the line names ${type}, its key ${named ?? 'nothing readable'}`);
  if (type !== ED25519) throw badKey(`a user key must be ed25519, not ${type}`);
  const raw = strings?.[1];
  if (strings?.length !== 2 || raw?.length !== 32) throw badKey('an ed25519 key has 32 bytes');
  return fromRaw(raw, comment.join(' '));
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
