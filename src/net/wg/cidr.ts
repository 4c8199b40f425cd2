// IPv4 and IPv6 addresses and prefixes in one canonical text, so that what
// hearth asks of WireGuard and what `wg` and `ip` print back compare equal:
// lower-case IPv6 with the longest run of zero groups compressed (RFC 5952),
// and allowed-IP prefixes with their host bits cleared, as WireGuard stores
// them. Pure. Must never: accept a scope id, a hostname or a prefix longer
// than the address.

import { isIP } from 'node:net';
import { parseIPv4 } from '../pool.js';

interface Parsed {
  /** 4 or 16 bytes. */
  bytes: number[];
  prefixLength: number;
}

function parseIPv6(text: string): number[] | undefined {
  if (isIP(text) !== 6 || text.includes('%')) return undefined;
  const halves = text.split('::');
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  return all.flatMap((g) => [g >>> 8, g & 0xff]);
}

function parseAddressBytes(text: string): number[] | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return [v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff];
  return parseIPv6(text);
}

function parse(text: string, prefixRequired: boolean): Parsed | undefined {
  const slash = text.indexOf('/');
  if (slash < 0 && prefixRequired) return undefined;
  const bytes = parseAddressBytes(slash < 0 ? text : text.slice(0, slash));
  if (bytes === undefined) return undefined;
  if (slash < 0) return { bytes, prefixLength: bytes.length * 8 };
  const lengthText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
  const prefixLength = Number(lengthText);
  return prefixLength <= bytes.length * 8 ? { bytes, prefixLength } : undefined;
}

function formatBytes(bytes: readonly number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  // The first longest run of at least two zero groups becomes '::'.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

function masked(bytes: readonly number[], prefixLength: number): number[] {
  return bytes.map((byte, i) => {
    const keep = Math.min(8, Math.max(0, prefixLength - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

/** A bare IPv4 or IPv6 address in canonical form; undefined if it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddressBytes(text);
  return parsed === undefined ? undefined : formatBytes(parsed);
}

/**
 * An allowed-IPs entry as WireGuard keeps it: the network of `address/len`
 * (a bare address is a /32 or /128). Undefined if it is neither.
 */
export function canonicalPrefix(text: string): string | undefined {
  const parsed = parse(text, false);
  if (parsed === undefined) return undefined;
  return `${formatBytes(masked(parsed.bytes, parsed.prefixLength))}/${parsed.prefixLength}`;
}

/** An interface address `address/len`, host bits kept; undefined without a length or if malformed. */
export function canonicalInterfaceAddress(text: string): string | undefined {
  const parsed = parse(text, true);
  if (parsed === undefined) return undefined;
  return `${formatBytes(parsed.bytes)}/${parsed.prefixLength}`;
}
