// /api/v1/stream: one WebSocket of what changes on this gateway, for the
// portal. A browser cannot put the owner token in a WebSocket's headers, so
// the first message authenticates; then the gateway sends the member view,
// the community status and the service directory as whole snapshots (again
// whenever one changes) and every event of its log in order, each once.
// A client that reconnects passes the last event sequence it saw and gets
// exactly what it missed. A user (signed in with their key) sees the
// snapshots and the events of their own slivers and slices only. One hub
// polls the sources a few times a second while anyone listens, so the cost
// does not grow with the listeners.
// Must never: send an event twice or out of order to one client, or
// anything before the token checks out.

import type { EventRecord } from '../store/store.js';
import { HearthError, type ProblemDetails } from '../model/errors.js';

/** What the stream reads; the API's own sources. */
export interface StreamSources {
  self: string;
  /** As GET /api/v1/nodes; undefined when the gateway is in no community. */
  nodes(): unknown;
  /** As GET /api/v1/community; null when the gateway is in no community. */
  community(): unknown;
  /** As GET /api/v1/services' items. */
  services(): unknown[];
  events(after: number, limit: number): EventRecord[];
  latestSeq(): number;
}

export type StreamMessage =
  | { type: 'ready'; self: string; seq: number }
  | { type: 'nodes'; self: string; community: string; items: unknown[] }
  | { type: 'community'; status: unknown }
  | { type: 'services'; items: unknown[] }
  | { type: 'event'; event: EventRecord }
  | { type: 'error'; problem: ProblemDetails };

export interface StreamClient {
  send(message: StreamMessage): void;
  /** Whether this client may see the event (a user sees only their own slivers' and slices'); all when absent. */
  sees?(event: EventRecord): boolean;
}

export interface StreamHub {
  /** Sends the greeting, the snapshots and the events after `after` (or the last BACKLOG); returns the way out. */
  join(client: StreamClient, after: number | undefined): () => void;
  /** One poll of the sources: new events and changed snapshots to every client. */
  tick(): void;
  readonly clients: number;
}

/** The events a client that names no sequence gets on joining. */
export const BACKLOG = 100;
const PAGE = 500;

type Snapshot = 'nodes' | 'community' | 'services';

export function createStreamHub(sources: StreamSources): StreamHub {
  const clients = new Set<StreamClient>();
  let seq = sources.latestSeq();
  const last = new Map<Snapshot, string>();

  const snapshot = (kind: Snapshot): StreamMessage => {
    switch (kind) {
      case 'nodes': {
        const view = sources.nodes() as { self: string; community: string; items: unknown[] } | undefined;
        return { type: 'nodes', ...(view ?? { self: sources.self, community: '', items: [] }) };
      }
      case 'community':
        return { type: 'community', status: sources.community() };
      case 'services':
        return { type: 'services', items: sources.services() };
    }
  };
  const kinds: Snapshot[] = ['nodes', 'community', 'services'];

  /** Every event in (from, to], page by page. */
  const eventsBetween = function* (from: number, to: number): Generator<EventRecord> {
    for (let after = from; after < to;) {
      const page = sources.events(after, PAGE).filter((e) => e.seq <= to);
      if (page.length === 0) return;
      yield* page;
      after = page[page.length - 1]?.seq ?? to;
    }
  };

  return {
    join(client, after) {
      client.send({ type: 'ready', self: sources.self, seq });
      for (const kind of kinds) client.send(snapshot(kind));
      for (const event of eventsBetween(after ?? Math.max(0, seq - BACKLOG), seq)) {
        if (client.sees?.(event) ?? true) client.send({ type: 'event', event });
      }
      clients.add(client);
      return () => void clients.delete(client);
    },
    tick() {
      if (clients.size === 0) return;
      const latest = sources.latestSeq();
      for (const event of eventsBetween(seq, latest)) {
        for (const c of clients) if (c.sees?.(event) ?? true) c.send({ type: 'event', event });
      }
      seq = Math.max(seq, latest);
      for (const kind of kinds) {
        const message = snapshot(kind);
        const key = JSON.stringify(message);
        if (last.get(kind) === key) continue;
        last.set(kind, key);
        for (const c of clients) c.send(message);
      }
    },
    get clients() {
      return clients.size;
    },
  };
}

/** Who a socket's first message says it is: the owner by token, or a user by an RFC 9421 signature of the socket's URL. */
export type Credential = { token: string } | { signature: { input: string; signature: string } };

export interface AuthMessage {
  credential: Credential;
  /** The message's other fields, for the socket's own checks. */
  fields: Record<string, unknown>;
}

const AUTH_SHAPE = '{"type":"auth","token":"<owner token>",…} or {"type":"auth","signature":{"input":"<Signature-Input>","signature":"<Signature>"},…}';

/** The first message on one of the portal's sockets, or the problem that refuses it. */
export function parseAuthMessage(raw: string): AuthMessage {
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    throw new HearthError('malformed_json', `the first message must be JSON: ${AUTH_SHAPE}`);
  }
  const m = message as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || m['type'] !== 'auth') throw new HearthError('invalid_request', `the first message must be ${AUTH_SHAPE}`);
  const { type: _type, token, signature, ...fields } = m;
  const sig = signature as Record<string, unknown> | undefined;
  if (typeof token === 'string' && signature === undefined) return { credential: { token }, fields };
  if (token === undefined && typeof sig === 'object' && sig !== null && typeof sig['input'] === 'string' && typeof sig['signature'] === 'string') {
    return { credential: { signature: { input: sig['input'], signature: sig['signature'] } }, fields };
  }
  throw new HearthError('invalid_request', `the first message must carry a token or a signature, not both: ${AUTH_SHAPE}`);
}

/** A whole-number field of a socket message within [min, max], or the fallback when absent. */
export function wholeField(fields: Record<string, unknown>, name: string, min: number, max: number, fallback: number): number;
export function wholeField(fields: Record<string, unknown>, name: string, min: number, max: number): number | undefined;
export function wholeField(fields: Record<string, unknown>, name: string, min: number, max: number, fallback?: number): number | undefined {
  const value = fields[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new HearthError('invalid_request', `${name} must be a whole number from ${min} to ${max}`, { field: name });
  }
  return value;
}

/** The WebSocket close code for a refused stream: 4000 + the problem's HTTP status. */
export function closeCodeOf(problem: HearthError): number {
  return 4000 + problem.status;
}
