// The community's service directory as the gossip carries it. Each gateway
// is the only authority on its own services: it announces the healthy ones
// of its slivers, gossips a digest of that list in its tags, and whoever
// sees the digest change pulls the list over the peer API
// (cloud/anti-entropy.ts decides when). The directory a gateway answers
// with is its own list plus the last list pulled from every member that is
// alive now, so a failed gateway's services go with its failure.
// Pure. Must never: trust a pulled entry it did not check, or list a member
// that is not alive.

import { createHash } from 'node:crypto';
import { parseHostPort, formatHost } from '../model/host-port.js';
import { SERVICE_TYPES, type ServiceProtocol, type ServiceType } from '../model/service.js';
import type { NodeRow } from '../overlay/view.js';

/** Tag digest of a gateway's announced services. */
export const SERVICES_DIGEST = 'sv';
export const SERVICES_PATH = '/peer/v1/services';
/** More than a gateway can announce (slivers × services a sliver); a longer pulled list is cut. */
export const MAX_ANNOUNCED = 2048;

/** One healthy service of a gateway's sliver, as the gateway announces it. */
export interface Announcement {
  name: string;
  type: ServiceType;
  protocol: ServiceProtocol;
  /** Where the gateway forwards it, on its community address. */
  hostPort: number;
  sliver: string;
  slice: string;
}

/** A directory entry: an announcement, the gateway that made it, and where to reach the service. */
export interface DirectoryEntry extends Announcement {
  gateway: string;
  /** host:port on the gateway's community address ([v6]:port for IPv6). */
  address: string;
  /** Estimated RTT from the gateway answering, by Vivaldi coordinates; 0 for its own. */
  rttMs: number | null;
}

export interface DirectoryQuery {
  type?: ServiceType;
  /** Nearest first by RTT (unknown RTTs last); otherwise by type, name, gateway. */
  near?: boolean;
}

const order = (a: Announcement): string => `${a.type} ${a.name} ${a.sliver} ${a.protocol} ${a.hostPort} ${a.slice}`;

/** The first 11 base64url characters of SHA-256 over the sorted entries; none when nothing is announced. */
export function servicesDigest(list: readonly Announcement[]): string | undefined {
  if (list.length === 0) return undefined;
  return createHash('sha256').update(list.map(order).sort().join('\n')).digest('base64url').slice(0, 11);
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;

/** The well-formed announcements in a list another member sent; anything else in it is dropped. */
export function readAnnouncements(body: unknown): Announcement[] {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  const out: Announcement[] = [];
  for (const raw of items.slice(0, MAX_ANNOUNCED) as Record<string, unknown>[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const { name, type, protocol, hostPort, sliver, slice } = raw;
    if (typeof name !== 'string' || !LABEL.test(name) || typeof sliver !== 'string' || !LABEL.test(sliver) || typeof slice !== 'string' || !LABEL.test(slice)) continue;
    if (typeof type !== 'string' || !(SERVICE_TYPES as readonly string[]).includes(type)) continue;
    if (protocol !== 'tcp' && protocol !== 'udp') continue;
    if (typeof hostPort !== 'number' || !Number.isInteger(hostPort) || hostPort < 1 || hostPort > 65535) continue;
    out.push({ name, type: type as ServiceType, protocol, hostPort, sliver, slice });
  }
  return out;
}

/**
 * The directory: `own` (this gateway's, always listed) and every alive,
 * unrevoked member's pulled list, addressed at the member's gossip host.
 */
export function listDirectory(
  own: readonly Announcement[],
  pulled: ReadonlyMap<string, readonly Announcement[]>,
  rows: readonly NodeRow[],
  query: DirectoryQuery = {},
): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  for (const row of rows) {
    const list = row.self ? own : row.status === 'alive' && !row.revoked ? pulled.get(row.name) : undefined;
    const host = parseHostPort(row.serfAddr)?.host;
    if (list === undefined || host === undefined) continue;
    for (const a of list) {
      if (query.type !== undefined && a.type !== query.type) continue;
      entries.push({ ...a, gateway: row.name, address: `${formatHost(host)}:${a.hostPort}`, rttMs: row.rttMs });
    }
  }
  const byName = (a: DirectoryEntry, b: DirectoryEntry): number => order(a).localeCompare(order(b)) || a.gateway.localeCompare(b.gateway);
  if (query.near !== true) return entries.sort(byName);
  return entries.sort((a, b) => (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) || byName(a, b));
}
