// Keeps the membership view (view.ts) current from a Serf agent: a full
// member list on every (re)connection and every few rounds, member events
// as they stream, and Vivaldi coordinates refreshed on a timer. User events are handed to the
// caller. Nothing here decides trust policy beyond what view.ts computes.
// Must never: let a malformed event or a Serf outage throw out of a handler.

import type { Logger } from '../model/logger.js';
import type { SerfRpc } from './serf-rpc.js';
import type { SerfEvent } from './serf-records.js';
import { EMPTY_VIEW, applyEvent, applySnapshot, withCoordinate, type ViewState } from './view.js';

export interface MembershipInit {
  rpc: SerfRpc;
  log: Logger;
  /** How often every member's coordinate is read from the local Serf (a cheap local call). */
  coordinateIntervalMs?: number;
  /** Every this many coordinate rounds the whole member list is read again too; default 5. */
  refreshEveryTicks?: number;
  /** User events (name and payload) from the community. */
  onUserEvent?: (name: string, payload: Uint8Array) => void;
  /** Called after every change of the view. */
  onChange?: (view: ViewState) => void;
}

export interface Membership {
  readonly view: ViewState;
  start(opts?: { signal?: AbortSignal }): Promise<void>;
  stop(): Promise<void>;
  /** Read the whole member list again now. */
  refresh(opts?: { signal?: AbortSignal }): Promise<void>;
}

const MEMBER_EVENTS = 'member-join,member-leave,member-failed,member-update,member-reap,user';

export function createMembership(init: MembershipInit): Membership {
  const { rpc, log } = init;
  let view: ViewState = EMPTY_VIEW;
  let unsubscribe: (() => Promise<void>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const set = (next: ViewState): void => {
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
    init.onChange?.(view);
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
    set(applyEvent(view, event));
  };

  const refresh = async (opts: { signal?: AbortSignal } = {}): Promise<void> => {
    set(applySnapshot(view, await rpc.members(opts)));
  };

  const refreshCoordinates = async (): Promise<void> => {
    for (const name of view.members.keys()) {
      if (stopped || !rpc.isConnected) return;
      try {
        set(withCoordinate(view, name, await rpc.getCoordinate(name)));
      } catch (err) {
        log.debug({ member: name, err: (err as Error).message }, 'no coordinate');
      }
    }
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
      unsubscribe = await rpc.stream(MEMBER_EVENTS, onEvent, opts);
      await refresh(opts);
      await refreshCoordinates();
      // The member list is read whole again every few ticks as well: an
      // event Serf failed to stream to us would otherwise leave the view
      // stale (a member shown alive long after it left) until a reconnect.
      let ticks = 0;
      const tick = (): void => {
        timer = setTimeout(() => {
          ticks++;
          const listed = ticks % (init.refreshEveryTicks ?? 5) === 0
            ? refresh().catch((err: unknown) => log.debug({ err: (err as Error).message }, 'member list refresh failed'))
            : Promise.resolve();
          void listed.then(refreshCoordinates).finally(() => {
            if (!stopped) tick();
          });
        }, init.coordinateIntervalMs ?? 2000);
        timer.unref();
      };
      tick();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      rpc.events.off('connected', onConnected);
      await unsubscribe?.().catch(() => undefined);
      unsubscribe = undefined;
    },
    refresh,
  };
}
