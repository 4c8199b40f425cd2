// The sliver subnet and its address pool: parsing an IPv4 CIDR, the gateway
// address (the first host) and the lowest free sliver address.
// Pure: no I/O, no clock, no randomness. Must never: hand out the network,
// gateway or broadcast address.

import { HearthError } from '../model/errors.js';

export interface Subnet {
  /** Canonical CIDR text, e.g. 10.213.0.0/24. */
  readonly cidr: string;
  /** Network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefixLength: number;
  /** Broadcast address as an unsigned 32-bit number. */
  readonly broadcast: number;
}

// A /16 is the largest pool worth scanning; a /29 still leaves five slivers.
export const MIN_PREFIX_LENGTH = 16;
export const MAX_PREFIX_LENGTH = 29;

const OCTET_RE = /^(?:0|[1-9][0-9]{0,2})$/;

/** The address as an unsigned 32-bit number, or undefined if it is not dotted-quad IPv4. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET_RE.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Parse a sliver subnet; host bits must be zero and the prefix within /16../29. */
export function parseSubnet(cidr: string): Subnet {
  const slash = cidr.indexOf('/');
  const address = parseIPv4(slash < 0 ? cidr : cidr.slice(0, slash));
  const prefixText = slash < 0 ? '' : cidr.slice(slash + 1);
  if (address === undefined || !/^[0-9]{1,2}$/.test(prefixText)) {
    throw new HearthError('invalid_request', `${JSON.stringify(cidr)} is not an IPv4 subnet like 10.213.0.0/24`, { field: 'subnet' });
  }
  const prefixLength = Number(prefixText);
  if (prefixLength < MIN_PREFIX_LENGTH || prefixLength > MAX_PREFIX_LENGTH) {
    throw new HearthError(
      'invalid_request',
      `subnet ${cidr} must have a prefix length between /${MIN_PREFIX_LENGTH} and /${MAX_PREFIX_LENGTH}`,
      { field: 'subnet' },
    );
  }
  const size = 2 ** (32 - prefixLength);
  const network = address - (address % size);
  if (network !== address) {
    throw new HearthError('invalid_request', `subnet ${cidr} has host bits set; did you mean ${formatIPv4(network)}/${prefixLength}?`, {
      field: 'subnet',
    });
  }
  return { cidr: `${formatIPv4(network)}/${prefixLength}`, network, prefixLength, broadcast: network + size - 1 };
}

/** The bridge's address: the first host of the subnet (.1 of a /24). */
export function gatewayAddress(subnet: string): string {
  return formatIPv4(parseSubnet(subnet).network + 1);
}

/** True if the address may be given to a sliver: inside the subnet, not network, gateway or broadcast. */
export function isSliverAddress(subnet: string, address: string): boolean {
  const s = parseSubnet(subnet);
  const value = parseIPv4(address);
  return value !== undefined && value > s.network + 1 && value < s.broadcast;
}

/** The lowest sliver address not in `used`, or undefined when the pool is exhausted. */
export function allocateAddress(subnet: string, used: ReadonlySet<string>): string | undefined {
  const s = parseSubnet(subnet);
  const taken = new Set<number>();
  for (const address of used) {
    const value = parseIPv4(address);
    if (value !== undefined) taken.add(value);
  }
  for (let value = s.network + 2; value < s.broadcast; value++) {
    if (!taken.has(value)) return formatIPv4(value);
  }
  return undefined;
}
