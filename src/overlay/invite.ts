// Invite tokens: how a gateway joins a community. A token carries the
// community's name, its gossip key, the Serf addresses of a few live members
// and an optional expiry, signed by the inviting gateway's identity key with
// its certificate inside. Any edit breaks the signature; re-signing with
// another key changes the issuer id, which the joiner checks against the
// gossiped members once in. Pure: the clock comes in as an argument.
// Must never: accept a token whose signature, issuer id or expiry fails.

import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { HearthError } from '../model/errors.js';
import { validateName } from '../model/sliver.js';
import { fingerprintOfDer } from './identity.js';

export const INVITE_PREFIX = 'hearth1';
/** Tokens larger than this are refused before any parsing. */
export const MAX_INVITE_LENGTH = 8192;

export interface Invite {
  community: string;
  /** Serf keyring key, base64 of 32 bytes. */
  key: string;
  /** Serf addresses (host:port, [v6]:port) of live members. */
  addresses: string[];
  /** Seconds since the epoch, or null for no expiry. */
  expires: number | null;
  /** Fingerprint of the issuing gateway. */
  issuer: string;
}

interface Wire {
  c: string;
  k: string;
  a: string[];
  e: number | null;
  i: string;
  /** Issuer certificate, DER base64url. */
  x: string;
}

const bad = (detail: string): HearthError => new HearthError('invalid_invite', `invalid invite token: ${detail}`);

export function createInvite(invite: Omit<Invite, 'issuer'>, issuer: { certPem: string; keyPem: string }): string {
  validateName('community', invite.community);
  if (Buffer.from(invite.key, 'base64').length !== 32) throw new HearthError('invalid_request', 'the community key must be 32 bytes, base64');
  if (invite.addresses.length === 0) throw new HearthError('invalid_request', 'an invite needs at least one member address');
  const der = new X509Certificate(issuer.certPem).raw;
  const wire: Wire = { c: invite.community, k: invite.key, a: invite.addresses.slice(0, 8), e: invite.expires, i: fingerprintOfDer(der), x: der.toString('base64url') };
  const payload = Buffer.from(JSON.stringify(wire)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${INVITE_PREFIX}.${payload}`), createPrivateKey(issuer.keyPem)).toString('base64url');
  return `${INVITE_PREFIX}.${payload}.${signature}`;
}

/** Verify and read a token; `nowSec` is the caller's clock. */
export function readInvite(token: string, nowSec: number): Invite {
  const text = token.trim();
  if (text.length > MAX_INVITE_LENGTH) throw bad('too long');
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== INVITE_PREFIX) throw bad(`expected ${INVITE_PREFIX}.<payload>.<signature>`);
  const [, payload, signature] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(signature)) throw bad('not base64url');
  let wire: Wire;
  try {
    wire = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Wire;
  } catch {
    throw bad('the payload is not JSON');
  }
  if (typeof wire !== 'object' || wire === null || typeof wire.c !== 'string' || typeof wire.k !== 'string' || !Array.isArray(wire.a)
    || !wire.a.every((a) => typeof a === 'string' && a.length <= 64) || (wire.e !== null && typeof wire.e !== 'number')
    || typeof wire.i !== 'string' || typeof wire.x !== 'string') {
    throw bad('fields missing or of the wrong type');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(wire.x, 'base64url'));
  } catch {
    throw bad('the issuer certificate does not parse');
  }
  if (fingerprintOfDer(cert.raw) !== wire.i) throw bad('the issuer id does not match its certificate');
  const ok = verify('sha256', Buffer.from(`${INVITE_PREFIX}.${payload}`), createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' })), Buffer.from(signature, 'base64url'));
  if (!ok) throw bad('the signature does not verify (the token was altered)');
  if (wire.e !== null && nowSec >= wire.e) {
    throw new HearthError('invite_expired', `the invite expired at ${new Date(wire.e * 1000).toISOString()}; ask for a new one`);
  }
  validateName('community', wire.c);
  if (Buffer.from(wire.k, 'base64').length !== 32) throw bad('the key is not 32 bytes');
  if (wire.a.length === 0) throw bad('no member addresses');
  return { community: wire.c, key: wire.k, addresses: wire.a, expires: wire.e, issuer: wire.i };
}
