// A member that has just joined catches up on what the gossip did not bring
// it. memberlist gossips a rumor to members the sender knows; while a new
// member's own join is still spreading, most senders do not know it yet, so
// the rumors of those seconds (other members joining beside it, as a whole
// neighbourhood does after a power cut) mostly pass it by, and it learns
// them at the next push-pull: on `wan` a minute or more later. At 100
// gateways joining ten at a time, a member that had joined 1-2 s before
// missed a join in three of the six runs that missed one (BENCHMARKS.md,
// session 27). So after its overlay starts, a member asks
// Serf for a few early push-pulls (a `join` of one alive member: both
// exchange their whole member lists), at growing intervals. A push-pull
// changes no tags, so the others' agents do no work for it (an extra tag
// update per joiner made the joins 6-8 times slower, f4a737e).
// Must never: sync with itself, throw out of a timer, or run after stop.

import type { Logger } from '../model/logger.js';
import type { ViewState } from './view.js';

/** When, after the overlay started, a young member asks for a push-pull (ms). */
export const CATCH_UP_AFTER_MS: readonly number[] = [2000, 4000, 8000, 16000];

export interface CatchUpInit {
  self: string;
  view: () => ViewState;
  /** Serf's join of these gossip addresses, without replaying old user events: one push-pull each. */
  join: (addresses: string[]) => Promise<unknown>;
  log: Logger;
  /** Uniform in [0, 1); Math.random unless a test gives one. */
  random?: () => number;
  afterMs?: readonly number[];
}

/** The gossip address of one alive member other than `self`, drawn; undefined when there is none. */
export function pickSyncPeer(view: ViewState, self: string, random: () => number): string | undefined {
  const others = [...view.members.values()].filter((m) => m.name !== self && m.status === 'alive');
  return others[Math.floor(random() * others.length)]?.serfAddr;
}

/** Schedules the catch-up push-pulls; the returned function cancels those not yet made. */
export function startCatchUp(init: CatchUpInit): () => void {
  const random = init.random ?? Math.random;
  const timers = (init.afterMs ?? CATCH_UP_AFTER_MS).map((ms) => {
    const timer = setTimeout(() => {
      const peer = pickSyncPeer(init.view(), init.self, random);
      if (peer === undefined) return;
      init.join([peer]).then(
        () => init.log.debug({ peer }, 'caught up with a member\'s list'),
        (err: unknown) => init.log.debug({ peer, err: (err as Error).message }, 'catching up with a member\'s list failed'),
      );
    }, ms);
    timer.unref();
    return timer;
  });
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}
