// The compact encoding of what a gateway gossips in its Serf tags. Serf
// carries at most 512 bytes of tags per member (msgpack-encoded map), so each
// field is short and fixed in shape; anything larger travels over peer/ and
// only its digest is gossiped. Pure: decode never throws, it says why not.
// Must never: put unbounded data (lists of services, slices) in a tag.

import { encode } from '@msgpack/msgpack';
import type { ResourceVector } from '../model/resources.js';
import { ZONE_PATTERN, type OwnerMode } from '../model/policy.js';

/** Serf's limit on the encoded tags of one member. */
export const SERF_TAG_LIMIT = 512;
/** The hearth tag-format version; members with another are not hearth gateways we understand. */
export const TAG_FORMAT = '1';

/**
 * How long a publish gathers changes before it sends them as one update. Serf
 * answers a tags call once its update has gone out (1.5-1.9 s at 100 gateways
 * on `wan`) and the next one only then: a new host whose event loop came back
 * from a stall sent its free resources, its slices digest and its services
 * digest as three calls within 3 ms, and the services digest went out 3 s
 * after the heal (bench run AX, session 30). Each update also makes every
 * member read this one again.
 */
export const PUBLISH_GATHER_MS = 50;

export type { OwnerMode };
const MODE_CODES: Record<OwnerMode, string> = { production: 'p', safe: 's', drain: 'd' };

export interface GatewayTags {
  /** Identity fingerprint: 64 lower-case hex characters. */
  id: string;
  /** Peer API address, host:port ([v6]:port for IPv6). */
  api: string;
  contributed: ResourceVector;
  free: ResourceVector;
  mode: OwnerMode;
  version: string;
  /** Digests of data too large for tags (e.g. services), by short name; pulled over peer/ when they change. */
  digests: Record<string, string>;
  /** Where the owner says the gateway stands (a neighbourhood), for spreading slices; null when unset. */
  zone: string | null;
  /** Who may use the gateway, in brief: a per-user quota of slivers, and whether only listed users may. */
  access: { quota: number | null; allowlist: boolean };
}

export const MAX_VERSION_LENGTH = 24;
export const MAX_DIGESTS = 4;
export const MAX_DIGEST_NAME = 4;
export const DIGEST_LENGTH = 11;
/** Longest API address: a full IPv6 address in brackets and a port. */
export const MAX_API_LENGTH = 47;
export const MAX_RESOURCE = 99_999_999;
export const MAX_ZONE_LENGTH = 24;

const HEX64 = /^[0-9a-f]{64}$/;
const DIGEST_NAME = /^[a-z]{1,4}$/;
const DIGEST_VALUE = /^[A-Za-z0-9_-]{11}$/;

/** A digest fits a tag: a name of 1-4 lower-case letters, a value of 11 base64url characters (66 bits of a hash). */
export function isDigest(name: string, value: string): boolean {
  return DIGEST_NAME.test(name) && DIGEST_VALUE.test(value);
}
const VERSION = /^[0-9A-Za-z.+-]{1,24}$/;
const ZONE = ZONE_PATTERN;

function packVector(v: ResourceVector): string {
  return [Math.round(v.cpu * 1000), v.memoryMb, v.diskMb, v.slivers].map((n) => Math.max(0, Math.min(MAX_RESOURCE, Math.floor(n))).toString(36)).join('.');
}

function unpackVector(text: string): ResourceVector | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9a-z]{1,6}$/.test(p))) return undefined;
  const [c, m, d, s] = parts.map((p) => parseInt(p, 36)) as [number, number, number, number];
  return { cpu: c / 1000, memoryMb: m, diskMb: d, slivers: s };
}

/** The same tags as Serf carries them (key → value), whatever the order of their keys. */
export function sameRawTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Tags encodeTags leaves out when empty: a publish must delete them, or Serf keeps the old value. */
export const OPTIONAL_TAG_KEYS: readonly string[] = ['d', 'z', 'p'];

/** `a` for an allowlist, `q<n>` (base 36) for a quota, both, or nothing for any user without a quota. */
function packAccess(a: GatewayTags['access']): string {
  return `${a.allowlist ? 'a' : ''}${a.quota === null ? '' : `q${Math.max(0, Math.min(MAX_RESOURCE, a.quota)).toString(36)}`}`;
}

function unpackAccess(text: string | undefined): GatewayTags['access'] | undefined {
  if (text === undefined) return { quota: null, allowlist: false };
  const m = /^(a?)(?:q([0-9a-z]{1,6}))?$/.exec(text);
  if (m === null || text === '') return undefined;
  return { allowlist: m[1] === 'a', quota: m[2] === undefined ? null : parseInt(m[2], 36) };
}

