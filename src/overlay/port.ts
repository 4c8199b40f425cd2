// The overlay port: what the rest of hearth may ask of the community's
// gossip layer. Serf backs it in the agent (serf-overlay.ts); the simulator
// will back it with a model, and one contract suite runs against both
// (test/contract/overlay.contract.ts).
// Must never: expose Serf's own types or its RPC; only the view, events,
// digests, user events and queries.

import type { ViewState } from './view.js';

/** Serf's limits: a user event's name + payload, and a query's or its answer's payload. */
export const OVERLAY_LIMITS = { userEventBytes: 512, queryBytes: 1024 } as const;

/** Serf does not say who asked: a handler answers the payload alone (or not at all, with undefined). */
export type QueryHandler = (payload: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface QueryOptions {
  /** Only these members are asked. */
  members?: readonly string[];
  /** How long answers are collected. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface OverlayPort {
  /** This gateway's member name. */
  readonly self: string;
  /** The membership view now. */
  view(): ViewState;
  /** Called after every change of a member's status, address or tags (coordinates alone move silently); returns the unsubscribe. */
  onView(listener: (view: ViewState) => void): () => void;
  /** Called for every user event with that name; returns the unsubscribe. */
  onUserEvent(name: string, listener: (payload: Uint8Array) => void): () => void;
  /** Answers queries with that name (one handler a name); returns the unsubscribe. */
  onQuery(name: string, handler: QueryHandler): () => void;
  /**
   * Gossips `digest` under `key` in this gateway's tags (undefined drops it);
   * others see it in their view. A key is 1-4 lower-case letters, a digest 11
   * base64url characters; anything else throws (a caller's bug).
   */
  publishDigest(key: string, digest: string | undefined): void;
  /** The digests this gateway gossips now. */
  digests(): Readonly<Record<string, string>>;
  /** Broadcasts a user event to every member, this one included. */
  userEvent(name: string, payload: Uint8Array, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Asks the members and collects their answers until the timeout. */
  query(name: string, payload: Uint8Array, opts?: QueryOptions): Promise<{ from: string; payload: Uint8Array }[]>;
}

/** Listener sets for a port implementation: subscribe, unsubscribe, and fan out without one listener's throw reaching another. */
export function createListeners<A extends unknown[]>(onError: (err: unknown) => void): {
  add(listener: (...args: A) => void): () => void;
  emit(...args: A): void;
} {
  const listeners = new Set<(...args: A) => void>();
  return {
    add(listener) {
      const wrapped = (...args: A): void => listener(...args);
      listeners.add(wrapped);
      return () => void listeners.delete(wrapped);
    },
    emit(...args) {
      for (const listener of [...listeners]) {
        try {
          listener(...args);
        } catch (err) {
          onError(err);
        }
      }
    },
  };
}
