// The typed shapes of Serf 0.8 RPC messages (IPC version 1) and the parsers
// that turn decoded msgpack (serf-decode.ts) into them. Serf's Go codec
// writes strings as msgpack str and byte slices (member IPs, payloads) as
// bin, so text arrives as strings and bytes as bytes; a field is still
// accepted in the other form (a byte field sent as str is taken as its UTF-8).
// Must never: throw on a malformed message — parsers return undefined and the
// caller counts it.

import { formatIp } from './serf-address.js';

/** Serf's size limits (serf 0.8): callers must keep within them. */
export const SERF_LIMITS = {
  /** All tags of a member, msgpack-encoded (memberlist meta). */
  tagsBytes: 512,
  /** A user event's name plus payload. */
  userEventBytes: 512,
  /** A query, encoded (agent `query_size_limit`, default). */
  queryBytes: 1024,
  /** A query response, encoded (agent `query_response_size_limit`, default). */
  queryResponseBytes: 1024,
} as const;

export type MemberStatus = 'none' | 'alive' | 'leaving' | 'left' | 'failed';

export interface ProtocolRange {
  min: number;
  max: number;
  cur: number;
}

export interface SerfMember {
  name: string;
  /** The member's gossip IP as text (IPv4 dotted, IPv6 compressed). */
  addr: string;
  port: number;
  tags: Record<string, string>;
  status: MemberStatus;
  /** memberlist protocol versions. */
  protocol: ProtocolRange;
  /** Serf (delegate) protocol versions. */
  delegate: ProtocolRange;
}

export interface SerfCoordinate {
  vec: number[];
  error: number;
  adjustment: number;
  height: number;
}

export type MemberEventType = 'member-join' | 'member-leave' | 'member-failed' | 'member-update' | 'member-reap';

export type SerfEvent =
  | { type: 'user'; name: string; payload: Uint8Array; ltime: number; coalesce: boolean }
  | { type: MemberEventType; members: SerfMember[] }
  /** `id` is only valid on the RPC connection that received it: answer with `respond` there. */
  | { type: 'query'; id: number; name: string; payload: Uint8Array; ltime: number };

export type SerfQueryRecord = { type: 'ack'; from: string } | { type: 'response'; from: string; payload: Uint8Array };

export interface SerfKeyringResult {
  /** Per-node error messages. */
  messages: Record<string, string>;
  /** Base64 key → how many nodes hold it (list only). */
  keys: Record<string, number>;
  numNodes: number;
  numErr: number;
  numResp: number;
}

export interface ResponseHeader {
  seq: number;
  error: string;
}

type Raw = Record<string, unknown>;

const utf8 = new TextDecoder('utf-8');

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return utf8.decode(v);
  return undefined;
}

function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new TextEncoder().encode(v);
  // Go encodes a nil []byte as msgpack nil.
  if (v === null || v === undefined) return new Uint8Array(0);
  return undefined;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function asStringMap(v: unknown): Record<string, string> | undefined {
  if (v === null || v === undefined) return {};
  if (!isMap(v)) return undefined;
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const s = asText(v[k]);
    if (s === undefined) return undefined;
    out[k] = s;
  }
  return out;
}

function asNumberMap(v: unknown): Record<string, number> | undefined {
  if (v === null || v === undefined) return {};
  if (!isMap(v)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, raw] of Object.entries(v)) {
    const n = asNumber(raw);
    if (n === undefined) return undefined;
    out[k] = n;
  }
  return out;
}

