// What the gateways of this network namespace hold (nft tables, bridges,
// sliver subnets), read back from the kernel's own state, and whether one
// gateway's network clashes with another's. Each gateway marks its two
// tables with a comment naming its id, bridge and subnet, so a start can tell
// its own tables from another gateway's; tables written before the marker are
// recognised by hearth's rules. Nothing else records "another gateway runs
// here": the kernel state is the one thing every gateway on the host shares.
// Pure: parses `nft -t list ruleset` and `ip -j -4 addr show`; sliver-net.ts
// runs the tools. Must never: call a table hearth's that neither a marker nor
// hearth's rules claim.

import { HearthError } from '../model/errors.js';
import { validateLinkName } from './names.js';
import { parseIPv4, parseSubnet } from './pool.js';
import type { SliverNetworkInit } from './types.js';

/** How much of the gateway id a marker keeps: nft comments hold 128 bytes. */
export const MARKER_ID_LENGTH = 16;
const MARKER_ID_RE = /^[0-9a-f]+$/;

/** A gateway's network, as its config says, and its id when it has one: what the sliver network is made from. */
export type GatewayNetwork = SliverNetworkInit;

/** An nft table name in use in this namespace, in either family. */
export interface TableClaim {
  table: string;
  /** Set when the table is hearth's (marker or rules), else the table is someone else's. */
  bridge?: string;
  subnet?: string;
  /** The marker's id prefix; absent for tables written before markers, or by a network without an id. */
  gatewayId?: string;
}

/** An IPv4 address on a link of this namespace. */
export interface AddressClaim {
  link: string;
  address: string;
  prefixLength: number;
}

export interface NetworkClaims {
  tables: TableClaim[];
  addresses: AddressClaim[];
}

export interface ClashOptions {
  /**
   * `hearth init`: the gateway has no network state yet, so nothing in the
   * namespace is its own, even a table with its exact table, bridge and subnet.
   */
  fresh?: boolean;
}

/** The comment on both of a gateway's tables: `hearth gateway=<id> bridge=<bridge> subnet=<cidr>`. */
export function renderTableMarker(network: Omit<GatewayNetwork, 'table'>): string {
  validateLinkName('bridge', network.bridge);
  const subnet = parseSubnet(network.subnet).cidr;
  const id = network.gatewayId === undefined ? '' : ` gateway=${markerId(network.gatewayId)}`;
  return `hearth${id} bridge=${network.bridge} subnet=${subnet}`;
}

/** The fields of a table comment written by renderTableMarker, or undefined for any other comment. */
export function parseTableMarker(comment: string): Omit<TableClaim, 'table'> | undefined {
  const m = /^hearth(?: gateway=([0-9a-f]{1,64}))? bridge=(\S+) subnet=(\S+)$/.exec(comment);
  if (m === null) return undefined;
  return { ...(m[1] === undefined ? {} : { gatewayId: m[1] }), bridge: m[2] as string, subnet: m[3] as string };
}

/** The tables of `nft -t list ruleset` (or `nft list ruleset`), one claim per table name. */
export function parseNftTables(listing: string): TableClaim[] {
  interface Seen {
    marker?: Omit<TableClaim, 'table'> | undefined;
    legacyBridge?: string | undefined;
    legacySubnet?: string | undefined;
  }
  const byName = new Map<string, Seen>();
  let current: { family: string; seen: Seen } | undefined;
  for (const line of listing.split('\n')) {
    const start = /^table (\S+) (\S+) \{$/.exec(line);
    if (start !== null) {
      const name = start[2] as string;
      const seen = byName.get(name) ?? {};
      byName.set(name, seen);
      current = { family: start[1] as string, seen };
      continue;
    }
    if (current === undefined) continue;
    if (line === '}') {
      current = undefined;
      continue;
    }
    // The table's own comment sits one tab in; chains' and sets' sit deeper.
    const comment = /^\tcomment "(.*)"$/.exec(line);
    if (comment !== null) {
      current.seen.marker ??= parseTableMarker(comment[1] as string);
      continue;
    }
    // Before markers, hearth's inet table named its bridge in every rule and
    // its subnet in the masquerade rule; nothing else writes both.
    if (current.family !== 'inet') continue;
    current.seen.legacyBridge ??= /^\t\tiifname "([^"]+)" /.exec(line)?.[1];
    current.seen.legacySubnet ??= /^\t\tip saddr (\S+) oifname != "[^"]+" masquerade$/.exec(line)?.[1];
  }
  return [...byName].map(([table, seen]) => {
    if (seen.marker !== undefined) return { table, ...seen.marker };
    if (seen.legacyBridge !== undefined && seen.legacySubnet !== undefined) {
      return { table, bridge: seen.legacyBridge, subnet: seen.legacySubnet };
    }
    return { table };
  });
}

/** The IPv4 addresses of `ip -j -4 addr show`. */
export function parseAddresses(json: string): AddressClaim[] {
  const text = json.trim();
  if (text === '') return [];
  const links = JSON.parse(text) as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
  return links.flatMap((link) =>
    (link.addr_info ?? [])
      .filter((a) => a.family === 'inet' && typeof a.local === 'string' && typeof a.prefixlen === 'number')
      .map((a) => ({ link: link.ifname ?? '', address: a.local as string, prefixLength: a.prefixlen as number })),
  );
}

