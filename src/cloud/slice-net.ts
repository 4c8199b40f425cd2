// A slice's private network, decided by every gateway alone from what it
// already agrees on (the slice's incarnation and placement), with no
// coordinator and nothing to allocate: each slice is a VXLAN segment of its
// own, carried between gateways inside their WireGuard tunnels, so every
// slice can use the same address plan without meeting another. A sliver's
// addresses and MAC follow from its index, so a healed or re-placed sliver
// comes back with the same ones and its peers' neighbour caches stay right.
// Pure. Must never: give two indexes of a slice one address or MAC, give a
// segment the id 0, or make a gateway a peer of a slice it does not share.

import { createHash } from 'node:crypto';
import { sliverNameOf } from '../model/slice.js';

/** The IPv4 /24 every slice network uses; sliver index i is `.(i + 2)` (index ≤ 253). */
export const SLICE_NET_V4_PREFIX = '100.72.0.';
export const SLICE_NET_V4_BITS = 24;
/** The IPv6 /64 every slice network uses; sliver index i is `::(i + 2)` in hex. */
export const SLICE_NET_V6_PREFIX = 'fd68:6561:7274:5::';
export const SLICE_NET_V6_BITS = 64;
/** The /64 gateways' tunnel addresses come from (one /128 each). */
const GATEWAY_V6_PREFIX = 'fd68:6561:7274:ffff';
export const MAX_SLICE_NET_INDEX = 253;
/** Domain under which slivers find each other by name. */
export const SLICE_DOMAIN = 'hearth';

export interface SliverNetAddresses {
  ipv4: string;
  ipv6: string;
  mac: string;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The slice's VXLAN network id: 24 bits of SHA-256 over its user, name and
 * incarnation, never 0. Two slices may share one (2^24 ids); a gateway must
 * then not host both, which is enough, since a segment only reaches the
 * gateways of its own slice's placement.
 */
export function sliceVni(user: string, name: string, incarnation: string): number {
  const vni = sha256(`${user}\0${name}\0${incarnation}`).readUIntBE(0, 3);
  return vni === 0 ? 1 : vni;
}

/** Addresses and MAC of sliver `index` of the slice with network id `vni`. */
export function sliverNetAddresses(vni: number, index: number): SliverNetAddresses {
  if (!Number.isInteger(index) || index < 0 || index > MAX_SLICE_NET_INDEX) throw new RangeError(`sliver index ${index} is outside 0..${MAX_SLICE_NET_INDEX}`);
  if (!Number.isInteger(vni) || vni < 1 || vni >= 2 ** 24) throw new RangeError(`network id ${vni} is outside 1..2^24-1`);
  const host = index + 2;
  // Locally administered unicast (0x0a), the network id, then the index.
  const bytes = [0x0a, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0x00, index];
  return {
    ipv4: `${SLICE_NET_V4_PREFIX}${host}`,
    ipv6: `${SLICE_NET_V6_PREFIX}${host.toString(16)}`,
    mac: bytes.map((b) => b.toString(16).padStart(2, '0')).join(':'),
  };
}

/** A gateway's address inside the tunnels: a /128 from 64 bits of SHA-256 over its id (its certificate's fingerprint). */
export function gatewayTunnelAddress(gatewayId: string): string {
  const h = sha256(`hearth gateway\0${gatewayId}`);
  const groups = [0, 2, 4, 6].map((o) => h.readUInt16BE(o).toString(16));
  return `${GATEWAY_V6_PREFIX}:${groups.join(':')}`;
}

/** The hosts file every sliver of a slice gets: each sliver by its name and as NAME.SLICE.hearth, IPv4 and IPv6. */
export function sliceHostsFile(slice: string, vni: number, slivers: number): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost'];
  for (let i = 0; i < slivers; i++) {
    const name = sliverNameOf(slice, i);
    const a = sliverNetAddresses(vni, i);
    lines.push(`${a.ipv4}\t${name}.${slice}.${SLICE_DOMAIN} ${name}`, `${a.ipv6}\t${name}.${slice}.${SLICE_DOMAIN} ${name}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface SliceNetInput {
  vni: number;
  /** Sliver index → gateway (member name), as the slice's records have converged. */
  placement: Readonly<Record<string, string>>;
}

export interface SliceSegment {
  vni: number;
  /** The other gateways of the slice that this one floods the segment to, by name, sorted. */
  remotes: string[];
}

export interface SliceNetPlan {
  /** One per slice this gateway hosts a sliver of. */
  segments: SliceSegment[];
  /** Every gateway this one needs a tunnel to: the union of the segments' remotes, sorted. */
  tunnels: string[];
}

/**
 * What `self` must set up: a segment for each slice it hosts a sliver of,
 * flooding to the slice's other gateways that may carry it (alive and not
 * revoked: `reachable`), and a tunnel to each of those gateways, and no more.
 */
export function planSliceNets(self: string, slices: readonly SliceNetInput[], reachable: (member: string) => boolean): SliceNetPlan {
  const segments: SliceSegment[] = [];
  const tunnels = new Set<string>();
  for (const slice of slices) {
    const gateways = new Set(Object.values(slice.placement));
    if (!gateways.has(self)) continue;
    const remotes = [...gateways].filter((g) => g !== self && reachable(g)).sort();
    for (const r of remotes) tunnels.add(r);
    segments.push({ vni: slice.vni, remotes });
  }
  segments.sort((a, b) => a.vni - b.vni);
  return { segments, tunnels: [...tunnels].sort() };
}
