// The peer set of a WireGuard interface as a desired state: validating the
// peers hearth wants, comparing them with what `wg show dump` reports, and
// the one `wg set` argument list that turns the one into the other (removals
// first, so an allowed IP moving from a dropped peer to a new one ends up
// with the new one). Pure. Must never: produce arguments for a peer that
// failed validation, or let one allowed IP belong to two peers (WireGuard
// would silently give it to the last, and every reconcile would flip it).

import { HearthError } from '../../model/errors.js';
import { formatHostPort, type HostPort } from '../../model/host-port.js';
import { canonicalAddress, canonicalPrefix } from './cidr.js';
import type { WgDump } from './dump.js';
import { validateWgKey } from './keys.js';

export interface WgPeer {
  publicKey: string;
  /** An IP address (no hostname: wg would resolve it, and retry for a minute when DNS fails) and its UDP port. */
  endpoint: HostPort;
  /** Prefixes routed to this peer and accepted from it, e.g. 10.252.0.2/32. */
  allowedIps: readonly string[];
  /**
   * Seconds between keepalives when idle (1..65535), which hold a NAT
   * mapping open; off when absent. Turning it on sends one at once, so a
   * gateway whose daemon restarted (sessions lost) handshakes with its peers
   * as soon as they are set, instead of waiting for their sessions to time out.
   */
  persistentKeepalive?: number;
}

export interface PeerDiff {
  add: WgPeer[];
  /** Peers whose endpoint, allowed IPs or keepalive differ from the interface's. */
  update: WgPeer[];
  /** Public keys of the peers to drop. */
  remove: string[];
}

function invalid(detail: string, field: string): HearthError {
  return new HearthError('invalid_request', detail, { field });
}

/** The peers in canonical form (addresses as cidr.ts writes them); throws invalid_request. */
export function normalizePeers(peers: readonly WgPeer[]): WgPeer[] {
  const keys = new Set<string>();
  const owners = new Map<string, string>();
  return peers.map((peer, i) => {
    validateWgKey(`peers[${i}].publicKey`, peer.publicKey);
    if (keys.has(peer.publicKey)) throw invalid(`peer ${peer.publicKey} is listed twice`, `peers[${i}].publicKey`);
    keys.add(peer.publicKey);
    const host = canonicalAddress(peer.endpoint.host);
    const { port } = peer.endpoint;
    if (host === undefined) throw invalid(`peer ${peer.publicKey}: endpoint host ${JSON.stringify(peer.endpoint.host)} is not an IP address`, `peers[${i}].endpoint`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`peer ${peer.publicKey}: endpoint port ${port} is not in 1..65535`, `peers[${i}].endpoint`);
    const allowedIps = peer.allowedIps.map((entry) => {
      const prefix = canonicalPrefix(entry);
      if (prefix === undefined) throw invalid(`peer ${peer.publicKey}: allowed IP ${JSON.stringify(entry)} is not an address or prefix`, `peers[${i}].allowedIps`);
      const owner = owners.get(prefix);
      if (owner !== undefined && owner !== peer.publicKey) throw invalid(`allowed IP ${prefix} is given to two peers`, `peers[${i}].allowedIps`);
      owners.set(prefix, peer.publicKey);
      return prefix;
    });
    const keepalive = peer.persistentKeepalive;
    if (keepalive !== undefined && (!Number.isInteger(keepalive) || keepalive < 1 || keepalive > 65535)) {
      throw invalid(`peer ${peer.publicKey}: persistent keepalive ${keepalive} is not in 1..65535 seconds`, `peers[${i}].persistentKeepalive`);
    }
    const normal: WgPeer = { publicKey: peer.publicKey, endpoint: { host, port }, allowedIps: [...new Set(allowedIps)].sort() };
    return keepalive === undefined ? normal : { ...normal, persistentKeepalive: keepalive };
  });
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/**
 * What must change for the interface in `observed` to have exactly the
 * peers `desired` (canonical, see normalizePeers). The interface's own key
 * cannot be its peer: WireGuard would drop it, and the diff never settle.
 */
export function diffPeers(desired: readonly WgPeer[], observed: WgDump): PeerDiff {
  const current = new Map(observed.peers.map((p) => [p.publicKey, p]));
  const diff: PeerDiff = { add: [], update: [], remove: [] };
  for (const peer of desired) {
    if (peer.publicKey === observed.publicKey) throw invalid(`peer ${peer.publicKey} is the interface's own key`, 'peers');
    const now = current.get(peer.publicKey);
    if (now === undefined) diff.add.push(peer);
    else if (
      now.endpoint?.host !== peer.endpoint.host ||
      now.endpoint.port !== peer.endpoint.port ||
      !sameSet(now.allowedIps, peer.allowedIps) ||
      now.persistentKeepalive !== peer.persistentKeepalive
    ) {
      diff.update.push(peer);
    }
  }
  const wanted = new Set(desired.map((p) => p.publicKey));
  diff.remove = observed.peers.filter((p) => !wanted.has(p.publicKey)).map((p) => p.publicKey);
  return diff;
}

export function isEmptyDiff(diff: PeerDiff): boolean {
  return diff.add.length + diff.update.length + diff.remove.length === 0;
}

/** The arguments after `wg set IF` that apply `diff` in one transaction; [] when there is nothing to do. */
export function peerArgs(diff: PeerDiff): string[] {
  return [
    ...diff.remove.flatMap((key) => ['peer', key, 'remove']),
    ...[...diff.add, ...diff.update].flatMap((p) => [
      'peer', p.publicKey,
      'endpoint', formatHostPort(p.endpoint),
      'allowed-ips', p.allowedIps.join(','),
      'persistent-keepalive', String(p.persistentKeepalive ?? 'off'),
    ]),
  ];
}
