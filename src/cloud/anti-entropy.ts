// Anti-entropy by digest: every member gossips a short digest of a list it
// keeps (revocations now; slice records and services next); whoever sees a
// member whose digest differs from its own pulls that member's list over the
// peer API and merges it, unless that member still has the digest it had
// when the two last agreed: then the difference is this member's own change,
// which the other pulls from it, and a pull the other way would bring
// nothing. This core decides whom to pull from and when;
// merging is the caller's, and must make lists converge (grow-only sets,
// or versioned records where the newer wins).
// Pure. Must never: read a clock, start a timer or do I/O; time comes in as
// `now` (ms), pulls go out as commands, their outcome comes back as inputs.

export interface PeerDigest {
  member: string;
  /** The digest the member gossips; undefined when its list is empty. */
  digest: string | undefined;
  /** Alive, trusted, with a peer address: a pull could reach it. */
  reachable: boolean;
}

export interface AntiEntropyState {
  /** The digest last pulled from each member: one difference is pulled once. */
  pulled: ReadonlyMap<string, string>;
  /** Pulls under way: member → digest asked for. */
  pending: ReadonlyMap<string, string>;
  /** Failed pulls in a row, and until when the member is left alone. */
  failures: ReadonlyMap<string, { count: number; until: number }>;
  /** Members with a difference not pulled yet: the digest, and when a tick first saw it. */
  seen: ReadonlyMap<string, { digest: string; at: number }>;
  /**
   * The digest each member had when a tick last saw it equal to ours. While
   * it still has it, it holds nothing we lack: its list has not changed
   * since it was ours, and merges only ever take what is newer. Right after
   * a change here (a heal, a taken placement), every member that agreed
   * with us differs, and pulling each of them would cost a TLS handshake
   * on both sides at the moment they pull the change from us.
   */
  agreed: ReadonlyMap<string, string>;
}

export type AntiEntropyInput =
  /**
   * Look at the community again: our digest and every other member's. `self`
   * (this gateway's name) orders the members first seen in the same tick.
   */
  | { type: 'tick'; mine: string | undefined; peers: readonly PeerDigest[]; self?: string }
  | { type: 'pulled'; member: string; digest: string }
  | { type: 'pull-failed'; member: string; digest: string };

export interface PullCommand {
  type: 'pull';
  member: string;
  digest: string;
}

export interface AntiEntropyOptions {
  /** Pulls under way at once; a gateway on a thin link should not pull from everyone at once. */
  maxInFlight: number;
  /** Wait after a failed pull, doubling per failure in a row up to maxRetryMs. */
  retryMs: number;
  maxRetryMs: number;
}

/**
 * How long one pull may take. Nobody waits on a pull, and one given up is
 * asked again from the start (a new TLS handshake on a member that was busy
 * already), so it waits long: at 100 gateways on one machine every gateway
 * pulls a new service's host at once, and with 5 s nearly all of them gave
 * up and asked again 2 s later (BENCHMARKS.md, session 13).
 */
export const PULL_TIMEOUT_MS = 20_000;

export const DEFAULT_ANTI_ENTROPY: AntiEntropyOptions = { maxInFlight: 2, retryMs: 2_000, maxRetryMs: 60_000 };

export const EMPTY_ANTI_ENTROPY: AntiEntropyState = { pulled: new Map(), pending: new Map(), failures: new Map(), seen: new Map(), agreed: new Map() };

/** Whether `member`'s list at `digest` holds nothing we lack: we pulled that digest, or it is the one the member had when it last agreed with us. */
export function holdsNothingNew(state: AntiEntropyState, member: string, digest: string): boolean {
  return state.pulled.get(member) === digest || state.agreed.get(member) === digest;
}

/** FNV-1a, 32 bits: a cheap order of its own for each puller over the same members. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function stepAntiEntropy(
  state: AntiEntropyState,
  input: AntiEntropyInput,
  now: number,
  options: AntiEntropyOptions = DEFAULT_ANTI_ENTROPY,
): { state: AntiEntropyState; commands: PullCommand[] } {
  switch (input.type) {
    case 'pulled': {
      const pending = new Map(state.pending);
      pending.delete(input.member);
      const failures = new Map(state.failures);
      failures.delete(input.member);
      return { state: { ...state, pulled: new Map(state.pulled).set(input.member, input.digest), pending, failures }, commands: [] };
    }
    case 'pull-failed': {
      const pending = new Map(state.pending);
      pending.delete(input.member);
      const count = (state.failures.get(input.member)?.count ?? 0) + 1;
      const wait = Math.min(options.maxRetryMs, options.retryMs * 2 ** (count - 1));
      return { state: { ...state, pending, failures: new Map(state.failures).set(input.member, { count, until: now + wait }) }, commands: [] };
    }
    case 'tick': {
      // Forget members that are gone, so the maps stay as small as the community.
      const known = new Set(input.peers.map((p) => p.member));
      const keep = <V>(m: ReadonlyMap<string, V>): Map<string, V> => new Map([...m].filter(([k]) => known.has(k)));
      const next = {
        pulled: keep(state.pulled), pending: keep(state.pending), failures: keep(state.failures), seen: new Map<string, { digest: string; at: number }>(), agreed: keep(state.agreed),
      };
      // Differences are pulled oldest first, as a queue would: in name order, every puller of a
      // community went to the same two members first whenever several changed at once, and a
      // difference seen first could wait behind ones seen seconds later (BENCHMARKS.md, session 23).
      // Those first seen in the same tick go in an order of this puller's own.
      const due: { member: string; digest: string; at: number; tie: number }[] = [];
      for (const peer of input.peers) {
        const { member, digest } = peer;
        if (digest === undefined) continue;
        if (digest === input.mine) {
          next.agreed.set(member, digest);
          continue;
        }
        if (holdsNothingNew(next, member, digest)) continue;
        const before = state.seen.get(member);
        const at = before?.digest === digest ? before.at : now;
        next.seen.set(member, { digest, at });
        if (!peer.reachable || next.pending.has(member) || (next.failures.get(member)?.until ?? -Infinity) > now) continue;
        due.push({ member, digest, at, tie: fnv1a(`${input.self ?? ''}\n${member}`) });
      }
      due.sort((a, b) => a.at - b.at || a.tie - b.tie || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
      const commands: PullCommand[] = [];
      for (const { member, digest } of due) {
        if (next.pending.size >= options.maxInFlight) break;
        next.pending.set(member, digest);
        commands.push({ type: 'pull', member, digest });
      }
      return { state: next, commands };
    }
  }
}
