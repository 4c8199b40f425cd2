// A cloud user's key in the browser, and what it signs: RFC 9421 request
// signatures (the fields src/cloud/signed-request.ts names, checked by
// src/api/user-auth.ts) and signed documents (src/cloud/signed-document.ts:
// Ed25519 over the RFC 8785 canonical JSON). WebCrypto only: the private key
// is imported as non-extractable and never leaves the page. The same code
// runs in Node (its WebCrypto) for the tests that check it against the
// gateway's own verifiers.

import canonicalize from 'canonicalize';
import type { SignedDocument } from '../../src/model/document.js';

export interface UserKey {
  /** Signs with the private half (a non-extractable CryptoKey). */
  sign(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
  /** The public half as one OpenSSH line, the user's identity on the wire. */
  ssh: string;
}

const text = new TextEncoder();

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const base64url = (bytes: Uint8Array): string => base64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Reads the SSH wire format: uint32 lengths before strings. */
class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  uint32(): number {
    if (this.at + 4 > this.bytes.length) throw new Error('the key is cut short');
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4).getUint32(0);
    this.at += 4;
    return v;
  }
  string(): Uint8Array {
    const n = this.uint32();
    if (this.at + n > this.bytes.length) throw new Error('the key is cut short');
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
}

const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

function sshString(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

/** The OpenSSH public line of a raw Ed25519 public key. */
export function sshLineOf(publicKey: Uint8Array, comment = ''): string {
  const type = text.encode('ssh-ed25519');
  const blob = new Uint8Array([...sshString(type), ...sshString(publicKey)]);
  return `ssh-ed25519 ${base64(blob)}${comment === '' ? '' : ` ${comment}`}`;
}

// PKCS#8 for an Ed25519 seed is this fixed prefix and the 32 bytes (RFC 8410).
const PKCS8_ED25519_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

function pemBody(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (m === null) throw new Error(`not a ${label} file`);
  try {
    return fromBase64((m[1] ?? '').replace(/\s+/g, ''));
  } catch {
    throw new Error(`the ${label} file is damaged: its body is not base64`);
  }
}

/** The seed, public key and comment of an unencrypted OpenSSH ed25519 private key file. */
function parseOpenSsh(pem: string): { seed: Uint8Array; publicKey: Uint8Array; comment: string } {
  const bytes = pemBody(pem, 'OPENSSH PRIVATE KEY');
  const magic = text.encode('openssh-key-v1\0');
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error('not an OpenSSH private key');
  const r = new Reader(bytes.subarray(magic.length));
  const cipher = utf8(r.string());
  r.string(); // kdf name
  r.string(); // kdf options
  if (cipher !== 'none') throw new Error('the key is encrypted with a passphrase; use an unencrypted key or `hearth user keygen`');
  if (r.uint32() !== 1) throw new Error('the file must hold one key');
  r.string(); // the public key again
  const p = new Reader(r.string());
  if (p.uint32() !== p.uint32()) throw new Error('the key is corrupt (check words differ)');
  const type = utf8(p.string());
  if (type !== 'ssh-ed25519') throw new Error(`a user key must be ed25519, not ${type}`);
  const publicKey = p.string();
  const secret = p.string();
  const comment = utf8(p.string());
  if (publicKey.length !== 32 || secret.length !== 64) throw new Error('an ed25519 key has 32-byte halves');
  return { seed: secret.slice(0, 32), publicKey: publicKey.slice(), comment };
}

/**
 * A user key from the text of its private key file: PKCS#8 PEM (as `hearth
 * user keygen` writes it) or an unencrypted OpenSSH ed25519 key.
 */
export async function importUserKey(file: string): Promise<UserKey> {
  let pkcs8: Uint8Array<ArrayBuffer>;
  let comment = '';
  if (file.includes('BEGIN PRIVATE KEY')) {
    pkcs8 = pemBody(file, 'PRIVATE KEY');
  } else {
    const k = parseOpenSsh(file);
    pkcs8 = new Uint8Array([...PKCS8_ED25519_PREFIX, ...k.seed]);
    comment = k.comment;
  }
  // Imported once extractable to learn the public half (WebCrypto derives it in the JWK), then again without.
  // WebCrypto's own refusals often say nothing (a bare DataError): say what was wrong.
  const probe = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']).catch(() => {
    throw new Error('this is not an Ed25519 private key (a user key is ed25519: PKCS#8 from `hearth user keygen`, or OpenSSH)');
  });
  const jwk = await crypto.subtle.exportKey('jwk', probe);
  if (jwk.x === undefined) throw new Error('the key has no public half');
  const publicKey = fromBase64(jwk.x.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (jwk.x.length % 4)) % 4));
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  return {
    ssh: sshLineOf(publicKey, comment),
    sign: async (data) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, data)),
  };
}

const randomNonce = (): string => base64url(crypto.getRandomValues(new Uint8Array(16)));

/** A signed document asking `kind` with `body` (e.g. slice.create with a spec). */
export async function signDocument(key: UserKey, kind: string, body: unknown, nowSec = Math.floor(Date.now() / 1000)): Promise<SignedDocument> {
  const unsigned = { v: 1 as const, kind, body, user: key.ssh, at: nowSec, nonce: randomNonce() };
  const canonical = canonicalize(unsigned);
  if (canonical === undefined) throw new Error('the document does not serialize');
  return { ...unsigned, sig: base64url(await key.sign(text.encode(canonical))) };
}

/** A Structured Field string (RFC 8941): quoted, with \ and " escaped. */
const sfString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The Signature-Input and Signature headers (RFC 9421) for a request to
 * `url`, covering its method, authority, path and query, valid for
 * `validSec` from now.
 */
export async function signRequest(key: UserKey, method: string, url: string, validSec = 60, nowSec = Math.floor(Date.now() / 1000)): Promise<Record<string, string>> {
  const u = new URL(url);
  const fields = ['@method', '@authority', '@path', '@query'];
  const values = [method.toUpperCase(), u.host.toLowerCase(), u.pathname, u.search === '' ? '?' : u.search];
  const params = `(${fields.map((f) => `"${f}"`).join(' ')});created=${nowSec};expires=${nowSec + validSec};nonce=${sfString(randomNonce())};keyid=${sfString(key.ssh)};alg="ed25519"`;
  const base = [...fields.map((f, i) => `"${f}": ${values[i] ?? ''}`), `"@signature-params": ${params}`].join('\n');
  const signature = await key.sign(text.encode(base));
  return { 'Signature-Input': `sig1=${params}`, Signature: `sig1=:${base64(signature)}:` };
}
