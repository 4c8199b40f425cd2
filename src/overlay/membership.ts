// Keeps the membership view (view.ts) current from a Serf agent: a full
// member list on every (re)connection and every few rounds, member events
// as they stream, the records of members Serf's log says it has news of
// (read at once: the agent streams an event only after a quiet second; a
// failure or a leave, which changes the status alone, taken from the line),
// and Vivaldi coordinates refreshed on a timer, a bounded share of the
// members per round (a member that joined first, then each about every five
// minutes), applied as one change that wakes no listener. One RPC per member
// per round made every agent's work grow with N² at 100 gateways; reading a
// tenth of them every 2 s, and waking every part of the agent each time, was
// still the largest part of an idle agent's CPU at 100, and five a round
// (each once a minute) still half of its Serf calls (BENCHMARKS.md, "Where
// an agent's time goes").
// A member's new tags come from its news alone (and the whole list every few
// rounds), not from the event stream: Serf 0.8.2's coalescer never forgets a
// member-update, so every member event it streams afterwards comes with a
// member-update of every member that ever changed its tags (hashicorp/serf
// #555). At 100 gateways each failure, join or update made every agent
// decode and parse a hundred records; that was most of an agent's work
// when Serf handed a failure on (BENCHMARKS.md, session 36). The caller
// must therefore hand every news line of Serf's log to notice(), as the
// agent does.
// User events are handed to the caller. Nothing here decides trust policy
// beyond what view.ts computes.
// Must never: let a malformed event or a Serf outage throw out of a handler;
// let a member list that was asked for before an event (or a read of
// members with news) undo it.

import type { Logger } from '../model/logger.js';
import { literalPattern, type SerfRpc } from './serf-rpc.js';
import type { SerfCoordinate, SerfEvent, SerfMember } from './serf-records.js';
import type { MemberNews } from './serf-log.js';
import { EMPTY_VIEW, applyEvent, applyMembers, applySnapshot, withCoordinates, withStatus, type ViewState } from './view.js';

export interface MembershipInit {
  rpc: SerfRpc;
  log: Logger;
  /** How often coordinates are read from the local Serf (a cheap local call each). */
  coordinateIntervalMs?: number;
  /** At least this many members' coordinates (this gateway's among them) are read per round; default 2. */
  coordinatesPerRound?: number;
  /** At size, enough are read per round that each member's is read again about this often; default 5 min. */
  coordinateRefreshMs?: number;
  /**
   * Every this many coordinate rounds the whole member list is read again too; default 15 (30 s).
   * A safety net: Serf's log lines and its event stream bring every change first (a member's new tags, its
   * log lines alone: the stream leaves member-update out, see the head of this file). Every 10 s, its
   * decoding was most of an idle agent's CPU at 100 gateways (BENCHMARKS.md, session 23).
   */
  refreshEveryTicks?: number;
  /** User events (name and payload) from the community. */
  onUserEvent?: (name: string, payload: Uint8Array) => void;
  /**
   * Called after every change of a member's status, address or tags.
   * Coordinates move a little at every read, so they are taken into the view
   * silently: a reader that wants them reads `view` when it needs them.
   */
  onChange?: (view: ViewState) => void;
  /** How long news of members gathers before their records are read in one call; default 100 ms. */
  noticeSettleMs?: number;
}