/** True for the `{Seq, Error}` map Serf sends before every response and stream record. */
export function isResponseHeader(v: unknown): boolean {
  if (!isMap(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && 'Seq' in v && 'Error' in v;
}

export function parseResponseHeader(v: unknown): ResponseHeader | undefined {
  if (!isResponseHeader(v)) return undefined;
  const raw = v as Raw;
  const seq = asNumber(raw['Seq']);
  const error = asText(raw['Error']);
  if (seq === undefined || error === undefined) return undefined;
  return { seq, error };
}

const STATUSES: ReadonlySet<string> = new Set<MemberStatus>(['none', 'alive', 'leaving', 'left', 'failed']);

export function parseMember(v: unknown): SerfMember | undefined {
  if (!isMap(v)) return undefined;
  const name = asText(v['Name']);
  const addrBytes = asBytes(v['Addr']);
  const addr = addrBytes === undefined ? undefined : formatIp(addrBytes);
  const port = asNumber(v['Port']);
  const tags = asStringMap(v['Tags']);
  const status = asText(v['Status']);
  // One by one, not mapped over a list of keys: at 100 members a list's parsing runs this 100 times, interpreted.
  const pMin = asNumber(v['ProtocolMin']);
  const pMax = asNumber(v['ProtocolMax']);
  const pCur = asNumber(v['ProtocolCur']);
  const dMin = asNumber(v['DelegateMin']);
  const dMax = asNumber(v['DelegateMax']);
  const dCur = asNumber(v['DelegateCur']);
  if (name === undefined || addr === undefined || port === undefined || tags === undefined) return undefined;
  if (status === undefined || !STATUSES.has(status)) return undefined;
  if (pMin === undefined || pMax === undefined || pCur === undefined) return undefined;
  if (dMin === undefined || dMax === undefined || dCur === undefined) return undefined;
  return {
    name,
    addr,
    port,
    tags,
    status: status as MemberStatus,
    protocol: { min: pMin, max: pMax, cur: pCur },
    delegate: { min: dMin, max: dMax, cur: dCur },
  };
}

export function parseMembers(v: unknown): SerfMember[] | undefined {
  if (!isMap(v)) return undefined;
  const list = v['Members'];
  if (list === null) return [];
  if (!Array.isArray(list)) return undefined;
  const out: SerfMember[] = [];
  for (const raw of list) {
    const m = parseMember(raw);
    if (m === undefined) return undefined;
    out.push(m);
  }
  return out;
}

export function parseJoin(v: unknown): number | undefined {
  return isMap(v) ? asNumber(v['Num']) : undefined;
}

/** `null` when Serf has no coordinate for the node (`Ok` false). */
export function parseCoordinate(v: unknown): SerfCoordinate | null | undefined {
  if (!isMap(v)) return undefined;
  if (v['Ok'] !== true) return v['Ok'] === false ? null : undefined;
  const c = v['Coord'];
  if (!isMap(c) || !Array.isArray(c['Vec'])) return undefined;
  const vec = c['Vec'].map(asNumber);
  const error = asNumber(c['Error']);
  const adjustment = asNumber(c['Adjustment']);
  const height = asNumber(c['Height']);
  if (vec.some((x) => x === undefined) || error === undefined || adjustment === undefined || height === undefined) {
    return undefined;
  }
  return { vec: vec as number[], error, adjustment, height };
}

export function parseKeyring(v: unknown): SerfKeyringResult | undefined {
  if (!isMap(v)) return undefined;
  const messages = asStringMap(v['Messages']);
  const keys = asNumberMap(v['Keys']);
  const numNodes = asNumber(v['NumNodes']);
  const numErr = asNumber(v['NumErr']);
  const numResp = asNumber(v['NumResp']);
  if (messages === undefined || keys === undefined) return undefined;
  if (numNodes === undefined || numErr === undefined || numResp === undefined) return undefined;
  return { messages, keys, numNodes, numErr, numResp };
}

export function parseStats(v: unknown): Record<string, Record<string, string>> | undefined {
  if (!isMap(v)) return undefined;
  const out: Record<string, Record<string, string>> = {};
  for (const [section, raw] of Object.entries(v)) {
    const m = asStringMap(raw);
    if (m === undefined) return undefined;
    out[section] = m;
  }
  return out;
}

const MEMBER_EVENTS: ReadonlySet<string> = new Set<MemberEventType>([
  'member-join',
  'member-leave',
  'member-failed',
  'member-update',
  'member-reap',
]);

export function parseStreamRecord(v: unknown): SerfEvent | undefined {
  if (!isMap(v)) return undefined;
  const event = asText(v['Event']);
  if (event === 'user' || event === 'query') {
    const name = asText(v['Name']);
    const payload = asBytes(v['Payload']);
    const ltime = asNumber(v['LTime']);
    if (name === undefined || payload === undefined || ltime === undefined) return undefined;
    if (event === 'user') {
      const coalesce = v['Coalesce'];
      if (typeof coalesce !== 'boolean') return undefined;
      return { type: 'user', name, payload, ltime, coalesce };
    }
    const id = asNumber(v['ID']);
    if (id === undefined) return undefined;
    return { type: 'query', id, name, payload, ltime };
  }
  if (event !== undefined && MEMBER_EVENTS.has(event)) {
    const members = parseMembers(v);
    if (members === undefined) return undefined;
    return { type: event as MemberEventType, members };
  }
  return undefined;
}

/**
 * A query's ack, response, `'done'` (no more records for it), or `'closed'`.
 *
 * Serf closes a query's ack and response channels at its deadline on one
 * timer, while the RPC stream that forwards them waits for `done` on another;
 * in between, every read of a closed channel is forwarded as an ack or a
 * response with an empty `From` (hashicorp/serf agent/ipc_query_response.go),
 * sometimes hundreds of them. No member has an empty name, so such a record is
 * `'closed'`: nothing to report, and `done` follows.
 */
export function parseQueryRecord(v: unknown): SerfQueryRecord | 'done' | 'closed' | undefined {
  if (!isMap(v)) return undefined;
  const type = asText(v['Type']);
  if (type === 'done') return 'done';
  const from = asText(v['From']);
  if (from === undefined) return undefined;
  if (from === '' && (type === 'ack' || type === 'response')) return 'closed';
  if (type === 'ack') return { type: 'ack', from };
  if (type !== 'response') return undefined;
  const payload = asBytes(v['Payload']);
  return payload === undefined ? undefined : { type: 'response', from, payload };
}
