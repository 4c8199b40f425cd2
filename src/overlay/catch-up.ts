// A member catches up on what the gossip did not bring it, with push-pulls
// (a Serf `join` of one alive member: both exchange their whole member
// lists). memberlist sends a rumor 4 × ⌈log10(n + 1)⌉ times and only to
// members the sender knows, so now and then some member misses a join's
// rumor and learns it at its next periodic push-pull: on `wan` a minute or
// more later (BENCHMARKS.md, session 27). Two moments call for an early one:
// - a young member: while its own join is still spreading, most senders do
//   not know it yet, so the rumors of those seconds (others joining beside
//   it, as a whole neighbourhood does after a power cut) mostly pass it by.
//   It asks for a push-pull 2, 4, 8 and 16 s after its overlay starts.
// - any member, once the joins it sees quiet down: a member that missed one
//   of them (in 100-gateway runs, 6 of about 50 put the full view after the
//   last join at 4-10 s, each by a join some older member missed) mostly saw
//   the others, and one push-pull with anyone who has them repairs it; one
//   that missed them all is likely picked by another's. One push-pull once
//   it has seen no join for a quiet wait, drawn in AFTER_JOINS_QUIET_MS
//   (1-2 s) each time a join starts it again. A fixed second made every
//   agent push-pull in each lull of a second among a burst's joins, all
//   within a few hundred ms: at two joins a second 15% of the gaps are
//   such lulls, and a 100-gateway run made 1,394 push-pulls before its
//   last join, among joins that took 53 s (20 s with none, session 34):
//   on one machine they compete with the joins, which leaves more lulls.
//   Drawn, a lull makes only the agents whose wait it outlasts push-pull,
//   spread over a second, and the next join cancels the others: 6.6% of
//   the gaps at two joins a second, 0.3% at four (15% and 1.4% before);
//   the one after the last join still comes within 2 s of seeing it.
//   They are rationed, as a token bucket: up to AFTER_JOINS_BURST at once,
//   then one a gap, the gap growing with the community: 1 s up to 100
//   members (the wait alone spaces them more), 10 ms a member above (6 min
//   at 35,000, about memberlist's own push-pull interval there, which it
//   scales with log2 of the size: at most twice the lists it moves itself).
// Each is a check first: the member asks the drawn member's agent for a
// digest of the members its view holds alive (VIEW_DIGEST_PATH on the peer
// API), and asks its Serf for the push-pull only when the two differ (or
// the check fails). A push-pull is dear: Serf's join gossips a join intent
// with a newer Lamport time, which every member takes and sends on, so
// each cost the community 307-396 ms of CPU at 100 gateways on one
// machine, 3-4 ms in every Serf (bench/scale.ts, session 35); a check
// costs the two agents one peer call, and the bucket below bounds those. The push-pull still repairs both sides: each gets the
// other's whole list.
// A push-pull changes no tags, so the others' agents do no work for it (an
// extra tag update per joiner made the joins 6-8 times slower, f4a737e).
// Its stop waits for a push-pull already asked for: in Serf 0.8.2 a join
// that ends after the member began to leave gossips a join intent with a
// newer Lamport time than the leave intent's, which cancels the leave at
// every member, so the others take the leave that follows for a failure
// (a real one, bare Serf agents, session 36). Serf bounds the wait: one
// push-pull gives up at memberlist's TCP timeout.
// Must never: sync with itself, throw out of a timer, run after stop, or
// let stop end while a push-pull it asked for is still in Serf's hands.

import { createHash } from 'node:crypto';
import type { Logger } from '../model/logger.js';
import type { MemberView, ViewState } from './view.js';

/** When, after the overlay started, a young member asks for a push-pull (ms). */
export const CATCH_UP_AFTER_MS: readonly number[] = [2000, 4000, 8000, 16000];
/** How long a member waits, after the last join it saw, to ask for a push-pull: drawn in this range each time (ms). */
export const AFTER_JOINS_QUIET_MS = { min: 1000, max: 2000 } as const;
/** How many push-pulls after joins a member may make at once; one more each gap after. */
export const AFTER_JOINS_BURST = 3;
/** The least gap (ms)... */
export const AFTER_JOINS_MIN_GAP_MS = 1000;
/** ...and the gap per member of the view (ms): 1 s at 100, 10 s at 1,000, about 6 min at 35,000. */
export const AFTER_JOINS_GAP_PER_MEMBER_MS = 10;

/** The peer API path a member's agent answers on with its view's digest: `{ digest }` (viewDigestReply). */
export const VIEW_DIGEST_PATH = '/peer/v1/view/digest';

export interface CatchUpInit {
  self: string;
  view: () => ViewState;
  /** Serf's join of these gossip addresses, without replaying old user events: one push-pull each. */
  join: (addresses: string[]) => Promise<unknown>;
  /** The member's agent's reply on VIEW_DIGEST_PATH (the peer API's; rejects when it cannot be asked). */
  digestOf: (member: string) => Promise<unknown>;
  log: Logger;
  /** Uniform in [0, 1); Math.random unless a test gives one. */
  random?: () => number;
  afterMs?: readonly number[];
}

export interface CatchUp {
  /** The view changed: a member alive now that was not before starts (or restarts) the quiet wait. */
  viewChanged(view: ViewState): void;
  /** Cancels every push-pull not yet asked for; resolves once none is in flight (never rejects). */
  stop(): Promise<void>;
}

