// The MTU of the link a gateway talks to the community on, which the slice
// networks' tunnel and segments must fit inside (slice-segments.ts
// sliceMtus): a tunnel sized for a 1500-byte link on a smaller one has every
// full packet fragmented.
// Must never: fail the caller for an address it cannot place; it answers
// the Ethernet default instead.

import { isIP } from 'node:net';
import { runToolChecked } from './run.js';
import type { NetOpOptions } from './types.js';

/** Ethernet's MTU: what an address on no known link, or a wildcard, gets. */
export const ETHERNET_MTU = 1500;

interface AddrInfo { ifname: string; mtu: number; addr_info?: { local?: string }[] }

/** The MTU of the interface holding `address` in this namespace. */
export async function mtuOfAddress(address: string, opts: NetOpOptions = {}): Promise<number> {
  if (isIP(address) === 0 || address === '0.0.0.0' || address === '::') return ETHERNET_MTU;
  const out = await runToolChecked('ip', ['-j', 'addr', 'show'], opts);
  const links = JSON.parse(out.stdout === '' ? '[]' : out.stdout) as AddrInfo[];
  const link = links.find((l) => (l.addr_info ?? []).some((a) => a.local === address));
  return link?.mtu ?? ETHERNET_MTU;
}
