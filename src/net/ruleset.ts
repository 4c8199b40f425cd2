// Renders hearth's whole firewall for one gateway as one nftables script,
// applied with `nft -f -` in a single transaction. The script first creates
// and deletes hearth's two tables, so applying it always replaces whatever an
// earlier plan left: the same plan twice gives the same ruleset, and a sliver
// gone from the plan leaves no element or rule behind.
//
// - bridge family table: slivers on one bridge talk at layer 2, so slice
//   isolation lives here. Frames between two sliver ports pass only for
//   same-slice pairs, and a port may only send IPv4/ARP from its own address.
//   The kernel here has no `meta ibrname`, so the rules name hearth's ports
//   through sets rather than the bridge: frames between two ports unknown to
//   the plan are not filtered, which is why the agent applies a plan that
//   holds a sliver's port before it starts the sliver.
// - inet family table: NAT out, port forwards (DNAT), and the protection of
//   the host: from the bridge only replies and pings reach the host.
//
// Both tables carry a comment naming the gateway, its bridge and subnet
// (claims.ts), so a gateway starting on the same host can tell them apart
// from its own and refuse to replace them.
//
// Pure. Must never: touch a table other than hearth's, or use a policy
// other than accept on a base chain (other firewalls on the host keep their say).

import { isIP } from 'node:net';
import { HearthError } from '../model/errors.js';
import { renderTableMarker } from './claims.js';
import { nftChain, nftQuote, nftReplaceTables, nftSet } from './nft-script.js';
import { isLinkName, validateLinkName, validateTableName } from './names.js';
import { isSliverAddress, parseIPv4, parseSubnet } from './pool.js';
import type { BlockedPeer, NetworkPlan, PortForward, SliverNetworkInit, SliverPort } from './types.js';

/**
 * The packet mark bit hearth sets on forwarded (DNAT'ed) packets that come
 * from the bridge, so the bridge table can let a sliver use a forward that
 * lands on a sliver of another slice. Chosen clear of the bits used by
 * kube-proxy (0xc000), Cilium (0x0f00), Calico's default mask (0xffff0000),
 * Tailscale (0xff0000) and WireGuard's usual fwmark (0xca6c).
 */
export const FORWARDED_MARK = 0x1000;

/** The script that replaces hearth's firewall with the one for `plan`. */
export function renderRuleset(init: SliverNetworkInit, plan: NetworkPlan): string {
  validateLinkName('bridge', init.bridge);
  validateTableName(init.table);
  const subnet = parseSubnet(init.subnet);
  const ports = [...plan.ports].sort((a, b) => compare(a.hostVeth, b.hostVeth));
  validatePorts(init.subnet, ports);
  const forwards = [...plan.forwards].sort((a, b) => compare(a.proto, b.proto) || a.hostPort - b.hostPort);
  validateForwards(init.subnet, forwards);

  const br = nftQuote(init.bridge);
  const mark = hex(FORWARDED_MARK);
  const t = init.table;
  const pairs = sameSlicePairs(ports);
  const dnat = forwards.map((f) => `${f.proto} dport ${f.hostPort} dnat ip to ${f.address}:${f.port}`);
  const blocked = [...(plan.blocked ?? [])].sort((a, b) => compare(a.address, b.address) || a.port - b.port);
  validateBlocked(blocked);
  const family = (address: string): string => (address.includes(':') ? 'ip6' : 'ip');
  const marker = `  comment ${nftQuote(renderTableMarker(init))}`;

  return [
    `# hearth firewall for bridge ${init.bridge}, subnet ${subnet.cidr} (generated; replaces both hearth tables atomically)`,
    ...nftReplaceTables(t, ['bridge', 'inet']),
    '',
    `table bridge ${t} {`,
    marker,
    nftSet('ports', 'type ifname', ports.map((p) => nftQuote(p.hostVeth))),
    nftSet('port_addrs', 'type ifname . ipv4_addr', ports.map((p) => `${nftQuote(p.hostVeth)} . ${p.address}`)),
    nftSet('same_slice_ports', 'type ifname . ifname', pairs.map(([a, b]) => `${nftQuote(a.hostVeth)} . ${nftQuote(b.hostVeth)}`)),
    // Frames a sliver sends with another address never enter the bridge: no
    // spoofing another slice's address or the gateway's.
    nftChain('prerouting', 'type filter hook prerouting priority filter; policy accept;', [
      'iifname @ports ether type ip iifname . ip saddr != @port_addrs drop',
      'iifname @ports ether type arp iifname . arp saddr ip != @port_addrs drop',
    ]),
    // Flooded frames pass this hook once per output port, so ARP and
    // broadcasts are held to the slice too. Frames to or from the bridge
    // device itself (the host) are not forwarded and never reach this chain.
    // With br_netfilter, a forward from one sliver to another is switched
    // here rather than routed; the inet table marked it (no conntrack here).
    nftChain('forward', 'type filter hook forward priority filter; policy accept;', [
      'iifname . oifname @same_slice_ports accept',
      `meta mark & ${mark} == ${mark} accept`,
      'iifname @ports drop',
      'oifname @ports drop',
    ]),
    '}',
    '',
    `table inet ${t} {`,
    marker,
    nftSet('same_slice_addrs', 'type ipv4_addr . ipv4_addr', pairs.map(([a, b]) => `${a.address} . ${b.address}`)),
    // Covers every host address at once, the API's included: from the bridge
    // only replies to the host's own connections and pings get in.
    nftChain('input', 'type filter hook input priority filter; policy accept;', [
      `iifname ${br} ct state established,related accept`,
      `iifname ${br} icmp type echo-request accept`,
      `iifname ${br} drop`,
    ]),
    // Bridge to bridge is either a sliver routing through the host to dodge
    // the bridge rules, or a frame br_netfilter passes up from the bridge:
    // the slice rule applies the same way. A hairpin to a forwarded port is fine.
    nftChain('forward', 'type filter hook forward priority filter; policy accept;', [
      `iifname ${br} oifname ${br} ip saddr . ip daddr @same_slice_addrs accept`,
      `iifname ${br} oifname ${br} ct status dnat accept`,
      `iifname ${br} oifname ${br} drop`,
      `iifname ${br} accept`,
      `oifname ${br} ct state established,related accept`,
      `oifname ${br} ct status dnat accept`,
      `oifname ${br} drop`,
    ]),
    nftChain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat.map((r) => `fib daddr type local ${r}`)),
    // Runs after DNAT, both ways of a forwarded connection. Only the bridge
    // table reads the bit; it is OR-ed in so other users of the mark keep theirs.
    nftChain('mark_forwarded', 'type filter hook prerouting priority -90; policy accept;', [
      `iifname ${br} ct status dnat meta mark set meta mark | ${mark}`,
    ]),
    // The host's own connections to a forward. Loopback is left out: a packet
    // from 127.0.0.1 cannot leave through the bridge unless route_localnet is
    // set, which would also let slivers address the host's loopback services.
    nftChain('output', 'type nat hook output priority -100; policy accept;', dnat.map((r) => `ip daddr != 127.0.0.0/8 fib daddr type local ${r}`)),
    nftChain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
      `ip saddr ${subnet.cidr} oifname != ${br} masquerade`,
      // A sliver reaching a forward to a sliver on the same bridge: without
      // this the reply would go straight back at layer 2 and miss the un-DNAT.
      `oifname ${br} ip saddr ${subnet.cidr} ct status dnat masquerade`,
    ]),
    // Revoked gateways: everything they send to the gossip (their acks and
    // refutations, their state exchanges) is dropped on the way in, so our
    // probes go unanswered and they fall out of the membership everywhere.
    // Outgoing packets are left alone on purpose: a send refused locally
    // (EPERM) makes memberlist skip the probe instead of counting it failed.
    nftChain('gossip_in', 'type filter hook input priority filter - 10; policy accept;', blocked.flatMap((b) => [
      `${family(b.address)} saddr ${b.address} meta l4proto { tcp, udp } th sport ${b.port} drop`,
      `${family(b.address)} saddr ${b.address} meta l4proto { tcp, udp } th dport ${b.localPort} drop`,
    ])),
    '}',
    '',
  ].join('\n');
}

