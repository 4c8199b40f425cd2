// Peer addresses as they travel in gossip: "host:port", with IPv6 hosts in
// brackets ("[fd00::1]:7443", as Go's net.JoinHostPort writes them). Pure.
// Must never: resolve names or open sockets.

import { isIP } from 'node:net';

export interface PeerAddress {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses "10.1.2.3:7443", "[fd00::1]:7443" or "gw.example:7443"; undefined if malformed. */
export function parsePeerAddress(text: string): PeerAddress | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const [, v6, name, portText] = match;
  const port = Number(portText);
  if (!(port >= 1 && port <= 65535)) return undefined;
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  return name === undefined ? undefined : { host: name, port };
}

export function formatPeerAddress({ host, port }: PeerAddress): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
