// The firewall of one gateway's slice networks, as one nftables script that
// replaces its two tables in a single transaction (as ruleset.ts does for the
// gateway bridge). It holds three promises of the slice networks:
// - a sliver sends on its slice network only from its own MAC and its own
//   addresses (IPv4, its IPv6 address, and link-local or unspecified for
//   neighbour discovery), answers neighbour discovery only for its own
//   address, and sends nothing but IPv4, IPv6 and ARP: no spoofing another
//   sliver, another slice, or the gateway, and no VLAN tags to slip past the
//   checks;
// - nothing from a slice network reaches the gateway itself: frames a slice
//   bridge would deliver to the host, from a sliver or from the segment's
//   VXLAN device, are dropped, so neither the tunnel's ports nor any other
//   service of the gateway (or, through it, of other gateways) is reachable
//   from a slice;
// - VXLAN over IPv6 is taken only from inside the WireGuard interface, and
//   only for the segments the sending gateway shares with this one: no
//   outsider, and no other member, can inject frames into a slice network.
// The kernel here has neither `meta ibrname` nor `icmpv6 taddr`: ports are
// named through sets, and a neighbour advertisement's target is read raw.
// Pure render, plus a small shell that applies it in the gateway's namespace.
// Must never: touch a table other than its own, or use a policy other than
// accept on a base chain (other firewalls on the host keep their say).

import { isIP } from 'node:net';
import { HearthError } from '../model/errors.js';
import { validateLinkName, validateTableName } from './names.js';
import { namespaceRunner } from './netns-run.js';
import { nftChain, nftQuote, nftReplaceTables, nftSet } from './nft-script.js';
import { VXLAN_PORT } from './slice-segments.js';
import type { NetOpOptions } from './types.js';

export interface SliceFirewallInit {
  /** nft table name, one per gateway (the testbed's gateways share a kernel only per namespace, but names still differ). */
  table: string;
  /** The WireGuard interface: the only way in for the segments' VXLAN. */
  tunnel: string;
  /** Starts the name of every segment VXLAN device of this gateway. */
  vxlanPrefix: string;
  /** The gateway's network namespace under /var/run/netns; its own when absent. */
  namespace?: string;
}

/** A sliver's end of a slice network, as the gateway sees it. */
export interface SlicePort {
  hostVeth: string;
  mac: string;
  ipv4: string;
  ipv6: string;
}