/** One alive member other than `self`, drawn; undefined when there is none. */
export function pickSyncPeer(view: ViewState, self: string, random: () => number): MemberView | undefined {
  const others = [...view.members.values()].filter((m) => m.name !== self && m.status === 'alive');
  return others[Math.floor(random() * others.length)];
}

const digests = new WeakMap<ViewState, string>();

/** A digest of the names of the members `view` holds alive (itself among them): equal for views with the same alive members. */
export function aliveDigest(view: ViewState): string {
  let digest = digests.get(view);
  if (digest === undefined) {
    const names = [...view.members.values()].filter((m) => m.status === 'alive').map((m) => m.name).sort();
    digest = createHash('sha256').update(names.join('\n')).digest('base64url');
    digests.set(view, digest);
  }
  return digest;
}

/** What an agent answers on VIEW_DIGEST_PATH. */
export function viewDigestReply(view: ViewState): { digest: string } {
  return { digest: aliveDigest(view) };
}

/** The digest in a reply on VIEW_DIGEST_PATH; undefined when it holds none. */
export function readViewDigest(reply: unknown): string | undefined {
  const digest = (reply as { digest?: unknown } | null | undefined)?.digest;
  return typeof digest === 'string' ? digest : undefined;
}

/** Whether `next` holds a member other than `self` alive that `before` did not hold alive. */
export function someoneJoined(before: ViewState, next: ViewState, self: string): boolean {
  for (const m of next.members.values()) {
    if (m.status === 'alive' && m.name !== self && before.members.get(m.name)?.status !== 'alive') return true;
  }
  return false;
}

/** The quiet wait at place `u` (uniform in [0, 1)) of AFTER_JOINS_QUIET_MS. */
export function afterJoinsQuietMs(u: number): number {
  return AFTER_JOINS_QUIET_MS.min + u * (AFTER_JOINS_QUIET_MS.max - AFTER_JOINS_QUIET_MS.min);
}

/** The time it takes to earn one more push-pull after joins, in a view of `members`. */
export function afterJoinsGapMs(members: number): number {
  return Math.max(AFTER_JOINS_MIN_GAP_MS, members * AFTER_JOINS_GAP_PER_MEMBER_MS);
}

export function startCatchUp(init: CatchUpInit): CatchUp {
  const random = init.random ?? Math.random;
  let stopped = false;
  /** The push-pulls asked of Serf and not yet answered. */
  const pushPulls = new Set<Promise<void>>();
  /**
   * The check, then the push-pull if the views differ. A young member's are logged at debug; one after joins,
   * rare, at info (bench/scale.ts counts them). Never rejects.
   */
  const sync = async (why: 'young' | 'after joins'): Promise<void> => {
    const peer = pickSyncPeer(init.view(), init.self, random);
    if (peer === undefined) return;
    const done = why === 'young' ? init.log.debug.bind(init.log) : init.log.info.bind(init.log);
    const theirs = await Promise.resolve().then(() => init.digestOf(peer.name)).then(readViewDigest, () => undefined);
    if (stopped) return;
    if (theirs === aliveDigest(init.view())) {
      done({ member: peer.name, why }, 'a member\'s view agrees with this one');
      return;
    }
    const checked = theirs !== undefined;
    const pushPull = Promise.resolve().then(() => init.join([peer.serfAddr])).then(
      () => done({ member: peer.name, peer: peer.serfAddr, why, checked }, 'caught up with a member\'s list'),
      (err: unknown) => done({ member: peer.name, peer: peer.serfAddr, why, checked, err: (err as Error).message }, 'catching up with a member\'s list failed'),
    );
    pushPulls.add(pushPull);
    try {
      await pushPull;
    } finally {
      pushPulls.delete(pushPull);
    }
  };
  const young = (init.afterMs ?? CATCH_UP_AFTER_MS).map((ms) => {
    const timer = setTimeout(() => void sync('young'), ms);
    timer.unref();
    return timer;
  });

  /** The view the last change was compared with; the first view seen is where it starts, not a join. */
  let known: ViewState | undefined;
  let quiet: NodeJS.Timeout | undefined;
  /** The token bucket, in ms earned as of filledAt: a push-pull after joins costs one gap, and it holds AFTER_JOINS_BURST gaps. */
  let earnedMs = Number.POSITIVE_INFINITY;
  let filledAt = Date.now();
  const afterJoins = (): void => {
    const gap = afterJoinsGapMs(init.view().members.size);
    const at = Date.now();
    earnedMs = Math.min(AFTER_JOINS_BURST * gap, earnedMs + (at - filledAt));
    filledAt = at;
    if (earnedMs < gap) {
      quiet = setTimeout(afterJoins, gap - earnedMs);
      quiet.unref();
      return;
    }
    quiet = undefined;
    earnedMs -= gap;
    void sync('after joins');
  };
  return {
    viewChanged(view) {
      const before = known;
      known = view;
      if (stopped || before === undefined || before.members.size === 0 || !someoneJoined(before, view, init.self)) return;
      clearTimeout(quiet);
      quiet = setTimeout(afterJoins, afterJoinsQuietMs(random()));
      quiet.unref();
    },
    async stop() {
      stopped = true;
      for (const t of young) clearTimeout(t);
      clearTimeout(quiet);
      await Promise.all(pushPulls);
    },
  };
}
