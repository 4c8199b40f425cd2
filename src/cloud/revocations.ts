// The revocation list as the community spreads it: its gossiped digest, and
// what a list pulled from another member may contain. A revocation names a
// gateway by its id (the fingerprint of its certificate), and lists only
// grow, so merging is a union and every member converges.
// Pure. Must never: trust a pulled item that is not a well-formed id.

import { createHash } from 'node:crypto';
import { parseHostPort } from '../model/host-port.js';
import type { ViewState } from '../overlay/view.js';

/** The user event that spreads a revocation: payload = the 32-byte fingerprint. */
export const REVOKE_EVENT = 'hearth-revoke';
/** Tag digest of the revocation list; a member whose digest differs is asked for its list. */
export const REVOCATIONS_DIGEST = 'rv';
export const REVOCATIONS_PATH = '/peer/v1/revocations';

export interface Revocation {
  id: string;
  name: string | null;
}

const ID = /^[0-9a-f]{64}$/;

/** The first 11 base64url characters of SHA-256 over the sorted ids; none when nothing is revoked. */
export function revocationsDigest(ids: Iterable<string>): string | undefined {
  const sorted = [...ids].sort();
  if (sorted.length === 0) return undefined;
  return createHash('sha256').update(sorted.join('\n')).digest('base64url').slice(0, 11);
}

/** The well-formed revocations in a list another member sent; anything else in it is dropped. */
export function readRevocationList(body: unknown): Revocation[] {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  const out: Revocation[] = [];
  for (const item of items as { id?: unknown; name?: unknown }[]) {
    if (typeof item?.id !== 'string' || !ID.test(item.id)) continue;
    out.push({ id: item.id, name: typeof item.name === 'string' ? item.name.slice(0, 63) : null });
  }
  return out;
}

/** The fingerprint a revocation event carries, or undefined when the payload is not one. */
export function revokedIdOf(payload: Uint8Array): string | undefined {
  return payload.length === 32 ? Buffer.from(payload).toString('hex') : undefined;
}

/** A revoked member's gossip endpoint, to be cut at this gateway's firewall. */
export interface RevokedEndpoint {
  address: string;
  port: number;
  /** This gateway's own gossip port, whose traffic from the endpoint is dropped. */
  localPort: number;
}

/**
 * The gossip endpoints of revoked members, for the firewall. Loopback ones
 * are left out: on loopback every test gateway shares the address, and a
 * rule would cut them all.
 */
export function revokedEndpoints(view: ViewState, revoked: ReadonlySet<string>, localPort: number): RevokedEndpoint[] {
  const out: RevokedEndpoint[] = [];
  for (const m of view.members.values()) {
    if (m.tags === null || !revoked.has(m.tags.id)) continue;
    const hp = parseHostPort(m.serfAddr);
    if (hp === undefined || hp.host === '::1' || hp.host.startsWith('127.')) continue;
    out.push({ address: hp.host, port: hp.port, localPort });
  }
  return out;
}
