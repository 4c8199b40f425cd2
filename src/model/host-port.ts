// `host:port` as hearth reads and writes it everywhere (Serf's bind, RPC,
// join and member addresses; the peer API address in gossip): IPv4, a DNS
// name, or IPv6 in brackets as Go's net.JoinHostPort writes it
// ("[fd00::1]:7946"). Pure.
// Must never: resolve names or touch the network.

import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** Parses "10.1.2.3:7443", "[fd00::1]:7443" or "gw.example:7443"; undefined if malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const match = HOST_PORT.exec(text);
  if (match === null) return undefined;
  const [, v6, name, portText] = match;
  const port = Number(portText);
  if (!(port >= 1 && port <= 65535)) return undefined;
  // Brackets hold an IPv6 address and nothing else ("[10.1.2.3]" is refused).
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  return name === undefined ? undefined : { host: name, port };
}

/** The host as it stands before `:port`: an IPv6 address in brackets, anything else as it is. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function formatHostPort({ host, port }: HostPort): string {
  return `${formatHost(host)}:${port}`;
}
