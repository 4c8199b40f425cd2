// Slice records as the community converges them: every gateway that hosts a
// sliver of a slice keeps the user's signed spec, where each sliver is (the
// placement, versioned), the user's signed renewal and resize that hold, and
// a tombstone with the user's signed delete once the slice is deleted. A
// digest of them travels in a tag; a member whose digest differs is asked for
// its records (the anti-entropy core), and this module says which of two
// records of one slice wins: the same everywhere, so all holders end up with
// one placement.
// Pure. Must never: let a record replace another of a different incarnation
// of the slice (another create document), or prefer a placement by anything
// but version and content.

import { createHash } from 'node:crypto';

/** Tag digest of this gateway's slice records. */
export const SLICES_DIGEST = 'sl';

export interface RecordState {
  user: string;
  name: string;
  /** The create document's nonce: which incarnation of the slice this is. */
  incarnation: string;
  placement: Readonly<Record<string, string>>;
  version: number;
  deletedAt: number | null;
  /** When the slice expires unless renewed (a renewal moves it later), seconds since the epoch. */
  expiresAt: number;
  /** The nonce of the user's resize that holds (it sets the number of slivers); null before any. */
  resize: string | null;
}

/** '%', ',' and '=' percent-encoded, so that no key or gateway name can pass for a separator. */
const escaped = (s: string): string => s.replace(/[%,=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A placement as one canonical string: index=gateway, by index. Keys are
 * ordered shorter first, then by character: numeric order for sliver
 * indexes, and a total order on whatever keys a peer sends. Different
 * placements never share a string.
 */
export function placementKey(p: Readonly<Record<string, string>>): string {
  return Object.entries(p)
    .sort(([a], [b]) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
    .map(([i, g]) => `${escaped(i)}=${escaped(g)}`).join(',');
}

/**
 * Whether `theirs` should replace `mine`'s placement: same incarnation, and a
 * higher version, or the same version with a greater placement (two healers
 * on two sides of a partition both made version v+1: the greater wins on
 * both sides once they meet).
 */
export function placementWins(mine: RecordState, theirs: RecordState): boolean {
  if (mine.user !== theirs.user || mine.name !== theirs.name || mine.incarnation !== theirs.incarnation) return false;
  if (theirs.version !== mine.version) return theirs.version > mine.version;
  return placementKey(theirs.placement) > placementKey(mine.placement);
}

/** The first 11 base64url characters of SHA-256 over every record's state; none when there are none. */
export function slicesDigest(records: readonly RecordState[]): string | undefined {
  if (records.length === 0) return undefined;
  const lines = records
    .map((r) => [r.user, r.name, r.incarnation, r.version, placementKey(r.placement), r.deletedAt ?? '-', r.expiresAt, r.resize ?? '-'].join(' '))
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('base64url').slice(0, 11);
}

/**
 * The members whose slice records hold news for us: those our records' placements
 * name (they hold the same slices; a tombstone's too, so a delete reaches
 * every holder). Nobody else's records can change ours (`merge` skips a slice
 * it does not hold), so pulling everyone whose digest changed would cost every
 * placement one pull from every member of the community.
 */
export function sharersOf(self: string, records: readonly Pick<RecordState, 'placement'>[]): Set<string> {
  const sharers = new Set<string>();
  for (const r of records) for (const g of Object.values(r.placement)) if (g !== self) sharers.add(g);
  return sharers;
}

/**
 * Whom a holder still owes a sweep, and the one it pulls this round beside
 * its sharers. Two sides of a partition that healed the same slice apart may
 * each hold a placement that names none of the other side's holders; only a
 * member that came back into this gateway's view (not alive here last round:
 * a healed partition, a return, this gateway's own start) can hold such a
 * placement. So each member that comes back is owed one pull, one member a
 * round, while this gateway holds records; one whose digest is `settled`
 * (pulled since, or the one it had when it last agreed with us: it holds
 * nothing we lack), or that holds none, is owed nothing. In steady state
 * nobody is owed: a placement costs no pull from members that do not hold
 * its slice. `alive` maps each reachable member (self aside) to its digest;
 * `sharers` are pulled anyway and are not picked.
 */
export function stepSweep(input: {
  owed: ReadonlySet<string>; wasAlive: ReadonlySet<string>; alive: ReadonlyMap<string, string | undefined>;
  sharers: ReadonlySet<string>; holding: boolean; settled: (member: string, digest: string) => boolean; round: number;
}): { owed: Set<string>; pick: string | undefined } {
  const owed = new Set<string>();
  if (!input.holding) return { owed, pick: undefined };
  for (const [m, digest] of input.alive) {
    if (!input.owed.has(m) && input.wasAlive.has(m)) continue;
    if (digest !== undefined && !input.settled(m, digest)) owed.add(m);
  }
  const due = [...owed].filter((m) => !input.sharers.has(m)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { owed, pick: due.length === 0 ? undefined : due[input.round % due.length] };
}
