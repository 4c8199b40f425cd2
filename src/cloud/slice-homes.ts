// A slice name's homes: the k members that rendezvous hashing picks for a
// (user, name), and the soft state each home keeps of who holds that slice.
// Every holder registers its slices with their homes, again whenever a home
// lacks one as it is now, and all of them every refresh; an entry gateway
// asks only the k homes whether the user has a slice of that name, and
// where, so a creation's name check costs k calls whatever the community's
// size. The table is soft state: an entry not refreshed within its time to
// live is gone, and a home that lost its table (a restart) has it again
// after one refresh.
// Pure. Must never: read a clock, or let one member's registration change
// what the table says of another member.

import { createHash } from 'node:crypto';
import type { ViewState } from '../overlay/view.js';

/** How many homes a slice name has. */
export const DEFAULT_HOMES = 3;

/** The members a slice name may live on: alive, with decoded tags (the view has no revoked member), as the entry gateway's broadcast picks. */
export function homeCandidates(view: ViewState): string[] {
  return [...view.members.values()].filter((m) => m.status === 'alive' && m.tags !== null).map((m) => m.name);
}

/** Each field as its UTF-8 length (4 bytes, big-endian) then its bytes: no two field lists hash the same input. */
function encoded(fields: readonly string[]): Buffer {
  return Buffer.concat(fields.flatMap((f) => {
    const bytes = Buffer.from(f, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return [length, bytes];
  }));
}

/** The member's rendezvous score for a slice name: SHA-256 over user, name and member. */
export function homeScore(user: string, name: string, member: string): string {
  return createHash('sha256').update(encoded([user, name, member])).digest('hex');
}

/**
 * The `k` candidates with the highest scores for (user, name), best first
 * (ties by name); fewer when there are fewer candidates. The hash of the
 * user and name is taken once and copied for each member (each score is
 * still homeScore's): every holder works this out for each of its slices.
 */
export function homesOf(user: string, name: string, members: readonly string[], k = DEFAULT_HOMES): string[] {
  const prefix = createHash('sha256').update(encoded([user, name]));
  return [...new Set(members)]
    .map((member) => ({ member, score: prefix.copy().update(encoded([member])).digest('hex') }))
    .sort((a, b) => (a.score !== b.score ? (a.score > b.score ? -1 : 1) : a.member < b.member ? -1 : a.member > b.member ? 1 : 0))
    .slice(0, Math.max(0, k))
    .map((h) => h.member);
}

/** What a holder tells a home of one slice it keeps a record of. */
export interface HomeRegistration {
  user: string;
  name: string;
  /** The nonce of the slice.create document the holder's record has. */
  incarnation: string;
  version: number;
  /** The holder's record is a tombstone (the user deleted it) or has expired. */
  deleted: boolean;
  /** When the holder's record says the slice expires, seconds since the epoch. */
  expiresAt: number;
}

/** One holder of a slice as a home knows it. */
export interface HolderEntry {
  incarnation: string;
  version: number;
  deleted: boolean;
  expiresAt: number;
  /** When the holder last registered it, in the home's milliseconds. */
  seenAtMs: number;
}

export interface Holder extends Omit<HolderEntry, 'seenAtMs'> {
  member: string;
}

/** (user, name) → holder → entry. */
export type HomeTable = ReadonlyMap<string, ReadonlyMap<string, HolderEntry>>;

export const EMPTY_HOME_TABLE: HomeTable = new Map();

const keyOf = (user: string, name: string): string => JSON.stringify([user, name]);

/** The table once `member` has registered `items` at `nowMs`: each one's entry for that member replaced, nothing else touched. */
export function registerHolders(table: HomeTable, member: string, items: readonly HomeRegistration[], nowMs: number): HomeTable {
  const next = new Map(table);
  for (const r of items) {
    const key = keyOf(r.user, r.name);
    const holders = new Map(next.get(key));
    holders.set(member, { incarnation: r.incarnation, version: r.version, deleted: r.deleted, expiresAt: r.expiresAt, seenAtMs: nowMs });
    next.set(key, holders);
  }
  return next;
}

/** The table without the entries last seen `ttlMs` or longer before `nowMs`. */
export function expireHolders(table: HomeTable, nowMs: number, ttlMs: number): HomeTable {
  const next = new Map<string, ReadonlyMap<string, HolderEntry>>();
  for (const [key, holders] of table) {
    const kept = new Map([...holders].filter(([, e]) => nowMs - e.seenAtMs < ttlMs));
    if (kept.size > 0) next.set(key, kept);
  }
  return next;
}

/** The holders of (user, name) whose registration is fresh at `nowMs` and who are `alive` now, by name. */
export function holdersOf(table: HomeTable, user: string, name: string, nowMs: number, ttlMs: number, alive: (member: string) => boolean): Holder[] {
  return [...(table.get(keyOf(user, name)) ?? new Map<string, HolderEntry>())]
    .filter(([member, e]) => nowMs - e.seenAtMs < ttlMs && alive(member))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([member, { incarnation, version, deleted, expiresAt }]) => ({ member, incarnation, version, deleted, expiresAt }));
}

