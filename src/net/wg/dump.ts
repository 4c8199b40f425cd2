// Reading `wg show IF dump` (wg(8)): one tab-separated line for the
// interface (private key, public key, listen port, fwmark), then one per
// peer (public key, preshared key, endpoint, allowed IPs, latest handshake in
// seconds since the epoch or 0, bytes received, bytes sent, persistent
// keepalive or "off"). Pure. Must never: keep or repeat the private key
// (the first field), not even in an error.

import { HearthError } from '../../model/errors.js';
import { parseHostPort, type HostPort } from '../../model/host-port.js';
import { canonicalAddress, canonicalPrefix } from './cidr.js';
import { isWgKey } from './keys.js';

export interface WgPeerStatus {
  publicKey: string;
  /** Where the peer was last heard from, or was set to; undefined when never known. */
  endpoint: HostPort | undefined;
  /** Canonical prefixes (see cidr.ts). */
  allowedIps: string[];
  /** Milliseconds since the epoch of the latest handshake; undefined if none yet. */
  latestHandshakeMs: number | undefined;
  rxBytes: number;
  txBytes: number;
  /** Seconds; undefined when off. */
  persistentKeepalive: number | undefined;
}

export interface WgDump {
  /** The interface's public key; undefined while it has no private key. */
  publicKey: string | undefined;
  listenPort: number;
  peers: WgPeerStatus[];
}

const NONE = '(none)';

function malformed(line: number, why: string): HearthError {
  return new HearthError('network_error', `wg show dump, line ${line}: ${why}`);
}

function count(text: string, line: number, field: string): number {
  if (!/^\d{1,15}$/.test(text)) throw malformed(line, `${field} is not a count`);
  return Number(text);
}

function key(text: string, line: number, field: string): string {
  if (!isWgKey(text)) throw malformed(line, `${field} is not a key`);
  return text;
}

function parseEndpoint(text: string, line: number): HostPort | undefined {
  if (text === NONE) return undefined;
  const hp = parseHostPort(text);
  const host = hp === undefined ? undefined : canonicalAddress(hp.host);
  if (hp === undefined || host === undefined) throw malformed(line, `endpoint ${JSON.stringify(text)} is not address:port`);
  return { host, port: hp.port };
}

function parseAllowedIps(text: string, line: number): string[] {
  if (text === NONE) return [];
  return text.split(',').map((entry) => {
    const prefix = canonicalPrefix(entry);
    if (prefix === undefined) throw malformed(line, `allowed IP ${JSON.stringify(entry)} is not a prefix`);
    return prefix;
  });
}

function parsePeer(fields: string[], line: number): WgPeerStatus {
  if (fields.length !== 8) throw malformed(line, `a peer line has 8 fields, not ${fields.length}`);
  const [publicKey, , endpoint, allowedIps, handshake, rx, tx, keepalive] = fields as [string, string, string, string, string, string, string, string];
  const handshakeSeconds = count(handshake, line, 'latest handshake');
  return {
    publicKey: key(publicKey, line, 'public key'),
    endpoint: parseEndpoint(endpoint, line),
    allowedIps: parseAllowedIps(allowedIps, line),
    latestHandshakeMs: handshakeSeconds === 0 ? undefined : handshakeSeconds * 1000,
    rxBytes: count(rx, line, 'bytes received'),
    txBytes: count(tx, line, 'bytes sent'),
    persistentKeepalive: keepalive === 'off' ? undefined : count(keepalive, line, 'persistent keepalive'),
  };
}

export function parseDump(text: string): WgDump {
  const lines = text.split('\n').filter((l) => l !== '');
  const first = lines[0]?.split('\t');
  if (first === undefined || first.length !== 4) throw malformed(1, 'the interface line has 4 fields');
  const [, publicKey, port] = first as [string, string, string, string];
  return {
    publicKey: publicKey === NONE ? undefined : key(publicKey, 1, 'public key'),
    listenPort: count(port, 1, 'listen port'),
    peers: lines.slice(1).map((l, i) => parsePeer(l.split('\t'), i + 2)),
  };
}