/** Encode; throws if a field is out of shape (a programming error, not user input). */
export function encodeTags(t: GatewayTags): Record<string, string> {
  if (!HEX64.test(t.id)) throw new Error('tags: id must be a 64-hex fingerprint');
  if (t.api.length > MAX_API_LENGTH) throw new Error('tags: api address too long');
  if (!VERSION.test(t.version)) throw new Error('tags: bad version');
  const digests = Object.entries(t.digests);
  if (digests.length > MAX_DIGESTS || digests.some(([k, v]) => !DIGEST_NAME.test(k) || !DIGEST_VALUE.test(v))) throw new Error('tags: bad digests');
  if (t.zone !== null && !ZONE.test(t.zone)) throw new Error('tags: bad zone');
  return {
    h: TAG_FORMAT,
    id: Buffer.from(t.id, 'hex').toString('base64url'),
    api: t.api,
    rc: packVector(t.contributed),
    rf: packVector(t.free),
    m: MODE_CODES[t.mode],
    v: t.version,
    ...(digests.length === 0 ? {} : { d: digests.map(([k, v]) => `${k}=${v}`).join(',') }),
    ...(t.zone === null ? {} : { z: t.zone }),
    ...(packAccess(t.access) === '' ? {} : { p: packAccess(t.access) }),
  };
}

export type DecodedTags = { ok: true; tags: GatewayTags } | { ok: false; reason: string };

/** Decode a member's tags; anything malformed is reported, never thrown. */
export function decodeTags(raw: Readonly<Record<string, string>>): DecodedTags {
  const fail = (reason: string): DecodedTags => ({ ok: false, reason });
  if (raw['h'] !== TAG_FORMAT) return fail(raw['h'] === undefined ? 'not a hearth gateway' : `tag format ${raw['h']} not understood`);
  const idBytes = /^[A-Za-z0-9_-]{43}$/.test(raw['id'] ?? '') ? Buffer.from(raw['id'] as string, 'base64url') : undefined;
  if (idBytes?.length !== 32) return fail('bad id');
  const api = raw['api'] ?? '';
  if (api === '' || api.length > MAX_API_LENGTH) return fail('bad api address');
  const contributed = unpackVector(raw['rc'] ?? '');
  const free = unpackVector(raw['rf'] ?? '');
  if (contributed === undefined || free === undefined) return fail('bad resource vector');
  const mode = (Object.keys(MODE_CODES) as OwnerMode[]).find((k) => MODE_CODES[k] === raw['m']);
  if (mode === undefined) return fail('bad owner mode');
  const version = raw['v'] ?? '';
  if (!VERSION.test(version)) return fail('bad version');
  const digests: Record<string, string> = {};
  if (raw['d'] !== undefined) {
    const pairs = raw['d'].split(',');
    if (pairs.length > MAX_DIGESTS) return fail('too many digests');
    for (const pair of pairs) {
      const [k, v] = pair.split('=');
      if (k === undefined || v === undefined || !DIGEST_NAME.test(k) || !DIGEST_VALUE.test(v)) return fail('bad digest');
      digests[k] = v;
    }
  }
  const zone = raw['z'] ?? null;
  if (zone !== null && !ZONE.test(zone)) return fail('bad zone');
  const access = unpackAccess(raw['p']);
  if (access === undefined) return fail('bad access policy');
  return { ok: true, tags: { id: idBytes.toString('hex'), api, contributed, free, mode, version, digests, zone, access } };
}

/** Which raw tags differ between two sets of them, a digest by its name (`d.sv`), sorted: what an update told the community. */
export function changedTags(was: Readonly<Record<string, string>>, now: Readonly<Record<string, string>>): string[] {
  const digests = (raw: string | undefined): Map<string, string> => new Map((raw ?? '').split(',').filter((pair) => pair !== '').map((pair) => {
    const [name = '', value = ''] = pair.split('=');
    return [name, value];
  }));
  const changed = new Set<string>();
  for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
    if (was[key] === now[key]) continue;
    if (key !== 'd') {
      changed.add(key);
      continue;
    }
    const [before, after] = [digests(was[key]), digests(now[key])];
    for (const name of new Set([...before.keys(), ...after.keys()])) if (before.get(name) !== after.get(name)) changed.add(`d.${name}`);
  }
  return [...changed].sort();
}

/** The size Serf counts against its limit. */
export function encodedSize(tags: Readonly<Record<string, string>>): number {
  return encode(tags).byteLength;
}