/**
 * The holders several homes answered, one per member and incarnation: a
 * delete is final for an incarnation, so one home that has it registered
 * deleted outweighs another that has not heard yet; versions and expiries
 * take the greatest.
 */
export function mergeHolders(answers: readonly (readonly Holder[])[]): Holder[] {
  const merged = new Map<string, Holder>();
  for (const h of answers.flat()) {
    const key = JSON.stringify([h.member, h.incarnation]);
    const seen = merged.get(key);
    merged.set(key, seen === undefined ? { ...h } : {
      ...seen, deleted: seen.deleted || h.deleted, version: Math.max(seen.version, h.version), expiresAt: Math.max(seen.expiresAt, h.expiresAt),
    });
  }
  return [...merged.values()].sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : a.incarnation < b.incarnation ? -1 : 1));
}

/** Whether the homes' holders show that the user has a live slice of that name at `nowSec`, other than the incarnation `nonce`. */
export function nameTaken(holders: readonly Holder[], nonce: string, nowSec: number): boolean {
  return holders.some((h) => !h.deleted && h.expiresAt > nowSec && h.incarnation !== nonce);
}

/** What a holder has told one home: the registrations it took, by slice, when it last took them all, and its failures in a row. */
export interface HomeTold {
  /** Slice key → the registration the home took, as JSON. */
  told: ReadonlyMap<string, string>;
  /** When the home last took every registration it had (ms, the holder's clock). */
  atMs: number;
  failures: number;
  /** A home that failed is not called again before this. */
  retryAtMs: number;
}

/** The holder's side of registrations: what each home of its slices was told. */
export type RegistrarState = ReadonlyMap<string, HomeTold>;

export const EMPTY_REGISTRAR: RegistrarState = new Map();

export interface RegistrarTimings {
  /** Every home is told everything again this often: it may have restarted (its table is memory only) or expired an entry. */
  refreshMs: number;
  /** The wait after a failed call to a home, doubled per failure in a row, up to refreshMs. */
  retryMs: number;
}

const sliceKey = (r: HomeRegistration): string => keyOf(r.user, r.name);

/**
 * The homes a round calls, each with all its registrations (one call either
 * way): a home that has not taken one of them as it is now (a new slice, a
 * new version, a delete, or a home new to the slice after a view change),
 * or that was last told everything `refreshMs` ago, unless it failed and its
 * retry time has not come. `wanted` is every home of a live slice with the
 * registrations it should have; the state keeps only those homes.
 */
export function registrationsDue(state: RegistrarState, wanted: ReadonlyMap<string, readonly HomeRegistration[]>, nowMs: number, timings: RegistrarTimings): {
  state: RegistrarState; due: { home: string; items: HomeRegistration[] }[];
} {
  const next = new Map<string, HomeTold>();
  const due: { home: string; items: HomeRegistration[] }[] = [];
  for (const [home, items] of wanted) {
    const known = state.get(home);
    if (known !== undefined) next.set(home, known);
    if (items.length === 0 || (known !== undefined && nowMs < known.retryAtMs)) continue;
    const stale = known === undefined || nowMs - known.atMs >= timings.refreshMs
      || items.some((r) => known.told.get(sliceKey(r)) !== JSON.stringify(r));
    if (stale) due.push({ home, items: [...items] });
  }
  return { state: next, due };
}

/**
 * The state once `home` took `items` (`all`: every registration it should
 * have, so it counts as refreshed now) or failed to. One item taken by a
 * home new to the state (a commit's own registration) counts as a refresh
 * of what the home has: the next round tells it only what it lacks.
 */
export function registrationsAnswered(state: RegistrarState, home: string, items: readonly HomeRegistration[], outcome: { all: boolean; ok: boolean }, nowMs: number, timings: RegistrarTimings): RegistrarState {
  const known = state.get(home);
  const next = new Map(state);
  if (!outcome.ok) {
    const failures = (known?.failures ?? 0) + 1;
    const wait = Math.min(timings.refreshMs, timings.retryMs * 2 ** (failures - 1));
    next.set(home, { told: known?.told ?? new Map(), atMs: known?.atMs ?? -Infinity, failures, retryAtMs: nowMs + wait });
    return next;
  }
  const taken = new Map(items.map((r) => [sliceKey(r), JSON.stringify(r)]));
  const told = outcome.all ? taken : new Map([...(known?.told ?? []), ...taken]);
  next.set(home, { told, atMs: outcome.all || known === undefined ? nowMs : known.atMs, failures: 0, retryAtMs: -Infinity });
  return next;
}
