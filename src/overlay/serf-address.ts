// Address forms Serf speaks: `host:port` with IPv4 or bracketed IPv6
// (`[::1]:7373`), and member IPs as raw 4- or 16-byte strings (Go's net.IP).
// Must never: resolve names or touch the network.

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `1.2.3.4:7946` or `[::1]:7946`; returns undefined for anything else. */
export function parseHostPort(address: string): HostPort | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (host === undefined || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** Joins a host and port the way Serf expects them (IPv6 in brackets). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Formats Go's net.IP bytes; IPv4-mapped IPv6 comes out as dotted IPv4, IPv6 compressed per RFC 5952. */
export function formatIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return undefined;
  const isMapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return bytes.subarray(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