/**
 * The reason `self` may not run here, or undefined: another gateway's table
 * under the same name, another gateway on the same bridge, or a subnet that
 * overlaps another gateway's or an address in use on another link. Checked
 * in that order, so the message names the first thing an owner must change.
 */
export function findNetworkClash(self: GatewayNetwork, claims: NetworkClaims, opts: ClashOptions = {}): HearthError | undefined {
  const subnet = parseSubnet(self.subnet);
  const ownId = self.gatewayId === undefined ? undefined : markerId(self.gatewayId);
  const isOwn = (c: TableClaim): boolean => {
    if (opts.fresh === true) return false;
    if (c.gatewayId !== undefined && ownId !== undefined) return c.gatewayId === ownId;
    // Without two ids to compare (tables from before markers): the same network is ours.
    return c.table === self.table && c.bridge === self.bridge && c.subnet !== undefined && sameRange(c.subnet, subnet.cidr);
  };
  const others = claims.tables.filter((c) => !isOwn(c));
  const remedy = 'give this gateway another bridge, subnet and nft table (hearth init --bridge, --subnet, --nft-table, or network in config.json)';
  const describe = (c: TableClaim): string =>
    `another hearth gateway${c.gatewayId === undefined ? '' : ` (id ${c.gatewayId}…)`} on this host (nft table ${c.table}, bridge ${c.bridge ?? '?'}, subnet ${c.subnet ?? '?'})`;
  const other = (c: TableClaim): Record<string, unknown> => ({
    other: { table: c.table, bridge: c.bridge, subnet: c.subnet, ...(c.gatewayId === undefined ? {} : { gateway: c.gatewayId }) },
  });

  const table = others.find((c) => c.table === self.table);
  if (table !== undefined) {
    const owner = table.bridge === undefined ? 'something other than hearth on this host' : describe(table);
    return new HearthError('name_taken', `nft table ${self.table} is used by ${owner}; ${remedy}`, { field: 'table', table: self.table, ...other(table) });
  }
  const bridge = others.find((c) => c.bridge === self.bridge);
  if (bridge !== undefined) {
    return new HearthError('name_taken', `bridge ${self.bridge} is used by ${describe(bridge)}; ${remedy}`, { field: 'bridge', bridge: self.bridge, ...other(bridge) });
  }
  const foreign = claims.addresses.find((a) => a.link === self.bridge && !inRange(a.address, subnet.cidr));
  if (foreign !== undefined) {
    return new HearthError(
      'name_taken',
      `bridge ${self.bridge} already has address ${foreign.address}/${foreign.prefixLength}, outside subnet ${subnet.cidr}: another gateway or network uses it; ${remedy}`,
      { field: 'bridge', bridge: self.bridge, address: `${foreign.address}/${foreign.prefixLength}` },
    );
  }
  const overlapping = others.find((c) => c.subnet !== undefined && overlaps(c.subnet, subnet.cidr));
  if (overlapping !== undefined) {
    return new HearthError('subnet_taken', `subnet ${subnet.cidr} overlaps ${overlapping.subnet ?? ''} of ${describe(overlapping)}; ${remedy}`, {
      field: 'subnet', subnet: subnet.cidr, ...other(overlapping),
    });
  }
  const address = claims.addresses.find((a) => a.link !== self.bridge && inRange(a.address, subnet.cidr));
  if (address !== undefined) {
    return new HearthError('subnet_taken', `subnet ${subnet.cidr} holds ${address.address}, already on link ${address.link}; ${remedy}`, {
      field: 'subnet', subnet: subnet.cidr, link: address.link, address: address.address,
    });
  }
  return undefined;
}

function markerId(id: string): string {
  const lower = id.toLowerCase();
  if (!MARKER_ID_RE.test(lower)) throw new HearthError('invalid_request', `gateway id ${JSON.stringify(id)} is not hex`, { field: 'gatewayId' });
  return lower.slice(0, MARKER_ID_LENGTH);
}

/** [first, last] address of an IPv4 CIDR as numbers; undefined for anything else (a claim may hold any text). */
function rangeOf(cidr: string): [number, number] | undefined {
  const [address, prefix] = cidr.split('/');
  const value = parseIPv4(address ?? '');
  const length = Number(prefix);
  if (value === undefined || !/^[0-9]{1,2}$/.test(prefix ?? '') || length > 32) return undefined;
  const size = 2 ** (32 - length);
  const first = value - (value % size);
  return [first, first + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [ra, rb] = [rangeOf(a), rangeOf(b)];
  return ra !== undefined && rb !== undefined && ra[0] <= rb[1] && rb[0] <= ra[1];
}

function sameRange(a: string, b: string): boolean {
  const [ra, rb] = [rangeOf(a), rangeOf(b)];
  return ra !== undefined && rb !== undefined && ra[0] === rb[0] && ra[1] === rb[1];
}

function inRange(address: string, cidr: string): boolean {
  const value = parseIPv4(address);
  const range = rangeOf(cidr);
  return value !== undefined && range !== undefined && value >= range[0] && value <= range[1];
}
