// The addressing plan of the emulated community network: which underlay and
// community address each gateway and the link emulator get.
//   underlay (root bridge + one veth per gateway): emulator = network + 1,
//     gateway i = network + 1 + i;
//   community (VXLAN device inside gateway i's namespace): gateway i = network + i.
// Must never: do I/O.

import { HearthError } from '../model/errors.js';

export interface Subnet {
  /** Dotted IPv4 network address, e.g. 172.30.0.0. */
  network: string;
  prefixLength: number;
}

export const DEFAULT_UNDERLAY: Subnet = { network: '172.30.0.0', prefixLength: 16 };
export const DEFAULT_COMMUNITY: Subnet = { network: '10.99.0.0', prefixLength: 16 };

function parseIpv4(address: string): number {
  const parts = address.split('.');
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) {
    throw new HearthError('invalid_request', `"${address}" is not an IPv4 address`);
  }
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The address `offset` hosts into `subnet`; throws when it would be the broadcast address or beyond. */
export function hostAddress(subnet: Subnet, offset: number): string {
  const { prefixLength } = subnet;
  if (!Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
    throw new HearthError('invalid_request', `prefix length ${prefixLength} is not in 8..30`);
  }
  const size = 2 ** (32 - prefixLength);
  const network = parseIpv4(subnet.network);
  if (network % size !== 0) throw new HearthError('invalid_request', `${subnet.network}/${prefixLength} is not a network address`);
  if (!Number.isInteger(offset) || offset < 1 || offset >= size - 1) {
    throw new HearthError('invalid_request', `${subnet.network}/${prefixLength} has no host number ${offset}`);
  }
  return formatIpv4(network + offset);
}

export function emulatorUnderlayAddress(underlay: Subnet): string {
  return hostAddress(underlay, 1);
}

export function gatewayUnderlayAddress(underlay: Subnet, gateway: number): string {
  return hostAddress(underlay, 1 + gateway);
}

export function gatewayCommunityAddress(community: Subnet, gateway: number): string {
  return hostAddress(community, gateway);
}

/** A locally administered unicast MAC (02:68:62:…) carrying the gateway number, readable in captures. */
export function gatewayMac(gateway: number): string {
  return ['02', '68', '62', ...[16, 8, 0].map((shift) => ((gateway >>> shift) & 0xff).toString(16).padStart(2, '0'))].join(':');
}