export interface Membership {
  readonly view: ViewState;
  start(opts?: { signal?: AbortSignal }): Promise<void>;
  stop(): Promise<void>;
  /** Read the whole member list again now. */
  refresh(opts?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Serf has news of this member (its log said so): its new status taken at once when the news says it (as an
   * event would be), and otherwise (a join, an update, a member not in the view) its record read soon, before
   * the event streams.
   */
  notice(news: MemberNews): void;
}

/** The events streamed: member-update is not among them (see the head of this file). */
const STREAMED_EVENTS = 'member-join,member-leave,member-failed,member-reap,user';

export function createMembership(init: MembershipInit): Membership {
  const { rpc, log } = init;
  let view: ViewState = EMPTY_VIEW;
  let unsubscribe: (() => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const set = (next: ViewState, notify = true): void => {
    if (next === view) return;
    // One line per member whose state changed: the record from which
    // convergence and failure-detection times are measured (bench/community.ts).
    for (const [name, m] of next.members) {
      const before = view.members.get(name);
      if (before?.status !== m.status) log.info({ member: name, status: m.status, was: before?.status ?? null }, 'member state');
    }
    for (const name of view.members.keys()) {
      if (!next.members.has(name)) log.info({ member: name, status: 'reaped', was: view.members.get(name)?.status ?? null }, 'member state');
    }
    view = next;
    if (notify) init.onChange?.(view);
  };

  /** Member events applied so far, and the count at the last event of each member a list in flight may predate. */
  let applied = 0;
  const lastEvent = new Map<string, number>();
  let listsInFlight = 0;
  /** Records an event of these members, `at` in the count (the next unless given), for the lists in flight. */
  const eventOf = (names: Iterable<string>, at = ++applied): void => {
    if (listsInFlight > 0) for (const name of names) lastEvent.set(name, at);
  };

  const onEvent = (event: SerfEvent): void => {
    if (event.type === 'user') {
      try {
        init.onUserEvent?.(event.name, event.payload);
      } catch (err) {
        log.warn({ event: event.name, err: (err as Error).message }, 'user event handler failed');
      }
      return;
    }
    if (event.type !== 'query') eventOf(event.members.map((m) => m.name));
    set(applyEvent(view, event));
  };

  /**
   * Reads members from Serf and applies them; a member that had an event
   * applied while the read was under way keeps the event's state.
   */
  const readApplying = async (
    read: () => Promise<SerfMember[]>,
    apply: (state: ViewState, members: readonly SerfMember[], newer: ReadonlySet<string>) => ViewState,
    news = false,
  ): Promise<void> => {
    // A read of members with news counts as an event for them, as of when it was asked: Serf answers one
    // connection's calls in order, so a list asked before it is older, and must not undo what it read (a
    // member Serf just learnt of, gone again until its event).
    const ticket = news ? ++applied : undefined;
    const asked = applied;
    listsInFlight++;
    try {
      const members = await read();
      const newer = new Set([...lastEvent].filter(([, at]) => at > asked).map(([name]) => name));
      set(apply(view, members, newer));
      if (ticket !== undefined) eventOf(members.map((m) => m.name), ticket);
    } finally {
      if (--listsInFlight === 0) lastEvent.clear();
    }
  };

  const refresh = (opts: { signal?: AbortSignal } = {}): Promise<void> => readApplying(() => rpc.members(opts), applySnapshot);

  /** Members with news not yet read; one read at a time, each for all the news gathered. */
  const noticed = new Set<string>();
  let noticeTimer: NodeJS.Timeout | undefined;
  let reading = false;

  const readNoticed = async (): Promise<void> => {
    noticeTimer = undefined;
    if (stopped || reading || noticed.size === 0 || !rpc.isConnected) return;
    const names = [...noticed];
    noticed.clear();
    reading = true;
    try {
      await readApplying(() => rpc.membersFiltered({ name: `(?:${names.map(literalPattern).join('|')})` }), applyMembers, true);
    } catch (err) {
      // The event stream and the periodic list still bring the change.
      log.debug({ members: names, err: (err as Error).message }, 'reading members with news failed');
    } finally {
      reading = false;
      // News that came during the read is read next.
      if (noticed.size > 0) scheduleRead();
    }
  };

  const scheduleRead = (): void => {
    if (noticeTimer !== undefined || stopped) return;
    noticeTimer = setTimeout(() => void readNoticed(), init.noticeSettleMs ?? 100);
    noticeTimer.unref();
  };

  /** Where the round-robin over the members' coordinates stands, and the members whose coordinate was asked for at least once. */
  let cursor = 0;
  const asked = new Set<string>();
  const refreshCoordinates = async (all = false): Promise<void> => {
    const members = [...view.members.keys()];
    for (const name of asked) if (!view.members.has(name)) asked.delete(name);
    const perRefresh = Math.ceil(members.length * (init.coordinateIntervalMs ?? 2000) / (init.coordinateRefreshMs ?? 300_000));
    const share = all ? members.length : Math.min(members.length, Math.max(init.coordinatesPerRound ?? 2, perRefresh));
    // Members that joined since they were last asked go first; the round-robin fills the rest.
    const names = new Set(members.filter((name) => !asked.has(name)).slice(0, share));
    let i = 0;
    for (; names.size < share; i++) names.add(members[(cursor + i) % members.length] as string);
    cursor = members.length === 0 ? 0 : (cursor + i) % members.length;
    const read = new Map<string, SerfCoordinate | null>();
    for (const name of names) {
      if (stopped || !rpc.isConnected) break;
      asked.add(name);
      try {
        read.set(name, await rpc.getCoordinate(name));
      } catch (err) {
        log.debug({ member: name, err: (err as Error).message }, 'no coordinate');
      }
    }
    set(withCoordinates(view, read), false);
  };

  const onConnected = (): void => {
    // After a Serf restart the stream is re-subscribed by the client; the
    // list may have changed meanwhile, so read it whole again.
    refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'member list refresh failed'));
  };

  return {
    get view() {
      return view;
    },
    async start(opts = {}) {
      stopped = false;
      rpc.events.on('connected', onConnected);
      unsubscribe = await rpc.stream(STREAMED_EVENTS, onEvent, opts);
      await refresh(opts);
      // The member list is read whole again every few ticks as well: an
      // event Serf failed to stream to us would otherwise leave the view
      // stale (a member shown alive long after it left) until a reconnect.
      let ticks = 0;
      const tick = (): void => {
        timer = setTimeout(() => {
          ticks++;
          const listed = ticks % (init.refreshEveryTicks ?? 15) === 0
            ? refresh().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'member list refresh failed'))
            : Promise.resolve();
          void listed.then(() => refreshCoordinates()).finally(() => {
            if (!stopped) tick();
          });
        }, init.coordinateIntervalMs ?? 2000);
        timer.unref();
      };
      // Every member's coordinate first, then the ticks; the start does not wait for them: one call a member,
      // on a busy machine they held a joiner's start for seconds (BENCHMARKS.md, session 39).
      void refreshCoordinates(true)
        .catch((err: unknown) => log.debug({ err: (err as Error).message }, 'reading the coordinates failed'))
        .finally(() => {
          if (!stopped) tick();
        });
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      if (noticeTimer !== undefined) clearTimeout(noticeTimer);
      noticeTimer = undefined;
      noticed.clear();
      rpc.events.off('connected', onConnected);
      await unsubscribe?.().catch(() => undefined);
      unsubscribe = undefined;
    },
    refresh,
    notice({ member, status }) {
      if (stopped) return;
      const next = status === undefined ? view : withStatus(view, member, status);
      if (next !== view) {
        // A failure is acted on (healing) a Serf round trip sooner: on a loaded box that call took seconds
        // (BENCHMARKS.md, session 21). Counted as an event, so a list or read asked for before it does not undo it.
        eventOf([member]);
        set(next);
      }
      // The status was all the news said, and the view has the rest of the record: nothing to read. At a failure
      // every agent reading the failed member's record was a burst of Serf calls while the heal waited for a core.
      if (status !== undefined && view.members.has(member)) return;
      noticed.add(member);
      scheduleRead();
    },
  };
}
