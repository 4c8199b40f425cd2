// A user's signed document: a slice spec, or a change to one (delete, renew,
// resize). The signature covers the RFC 8785 canonical JSON of everything
// but itself (kind, body, the user's public key, a timestamp and a nonce),
// so any gateway can check, by itself, that the user asked for exactly this,
// recently, and once. No gateway can make one in a user's name.
// Pure. Must never: read the clock or draw randomness (`now` and the nonce
// come in), or accept a document whose signature it did not check.

import { sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { parseUserPublicKey, userKeyOf } from './user-key.js';
import type { SignedDocument } from '../model/document.js';

export type { SignedDocument };

export type DocumentFault = 'malformed_document' | 'invalid_signature' | 'stale_document' | 'replayed_document';

export type Verified =
  | { ok: true; doc: SignedDocument; userId: string }
  | { ok: false; fault: DocumentFault; reason: string };

/** How far a document's time may be from ours, either way: clocks of home boxes drift. */
export const DEFAULT_SKEW_SEC = 300;
export const NONCE = /^[A-Za-z0-9_-]{22}$/;
const KIND = /^[a-z][a-z0-9.-]{0,62}$/;

function signedBytes(doc: Omit<SignedDocument, 'sig'>): Buffer {
  const text = canonicalize({ v: doc.v, kind: doc.kind, body: doc.body, user: doc.user, at: doc.at, nonce: doc.nonce });
  if (text === undefined) throw new Error('document does not serialize');
  return Buffer.from(text, 'utf8');
}

export function signDocument(init: { kind: string; body: unknown; privateKey: KeyObject; at: number; nonce: string }): SignedDocument {
  const unsigned = { v: 1 as const, kind: init.kind, body: init.body, user: userKeyOf(init.privateKey).ssh, at: init.at, nonce: init.nonce };
  return { ...unsigned, sig: sign(null, signedBytes(unsigned), init.privateKey).toString('base64url') };
}

const fault = (f: DocumentFault, reason: string): Verified => ({ ok: false, fault: f, reason });

/** Checks shape, signature and freshness; replays are the ReplayWindow's to catch. */
export function verifyDocument(input: unknown, opts: { now: number; kind?: string; skewSec?: number }): Verified {
  const d = input as Partial<SignedDocument> | null;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return fault('malformed_document', 'a signed document is a JSON object');
  const extra = Object.keys(d).filter((k) => !['v', 'kind', 'body', 'user', 'at', 'nonce', 'sig'].includes(k));
  if (extra.length > 0) return fault('malformed_document', `unknown fields: ${extra.slice(0, 5).join(', ')}`);
  if (d.v !== 1) return fault('malformed_document', 'v must be 1');
  if (typeof d.kind !== 'string' || !KIND.test(d.kind)) return fault('malformed_document', 'kind must be a short lower-case name');
  if (opts.kind !== undefined && d.kind !== opts.kind) return fault('malformed_document', `a ${opts.kind} document is needed here, not ${d.kind}`);
  if (typeof d.user !== 'string') return fault('malformed_document', 'user must be an ssh-ed25519 public key');
  if (typeof d.at !== 'number' || !Number.isSafeInteger(d.at)) return fault('malformed_document', 'at must be whole seconds since the epoch');
  if (typeof d.nonce !== 'string' || !NONCE.test(d.nonce)) return fault('malformed_document', 'nonce must be 16 bytes in base64url');
  if (typeof d.sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(d.sig)) return fault('malformed_document', 'sig must be an Ed25519 signature in base64url');
  if (!('body' in d)) return fault('malformed_document', 'body is missing');
  let user;
  try {
    user = parseUserPublicKey(d.user);
  } catch (err) {
    return fault('malformed_document', (err as Error).message);
  }
  const doc = d as SignedDocument;
  let good: boolean;
  try {
    good = verify(null, signedBytes(doc), user.key, Buffer.from(doc.sig, 'base64url'));
  } catch {
    good = false;
  }
  if (!good) return fault('invalid_signature', `the signature does not verify against ${user.id}`);
  const skew = opts.skewSec ?? DEFAULT_SKEW_SEC;
  if (Math.abs(opts.now - doc.at) > skew) return fault('stale_document', `signed at ${doc.at}, ${Math.round(opts.now - doc.at)} s from now; at most ${skew} s either way`);
  return { ok: true, doc, userId: user.id };
}

/**
 * The nonces seen within the skew window, per user: a document seen before is
 * a replay. Entries older than the window are dropped, since the timestamp
 * check refuses their documents anyway.
 */
export interface ReplayWindow {
  readonly seen: ReadonlyMap<string, number>;
}

export const EMPTY_REPLAY_WINDOW: ReplayWindow = { seen: new Map() };

export function admitOnce(window: ReplayWindow, verified: { doc: Pick<SignedDocument, 'nonce' | 'at'>; userId: string }, now: number, skewSec = DEFAULT_SKEW_SEC): { window: ReplayWindow; fresh: boolean } {
  const seen = new Map([...window.seen].filter(([, at]) => now - at <= skewSec));
  const key = `${verified.userId} ${verified.doc.nonce}`;
  if (seen.has(key)) return { window: { seen }, fresh: false };
  seen.set(key, verified.doc.at);
  return { window: { seen }, fresh: true };
}
