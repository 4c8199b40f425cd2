// The membership view: what this gateway believes about every member of its
// community, built from Serf's member list and member events. Pure: the
// Serf-backed driver (membership.ts) feeds it; tests and the simulator can
// feed it too. A member whose tags do not decode stays in the view as
// "unknown" and is counted, never trusted and never a crash.

import { formatHost, formatHostPort, parseHostPort } from '../model/host-port.js';
import type { MemberStatus, SerfCoordinate, SerfEvent, SerfMember } from './serf-records.js';
import { decodeTags, sameRawTags, type GatewayTags } from './tags.js';
import { estimateRttMs } from './vivaldi.js';

export interface MemberView {
  name: string;
  /** Gossip address as Serf sees it (host:port, [v6]:port). */
  serfAddr: string;
  status: MemberStatus;
  tags: GatewayTags | null;
  /** Why the tags did not decode, when they did not. */
  tagError: string | null;
  coordinate: SerfCoordinate | null;
}

export interface ViewState {
  members: ReadonlyMap<string, MemberView>;
  /** Members seen with tags that did not decode (each change counted once). */
  badTags: number;
}

export const EMPTY_VIEW: ViewState = { members: new Map(), badTags: 0 };

/**
 * The raw tags each entry was decoded from: a member read again with the same
 * tags, address and status (a list every 10 s, an event after its record was
 * read) is the very same entry, without decoding its tags again.
 */
const rawTags = new WeakMap<MemberView, Readonly<Record<string, string>>>();

function fromSerf(m: SerfMember, previous: MemberView | undefined): { view: MemberView; bad: boolean } {
  const serfAddr = formatHostPort({ host: m.addr, port: m.port });
  if (previous !== undefined && previous.status === m.status && previous.serfAddr === serfAddr) {
    const raw = rawTags.get(previous);
    if (raw !== undefined && sameRawTags(raw, m.tags)) return { view: previous, bad: false };
  }
  const decoded = decodeTags(m.tags);
  const view: MemberView = {
    name: m.name,
    serfAddr,
    status: m.status,
    tags: decoded.ok ? decoded.tags : null,
    tagError: decoded.ok ? null : decoded.reason,
    coordinate: previous?.coordinate ?? null,
  };
  const bad = !decoded.ok && previous?.tagError !== view.tagError;
  // Tags that changed in form only decode to the same entry.
  const kept = previous !== undefined && sameMember(previous, view) ? previous : view;
  rawTags.set(kept, m.tags);
  return { view: kept, bad };
}

function sameMember(a: MemberView, b: MemberView): boolean {
  return a.serfAddr === b.serfAddr && a.status === b.status && a.tagError === b.tagError &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags);
}

/** The view as built, or the very same state when no entry changed: listeners hear of changes only. */
function unlessSame(state: ViewState, next: Map<string, MemberView>, badTags: number): ViewState {
  if (badTags === state.badTags && next.size === state.members.size && [...next].every(([name, m]) => state.members.get(name) === m)) return state;
  return { members: next, badTags };
}

/**
 * Replace the view with a full member list (at start, after a reconnect and
 * every few rounds). The list was asked for before it arrived: a member in
 * `newer` had an event applied in between, which is fresher than the list, so
 * its entry (or its absence, when reaped) is kept as the event left it.
 */
export function applySnapshot(state: ViewState, members: readonly SerfMember[], newer: ReadonlySet<string> = new Set()): ViewState {
  const next = new Map<string, MemberView>();
  let badTags = state.badTags;
  for (const m of members) {
    if (newer.has(m.name)) continue;
    const { view, bad } = fromSerf(m, state.members.get(m.name));
    next.set(m.name, view);
    if (bad) badTags++;
  }
  for (const name of newer) {
    const kept = state.members.get(name);
    if (kept !== undefined) next.set(name, kept);
  }
  return unlessSame(state, next, badTags);
}

/** Apply one member event; user events and queries leave the view as it is. */
export function applyEvent(state: ViewState, event: SerfEvent): ViewState {
  if (event.type === 'user' || event.type === 'query') return state;
  if (event.type !== 'member-reap') return applyMembers(state, event.members);
  const next = new Map(state.members);
  for (const m of event.members) next.delete(m.name);
  return unlessSame(state, next, state.badTags);
}

/** Apply these members' records as read (a part of the list), except those in `newer`; the others are kept. */
export function applyMembers(state: ViewState, members: readonly SerfMember[], newer: ReadonlySet<string> = new Set()): ViewState {
  const next = new Map(state.members);
  let badTags = state.badTags;
  for (const m of members) {
    if (newer.has(m.name)) continue;
    const { view, bad } = fromSerf(m, next.get(m.name));
    next.set(m.name, view);
    if (bad) badTags++;
  }
  return unlessSame(state, next, badTags);
}

