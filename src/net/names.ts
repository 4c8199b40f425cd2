// Names that net/ passes to the kernel and splices into nft scripts: link
// names and nft table names. Pure. Must never: accept a character that
// would need quoting in an nft script or an ip argument.

import { createHash } from 'node:crypto';
import { HearthError } from '../model/errors.js';

// IFNAMSIZ is 16 with the terminating NUL; the character set is narrower than
// the kernel's so a name is always safe inside an nft string literal.
const LINK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const TABLE_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

export function isLinkName(name: string): boolean {
  return LINK_NAME_RE.test(name);
}

export function validateLinkName(kind: string, name: string): void {
  if (!isLinkName(name)) {
    throw new HearthError('invalid_request', `${kind} ${JSON.stringify(name)} must be 1-15 letters, digits, '_', '.' or '-'`, { field: kind });
  }
}

export function validateTableName(name: string): void {
  if (!TABLE_NAME_RE.test(name)) {
    throw new HearthError('invalid_request', `nft table name ${JSON.stringify(name)} must be a letter then up to 31 letters, digits or '_'`, {
      field: 'table',
    });
  }
}

/** The bridge a gateway gets when its owner names none; its table keeps the historic name. */
export const DEFAULT_BRIDGE = 'hearth0';
export const DEFAULT_TABLE = 'hearth';

/**
 * The nft table for a gateway on `bridge` when its owner names none. Tables
 * are per network namespace, so two gateways on one host must not share one:
 * each bridge gets its own ('hearth_' + the bridge, '-' and '.' as '_'), and
 * the default bridge keeps 'hearth' so existing gateways keep their table.
 * Two bridges that differ only in '-', '.' or '_' map to one table; the
 * clash check at init and start refuses the second.
 */
export function defaultTableName(bridge: string): string {
  validateLinkName('bridge', bridge);
  return bridge === DEFAULT_BRIDGE ? DEFAULT_TABLE : `hearth_${bridge.replace(/[-.]/g, '_')}`;
}

/**
 * The host side of a sliver's veth: 'hv' + 13 hex digits of SHA-256(id).
 * Hashed rather than cut from the id so that ids sharing a prefix (time-ordered
 * ids do) still get distinct names, whatever characters the id holds.
 */
export function hostVethName(sliverId: string): string {
  return `hv${createHash('sha256').update(sliverId).digest('hex').slice(0, 13)}`;
}

/**
 * A sliver's eth0 MAC: locally administered, unicast (first byte 06, apart
 * from the 0a of slice networks' MACs), then 40 bits of SHA-256(id). Fixed
 * at creation so the gateway's shaper can tell the sliver's frames by it.
 */
export function sliverMac(sliverId: string): string {
  const hex = `06${createHash('sha256').update(`hearth eth0\0${sliverId}`).digest('hex').slice(0, 10)}`;
  return hex.match(/../g)?.join(':') ?? hex;
}