/** A gateway that may send this one the VXLAN of segment `vni`, from its tunnel address. */
export interface SegmentPeer {
  address: string;
  vni: number;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The script that makes the slice-network firewall exactly the one for these ports and peers. */
export function renderSliceFirewall(init: SliceFirewallInit, ports: readonly SlicePort[], peers: readonly SegmentPeer[]): string {
  validateTableName(init.table);
  validateLinkName('interface', init.tunnel);
  if (!/^[a-z0-9]{1,12}$/.test(init.vxlanPrefix)) {
    throw new HearthError('network_error', `VXLAN prefix ${JSON.stringify(init.vxlanPrefix)} must be 1-12 lower-case letters and digits`);
  }
  const sorted = [...ports].sort((a, b) => a.hostVeth.localeCompare(b.hostVeth));
  validatePorts(sorted);
  for (const p of peers) {
    if (isIP(p.address) !== 6 || !Number.isInteger(p.vni) || p.vni < 1 || p.vni >= 2 ** 24) {
      throw new HearthError('network_error', `segment peer ${JSON.stringify(p)} is not an IPv6 address and a network id`);
    }
  }
  const t = init.table;
  const each = <T>(list: readonly T[], f: (x: T) => string): string[] => list.map(f);
  const peerElems = [...new Set(peers.map((p) => `${p.address} . 0x${p.vni.toString(16).padStart(6, '0')}`))].sort();
  return [
    `# hearth slice-network firewall (generated; replaces both of its tables atomically)`,
    ...nftReplaceTables(t, ['bridge', 'inet']),
    '',
    `table bridge ${t} {`,
    nftSet('ports', 'type ifname', each(sorted, (p) => nftQuote(p.hostVeth))),
    nftSet('port_macs', 'type ifname . ether_addr', each(sorted, (p) => `${nftQuote(p.hostVeth)} . ${p.mac}`)),
    nftSet('port_v4', 'type ifname . ipv4_addr', each(sorted, (p) => `${nftQuote(p.hostVeth)} . ${p.ipv4}`)),
    nftSet('port_v6', 'type ifname . ipv6_addr', each(sorted, (p) => `${nftQuote(p.hostVeth)} . ${p.ipv6}`)),
    // The same addresses as raw 128-bit integers, to compare with a neighbour advertisement's target.
    nftSet('port_nd', 'typeof iifname . @th,64,128', each(sorted, (p) => `${nftQuote(p.hostVeth)} . ${ipv6Hex(p.ipv6)}`)),
    nftChain('prerouting', 'type filter hook prerouting priority filter; policy accept;', [
      'iifname @ports ether type != { ip, ip6, arp } drop',
      'iifname @ports iifname . ether saddr != @port_macs drop',
      'iifname @ports ether type ip iifname . ip saddr != @port_v4 drop',
      'iifname @ports ether type arp iifname . arp saddr ip != @port_v4 drop',
      'iifname @ports ether type arp iifname . arp saddr ether != @port_macs drop',
      'iifname @ports ether type ip6 ip6 saddr != { ::, fe80::/10 } iifname . ip6 saddr != @port_v6 drop',
      'iifname @ports icmpv6 type nd-neighbor-advert @th,64,16 != 0xfe80 iifname . @th,64,128 != @port_nd drop',
    ]),
    // What a slice bridge hands up to the gateway itself.
    nftChain('input', 'type filter hook input priority filter; policy accept;', [
      'iifname @ports drop',
      `iifname ${nftQuote(`${init.vxlanPrefix}*`)} drop`,
    ]),
    '}',
    '',
    `table inet ${t} {`,
    nftSet('segment_peers', 'typeof ip6 saddr . @th,96,24', peerElems),
    nftChain('input', 'type filter hook input priority filter; policy accept;', [
      `meta nfproto ipv6 udp dport ${VXLAN_PORT} iifname != ${nftQuote(init.tunnel)} drop`,
      `meta nfproto ipv6 udp dport ${VXLAN_PORT} ip6 saddr . @th,96,24 != @segment_peers drop`,
    ]),
    '}',
    '',
  ].join('\n');
}

export interface SliceFirewall {
  /** Replaces the firewall with the one for these ports and peers, in one transaction. */
  apply(ports: readonly SlicePort[], peers: readonly SegmentPeer[], opts?: NetOpOptions): Promise<void>;
}

export function createSliceFirewall(init: SliceFirewallInit): SliceFirewall {
  const gw = namespaceRunner(init.namespace);
  return {
    async apply(ports, peers, opts = {}) {
      await gw.runChecked(['nft', '-f', '-'], { input: renderSliceFirewall(init, ports, peers), ...opts });
    },
  };
}

function validatePorts(ports: readonly SlicePort[]): void {
  const seen = new Set<string>();
  for (const p of ports) {
    validateLinkName('veth', p.hostVeth);
    if (!MAC_RE.test(p.mac) || isIP(p.ipv4) !== 4 || isIP(p.ipv6) !== 6) {
      throw new HearthError('network_error', `slice port ${JSON.stringify(p)} needs a lower-case MAC, an IPv4 and an IPv6 address`);
    }
    if (seen.has(p.hostVeth)) throw new HearthError('network_error', `slice port ${p.hostVeth} appears twice`);
    seen.add(p.hostVeth);
  }
}

/** An IPv6 address as the 0x-prefixed 32 hex digits nft compares raw payload with. */
export function ipv6Hex(address: string): string {
  const [head = '', tail] = address.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `0x${all.map((g) => g.padStart(4, '0')).join('')}`;
}
