// How a user names a testbed gateway on the command line: `gw3`, `3`, or the
// namespace name `<prefix>gw3`; and partitions written as groups of such
// names separated by `/` (`gw1,gw2/gw3,gw4`).
// Must never: do I/O; it only parses and checks against the gateway count.

import { HearthError } from '../model/errors.js';

/** The gateway's hearth name (also its data dir's name); namespaces add the testbed's prefix. */
export function gatewayName(gateway: number): string {
  return `gw${gateway}`;
}

/** Gateway number (1-based) that `ref` names in a testbed of `gateways` gateways with `prefix`. */
export function parseGatewayRef(ref: string, gateways: number, prefix: string): number {
  const text = ref.trim();
  const match = /^(?:gw)?(\d+)$/.exec(text) ?? (prefix !== '' && text.startsWith(prefix) ? /^gw(\d+)$/.exec(text.slice(prefix.length)) : null);
  const gateway = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(gateway) || gateway < 1 || gateway > gateways) {
    throw new HearthError('invalid_request', `no gateway "${ref}" in this testbed (gateways are gw1..gw${gateways}, or their numbers 1..${gateways})`);
  }
  return gateway;
}

/**
 * `gw1,gw2/gw3` → [[1, 2], [3]]. Gateways named in no group form one more
 * group, so `gw1` alone cuts gw1 off from the rest; a gateway may appear once.
 */
export function parsePartition(spec: string, gateways: number, prefix: string): number[][] {
  const groups = spec.split('/').map((group) => group.split(',').filter((ref) => ref.trim() !== '').map((ref) => parseGatewayRef(ref, gateways, prefix)));
  if (groups.some((group) => group.length === 0)) {
    throw new HearthError('invalid_request', `partition "${spec}" must be non-empty groups of gateways separated by "/", e.g. gw1,gw2/gw3`);
  }
  const seen = new Set<number>();
  for (const gateway of groups.flat()) {
    if (seen.has(gateway)) throw new HearthError('invalid_request', `${gatewayName(gateway)} is in more than one group of "${spec}"`);
    seen.add(gateway);
  }
  if (groups.length === 1 && seen.size === gateways) throw new HearthError('invalid_request', `partition "${spec}" puts every gateway in one group, which cuts nothing`);
  return groups;
}
