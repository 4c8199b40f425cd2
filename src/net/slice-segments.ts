// The data plane of slice networks on one gateway. Each slice this gateway
// hosts a sliver of is a VXLAN segment (the slice's network id) over the
// gateway's WireGuard interface, so it leaves the gateway only encrypted; a
// bridge joins the segment and the slice's slivers; and the segment floods
// (head-end replication, no multicast) to exactly the slice's other
// gateways, by their tunnel addresses. A sliver joins by a second veth whose
// inner end, in the sliver's network namespace, is `eth1` with the slice
// address and MAC its index gives it. The gateway's ends (bridge, VXLAN
// device, host veths) have no address, not even IPv6 link-local, so the
// gateway says nothing into a slice network; slice-firewall.ts makes sure
// nothing from one reaches the gateway.
// Must never: touch a link whose name does not carry this gateway's prefix,
// or leave an FDB flood entry to a gateway the desired segment does not name.

import { HearthError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { validateLinkName } from './names.js';
import { namespaceRunner, pathRunner } from './netns-run.js';
import type { NetOpOptions } from './types.js';

/** VXLAN's IANA port. */
export const VXLAN_PORT = 4789;
/** The slice MTU on a 1500-byte community link: WireGuard's 1420 less VXLAN over IPv6 (40 + 8 + 8 bytes) and the inner Ethernet header's 14. */
export const SLICE_NET_MTU = 1350;
/** WireGuard over IPv6 (the worst case): 40 + 8 bytes of IP and UDP, 32 of WireGuard. */
const WG_OVERHEAD = 80;
/** VXLAN over IPv6 inside the tunnel, and the inner Ethernet header. */
const VXLAN_OVERHEAD = 70;
/** The tunnel carries IPv6, which needs links of at least 1280 bytes; WireGuard's usual 1420 is the most it gets. */
const MIN_TUNNEL_MTU = 1280;
const MAX_TUNNEL_MTU = 1420;

/**
 * The tunnel's and the slice links' MTU on a community link of `underlay`
 * bytes, so that a full slice frame leaves the gateway as one datagram. On a
 * link below 1360 the tunnel stays at IPv6's 1280 and its datagrams are
 * fragmented on the way.
 */
export function sliceMtus(underlay: number): { tunnel: number; slice: number } {
  const tunnel = Math.max(MIN_TUNNEL_MTU, Math.min(MAX_TUNNEL_MTU, Math.floor(underlay) - WG_OVERHEAD));
  return { tunnel, slice: tunnel - VXLAN_OVERHEAD };
}
const ALL_ZERO_MAC = '00:00:00:00:00:00';
const MAX_PREFIX = 6;

export interface Segment {
  vni: number;
  /** Tunnel addresses of the slice's other gateways. */
  remotes: readonly string[];
}

export interface SegmentPort {
  vni: number;
  /** The veth end left on the gateway, plugged into the segment's bridge. */
  hostVeth: string;
  /** The sliver's network namespace: a /proc/PID/ns/net or /var/run/netns path. */
  netns: string;
  mac: string;
  /** With prefix length, e.g. 100.72.0.2/24 and fd68:6561:7274:5::2/64. */
  addresses: readonly string[];
}

export interface SliceSegmentsInit {
  /** Starts every link name this gateway makes (≤ 6 characters; the testbed's gateways share a host). */
  prefix: string;
  /** The WireGuard interface the segments ride on. */
  underlay: string;
  /** This gateway's tunnel address, the segments' source. */
  local: string;
  /** The MTU of the segments' links and of the slivers' eth1 (default SLICE_NET_MTU; see sliceMtus). */
  mtu?: number;
  /** The gateway's network namespace under /var/run/netns; its own when absent. */
  namespace?: string;
  log?: Logger;
}

export interface SliceSegments {
  /** Makes the segments exactly `segments`: missing ones made, flood lists set, others removed. */
  apply(segments: readonly Segment[], opts?: NetOpOptions): Promise<void>;
  /** Plugs a sliver into its segment (which `apply` made); idempotent. */
  attach(port: SegmentPort, opts?: NetOpOptions): Promise<void>;
  /** Unplugs a sliver; an absent veth is fine. */
  detach(hostVeth: string, opts?: NetOpOptions): Promise<void>;
  /** Removes every segment of this gateway. */
  teardown(opts?: NetOpOptions): Promise<void>;
  /** The names of the gateway namespace's links, in one call (to see which slivers are still plugged in). */
  linkNames(opts?: NetOpOptions): Promise<Set<string>>;
}

/** The VXLAN device and bridge of segment `vni` under `prefix`. */
export function segmentLinks(prefix: string, vni: number): { vxlan: string; bridge: string } {
  const hex = vni.toString(16).padStart(6, '0');
  return { vxlan: `${prefix}x${hex}`, bridge: `${prefix}b${hex}` };
}

/** What to add to and remove from a segment's flood list to make it `want`. */
export function floodDiff(have: readonly string[], want: readonly string[]): { add: string[]; remove: string[] } {
  return { add: want.filter((r) => !have.includes(r)), remove: have.filter((r) => !want.includes(r)) };
}

interface LinkInfo { ifname: string; linkinfo?: { info_kind?: string; info_data?: { id?: number } } }
interface FdbEntry { mac: string; dst?: string }

export function createSliceSegments(init: SliceSegmentsInit): SliceSegments {
  const { prefix, underlay, local, log } = init;
  const mtu = String(init.mtu ?? SLICE_NET_MTU);
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix) || prefix.length > MAX_PREFIX) {
    throw new HearthError('invalid_request', `segment prefix ${JSON.stringify(prefix)} must be 1-${MAX_PREFIX} lower-case letters and digits`, { field: 'prefix' });
  }
  validateLinkName('interface', underlay);
  const gw = namespaceRunner(init.namespace);

  /** This gateway's VXLAN segments as the kernel has them: network id → device name. */
  const existing = async (opts: NetOpOptions): Promise<Map<number, string>> => {
    const out = await gw.runChecked(['ip', '-j', '-d', 'link', 'show', 'type', 'vxlan'], opts);
    const links = JSON.parse(out.stdout === '' ? '[]' : out.stdout) as LinkInfo[];
    const mine = new Map<number, string>();
    for (const l of links) {
      const id = l.linkinfo?.info_data?.id;
      if (id !== undefined && l.ifname === segmentLinks(prefix, id).vxlan) mine.set(id, l.ifname);
    }
    return mine;
  };

  const floodList = async (vxlan: string, opts: NetOpOptions): Promise<string[]> => {
    const out = await gw.runChecked(['bridge', '-j', 'fdb', 'show', 'dev', vxlan], opts);
    const entries = JSON.parse(out.stdout === '' ? '[]' : out.stdout) as FdbEntry[];
    return entries.filter((e) => e.mac === ALL_ZERO_MAC && e.dst !== undefined).map((e) => e.dst as string);
  };

  const linkExists = async (name: string, opts: NetOpOptions): Promise<boolean> =>
    (await gw.run(['ip', 'link', 'show', 'dev', name], opts)).exitCode === 0;

  /** No IPv6 link-local address on the gateway's own ends of a segment: the gateway says nothing into a slice network. */
  const quiet = async (name: string, opts: NetOpOptions): Promise<void> => {
    await gw.runChecked(['ip', 'link', 'set', 'dev', name, 'addrgenmode', 'none'], opts);
  };

  const make = async (vni: number, opts: NetOpOptions): Promise<void> => {
    const { vxlan, bridge } = segmentLinks(prefix, vni);
    if (!(await linkExists(bridge, opts))) {
      await gw.runChecked(['ip', 'link', 'add', bridge, 'mtu', mtu, 'type', 'bridge'], opts);
      await quiet(bridge, opts);
    }
    if (!(await linkExists(vxlan, opts))) {
      await gw.runChecked(['ip', 'link', 'add', vxlan, 'mtu', mtu, 'type', 'vxlan', 'id', String(vni),
        'local', local, 'dev', underlay, 'dstport', String(VXLAN_PORT), 'nolearning'], opts);
      await quiet(vxlan, opts);
    }
    // The MTU again, for a segment made by a gateway whose community link has changed since.
    await gw.runChecked(['ip', 'link', 'set', 'dev', vxlan, 'master', bridge, 'mtu', mtu, 'up'], opts);
    await gw.runChecked(['ip', 'link', 'set', 'dev', bridge, 'mtu', mtu, 'up'], opts);
  };

  const drop = async (vni: number, opts: NetOpOptions): Promise<void> => {
    const { vxlan, bridge } = segmentLinks(prefix, vni);
    for (const name of [vxlan, bridge]) {
      const r = await gw.run(['ip', 'link', 'del', 'dev', name], opts);
      if (r.exitCode !== 0 && !/cannot find device/i.test(r.stderr)) log?.warn({ link: name, stderr: r.stderr.trim() }, 'could not remove a slice segment link');
    }
  };

  return {
    async apply(segments, opts = {}) {
      const want = new Map(segments.map((s) => [s.vni, s]));
      const have = await existing(opts);
      for (const vni of have.keys()) {
        if (!want.has(vni)) {
          await drop(vni, opts);
          log?.info({ vni }, 'slice segment removed');
        }
      }
      for (const seg of want.values()) {
        await make(seg.vni, opts);
        const { vxlan } = segmentLinks(prefix, seg.vni);
        const { add, remove } = floodDiff(await floodList(vxlan, opts), seg.remotes);
        for (const dst of remove) await gw.runChecked(['bridge', 'fdb', 'del', ALL_ZERO_MAC, 'dev', vxlan, 'dst', dst], opts);
        for (const dst of add) await gw.runChecked(['bridge', 'fdb', 'append', ALL_ZERO_MAC, 'dev', vxlan, 'dst', dst], opts);
        if (add.length + remove.length > 0) log?.info({ vni: seg.vni, remotes: seg.remotes }, 'slice segment flood list set');
      }
    },

    async attach(port, opts = {}) {
      validateLinkName('veth', port.hostVeth);
      const { bridge } = segmentLinks(prefix, port.vni);
      if (!(await linkExists(port.hostVeth, opts))) {
        // Made with a temporary peer name in the gateway's namespace, then moved and renamed inside the sliver's.
        const inner = `${port.hostVeth.slice(0, 13)}.i`;
        await gw.runChecked(['ip', 'link', 'add', port.hostVeth, 'mtu', mtu, 'type', 'veth', 'peer', 'name', inner], opts);
        await quiet(port.hostVeth, opts);
        await gw.runChecked(['ip', 'link', 'set', 'dev', inner, 'netns', port.netns], opts);
        const sliver = pathRunner(port.netns);
        await sliver.runChecked(['ip', 'link', 'set', 'dev', inner, 'name', 'eth1', 'address', port.mac, 'mtu', mtu], opts);
        for (const a of port.addresses) {
          await sliver.runChecked(['ip', 'addr', 'add', a, 'dev', 'eth1', ...(a.includes(':') ? ['nodad'] : [])], opts);
        }
        await sliver.runChecked(['ip', 'link', 'set', 'dev', 'eth1', 'up'], opts);
      }
      await gw.runChecked(['ip', 'link', 'set', 'dev', port.hostVeth, 'master', bridge, 'up'], opts);
    },

    async detach(hostVeth, opts = {}) {
      const r = await gw.run(['ip', 'link', 'del', 'dev', hostVeth], opts);
      if (r.exitCode !== 0 && !/cannot find device/i.test(r.stderr)) {
        throw new HearthError('network_error', `removing ${hostVeth} failed: ${r.stderr.trim()}`, { link: hostVeth });
      }
    },

    async teardown(opts = {}) {
      for (const vni of (await existing(opts)).keys()) await drop(vni, opts);
    },

    async linkNames(opts = {}) {
      const out = await gw.runChecked(['ip', '-j', 'link', 'show'], opts);
      return new Set((JSON.parse(out.stdout === '' ? '[]' : out.stdout) as LinkInfo[]).map((l) => l.ifname));
    },
  };
}