function validatePorts(subnet: string, ports: readonly SliverPort[]): void {
  const veths = new Set<string>();
  const addresses = new Set<string>();
  for (const p of ports) {
    if (!isLinkName(p.hostVeth)) {
      throw new HearthError('network_error', `sliver ${p.sliverId}: invalid host veth name ${JSON.stringify(p.hostVeth)}`);
    }
    if (!isSliverAddress(subnet, p.address)) {
      throw new HearthError('network_error', `sliver ${p.sliverId}: address ${JSON.stringify(p.address)} is not a sliver address of ${subnet}`);
    }
    if (veths.has(p.hostVeth)) throw new HearthError('network_error', `host veth ${p.hostVeth} appears twice in the plan`);
    if (addresses.has(p.address)) throw new HearthError('network_error', `address ${p.address} appears twice in the plan`);
    veths.add(p.hostVeth);
    addresses.add(p.address);
  }
}

function validateBlocked(blocked: readonly BlockedPeer[]): void {
  for (const b of blocked) {
    const v4 = parseIPv4(b.address) !== undefined;
    const v6 = !v4 && isIP(b.address) === 6;
    const port = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;
    if ((!v4 && !v6) || !port(b.port) || !port(b.localPort)) {
      throw new HearthError('network_error', `blocked peer ${JSON.stringify(b)} is not an address and two ports`);
    }
  }
}

function validateForwards(subnet: string, forwards: readonly PortForward[]): void {
  const seen = new Set<string>();
  for (const f of forwards) {
    if (f.proto !== 'tcp' && f.proto !== 'udp') throw new HearthError('network_error', `unknown protocol ${JSON.stringify(f.proto)}`);
    if (!isPort(f.hostPort) || !isPort(f.port)) {
      throw new HearthError('network_error', `forward ${f.proto} ${f.hostPort} → ${f.port}: ports must be integers 1-65535`);
    }
    if (!isSliverAddress(subnet, f.address)) {
      throw new HearthError('network_error', `forward ${f.proto} ${f.hostPort}: ${JSON.stringify(f.address)} is not a sliver address of ${subnet}`);
    }
    const key = `${f.proto}/${f.hostPort}`;
    if (seen.has(key)) throw new HearthError('port_taken', `host port ${key} is forwarded twice`, { proto: f.proto, hostPort: f.hostPort });
    seen.add(key);
  }
}

/** Every ordered pair of distinct ports in the same slice. */
function sameSlicePairs(ports: readonly SliverPort[]): [SliverPort, SliverPort][] {
  const pairs: [SliverPort, SliverPort][] = [];
  for (const a of ports) {
    for (const b of ports) {
      if (a !== b && a.slice === b.slice) pairs.push([a, b]);
    }
  }
  return pairs;
}


function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