/**
 * The view with one known member's status changed, all else as it was (news
 * of a failure or a leave says nothing more); the same state when the member
 * is unknown or has that status already. A read of its record with that
 * status and the same tags later is the very same entry.
 */
export function withStatus(state: ViewState, name: string, status: MemberStatus): ViewState {
  const m = state.members.get(name);
  if (m === undefined || m.status === status) return state;
  const next = new Map(state.members);
  const changed = { ...m, status };
  const raw = rawTags.get(m);
  if (raw !== undefined) rawTags.set(changed, raw);
  next.set(name, changed);
  return { ...state, members: next };
}

/** The view with the members' coordinates as read; the same state when none changed. */
export function withCoordinates(state: ViewState, read: ReadonlyMap<string, SerfCoordinate | null>): ViewState {
  let next: Map<string, MemberView> | undefined;
  for (const [name, coordinate] of read) {
    const m = state.members.get(name);
    if (m === undefined || sameCoordinate(m.coordinate, coordinate)) continue;
    next ??= new Map(state.members);
    const moved = { ...m, coordinate };
    const raw = rawTags.get(m);
    if (raw !== undefined) rawTags.set(moved, raw);
    next.set(name, moved);
  }
  return next === undefined ? state : { ...state, members: next };
}

function sameCoordinate(a: SerfCoordinate | null, b: SerfCoordinate | null): boolean {
  if (a === null || b === null) return a === b;
  return a.error === b.error && a.adjustment === b.adjustment && a.height === b.height &&
    a.vec.length === b.vec.length && a.vec.every((x, i) => x === b.vec[i]);
}

export interface NodeRow {
  name: string;
  id: string | null;
  status: MemberStatus | 'unknown';
  serfAddr: string;
  /** Where its peer API answers (the gossip host when the tag names only a port). */
  peerAddr: string | null;
  mode: GatewayTags['mode'] | null;
  zone: string | null;
  version: string | null;
  contributed: GatewayTags['contributed'] | null;
  free: GatewayTags['free'] | null;
  /** Estimated RTT from this gateway, from Vivaldi coordinates. */
  rttMs: number | null;
  self: boolean;
  revoked: boolean;
}

/** The peer API address of a member: its tag, with the gossip host filled in when the tag names only a port. */
export function peerAddress(m: MemberView): string | null {
  const known = peerAddresses.get(m);
  if (known !== undefined) return known;
  const address = addressFrom(m);
  peerAddresses.set(m, address);
  return address;
}

function addressFrom(m: MemberView): string | null {
  if (m.tags === null) return null;
  if (!m.tags.api.startsWith(':')) return m.tags.api;
  const gossip = parseHostPort(m.serfAddr);
  return gossip === undefined ? null : `${formatHost(gossip.host)}${m.tags.api}`;
}

/**
 * Each entry's peer address, worked out once: every part of an agent asks
 * for every member's at each of its rounds, and an entry is never changed
 * (a change makes a new one).
 */
const peerAddresses = new WeakMap<MemberView, string | null>();

export function nodeRows(state: ViewState, self: string, revoked: ReadonlySet<string>): NodeRow[] {
  const me = state.members.get(self);
  return [...state.members.values()]
    .map((m) => ({
      name: m.name,
      id: m.tags?.id ?? null,
      status: m.tags === null ? 'unknown' as const : m.status,
      serfAddr: m.serfAddr,
      peerAddr: peerAddress(m),
      mode: m.tags?.mode ?? null,
      zone: m.tags?.zone ?? null,
      version: m.tags?.version ?? null,
      contributed: m.tags?.contributed ?? null,
      free: m.tags?.free ?? null,
      rttMs: m.name === self ? 0 : me?.coordinate != null && m.coordinate !== null ? Math.round(estimateRttMs(me.coordinate, m.coordinate) * 100) / 100 : null,
      self: m.name === self,
      revoked: m.tags !== null && revoked.has(m.tags.id),
    }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** The member a fingerprint belongs to, if it is a live, non-revoked hearth gateway. */
export function memberByFingerprint(state: ViewState, fingerprint: string, revoked: ReadonlySet<string>): string | undefined {
  if (revoked.has(fingerprint)) return undefined;
  for (const m of state.members.values()) {
    if (m.tags?.id === fingerprint && (m.status === 'alive' || m.status === 'failed' || m.status === 'leaving')) return m.name;
  }
  return undefined;
}

export function fingerprintOf(state: ViewState, name: string, revoked: ReadonlySet<string>): string | undefined {
  const id = state.members.get(name)?.tags?.id;
  return id === undefined || revoked.has(id) ? undefined : id;
}
