// The durable client of a Serf agent's RPC (msgpack over TCP, IPC version 1):
// typed commands, event streams and queries. It outlives the agent: when the
// connection drops it reconnects with backoff, handshakes, authenticates and
// re-subscribes every active stream, so a `stream()` handler keeps receiving
// events across a Serf restart. Requests in flight when the connection drops
// reject (reason 'disconnected'); new requests while disconnected reject at once.
// Query ids from `stream('query')` belong to the connection that received
// them: after a reconnect, `respond` to an older id fails.
// Must never: crash on a malformed message (it is skipped and counted in
// `decodeErrors`), give up reconnecting before `close()`, or hard-code an address.

import { EventEmitter } from 'node:events';
import { parseHostPort } from '../model/host-port.js';
import { silentLogger, type Logger } from '../model/logger.js';
import {
  SERF_LIMITS,
  parseCoordinate,
  parseJoin,
  parseKeyring,
  parseMembers,
  parseQueryRecord,
  parseStats,
  parseStreamRecord,
  type SerfCoordinate,
  type SerfEvent,
  type SerfKeyringResult,
  type SerfMember,
  type SerfQueryRecord,
} from './serf-records.js';
import {
  UNDECODABLE,
  openSerfSession,
  serfRpcError,
  type SerfSession,
  type SerfSessionInit,
} from './serf-session.js';
import { HearthError } from '../model/errors.js';
import { realTimers, type Timers } from '../kit/timers.js';

export interface SerfRpcInit {
  /** `host:port` of the agent's RPC listener: IPv4 or `[IPv6]`. */
  address: string;
  /** The agent's `rpc_auth` key, if it has one. */
  authKey?: string;
  log?: Logger;
  /** Reconnect backoff: starts at `initialDelayMs`, doubles per failed attempt, capped at `maxDelayMs`. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  connectTimeoutMs?: number;
  /** How long one request may wait for Serf's reply (a `join` to dead hosts can take 10 s per address). */
  requestTimeoutMs?: number;
  timers?: Timers;
}

export type SerfRpcEvents = {
  /** A connection is up: handshaken, authenticated, and every stream re-subscribed. */
  connected: [];
  /** The connection dropped; the client is reconnecting unless closed. */
  disconnected: [reason: Error];
};

export interface SignalOpts {
  signal?: AbortSignal;
}

/**
 * Serf compiles these as Go regular expressions; one that does not compile
 * makes the agent drop the connection (the call rejects as 'disconnected'
 * and the client reconnects).
 */
export interface SerfMemberFilter {
  /** Tag name → anchored Go (RE2) regular expression the tag value must match. */
  tags?: Record<string, string>;
  /** Anchored regular expression on the status, e.g. `alive|failed`. */
  status?: string;
  /** Anchored regular expression on the node name. */
  name?: string;
}

/** `text` as a regular expression that matches it literally, for a `SerfMemberFilter`. */
export const literalPattern = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface SerfQueryInit {
  name: string;
  payload?: Uint8Array;
  /** Only these node names are asked. */
  filterNodes?: string[];
  /** Tag name → anchored regular expression; only matching nodes are asked. */
  filterTags?: Record<string, string>;
  /** Ask nodes to ack receipt before they respond. */
  requestAck?: boolean;
  /** How long Serf collects responses; Serf picks a default scaled to the cluster size when omitted. */
  timeoutMs?: number;
  /** Extra nodes that relay each response (0–5), for lossy links. */
  relayFactor?: number;
}

export interface SerfQueryResult {
  acks: string[];
  responses: { from: string; payload: Uint8Array }[];
}

export type SerfEventHandler = (event: SerfEvent) => void;

export interface SerfRpc {
  readonly events: EventEmitter<SerfRpcEvents>;
  readonly isConnected: boolean;
  /** Messages that did not decode or had an unexpected shape, skipped since creation. */
  readonly decodeErrors: number;
  /** Connects once (handshake, then auth); later losses are repaired automatically until `close()`. */
  connect(opts?: SignalOpts): Promise<void>;
  /** Stops reconnecting, ends every stream and rejects everything pending. */
  close(): Promise<void>;
  members(opts?: SignalOpts): Promise<SerfMember[]>;
  membersFiltered(filter: SerfMemberFilter, opts?: SignalOpts): Promise<SerfMember[]>;
  /** Sets and deletes this agent's tags (all tags together must encode to at most 512 bytes). */
  tags(change: { set?: Record<string, string>; delete?: string[] }, opts?: SignalOpts): Promise<void>;
  /** Joins the members at `addrs` (`host:port`); returns how many were contacted. */
  join(addrs: string[], replay: boolean, opts?: SignalOpts): Promise<number>;
  /** Gracefully leaves the cluster; the agent then shuts down. */
  leave(opts?: SignalOpts): Promise<void>;
  forceLeave(node: string, opts?: SignalOpts): Promise<void>;
  /**
   * Subscribes to events: `*`, `user`, `user:NAME`, `query`, `query:NAME`,
   * `member-join`, `member-leave`, `member-failed`, `member-update`,
   * `member-reap`, comma-separated. Resolves once Serf accepted the filter,
   * with the function that unsubscribes.
   */
  stream(filter: string, handler: SerfEventHandler, opts?: SignalOpts): Promise<() => Promise<void>>;
  /** Name and payload together at most 512 bytes. */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean, opts?: SignalOpts): Promise<void>;
  /** Acks and responses as they arrive; ends when Serf closes the query. */
  queryRecords(init: SerfQueryInit, opts?: SignalOpts): AsyncIterableIterator<SerfQueryRecord>;
  query(init: SerfQueryInit, opts?: SignalOpts): Promise<SerfQueryResult>;
  /** Answers a query received on this client's stream (payload at most ~1 KiB). */
  respond(id: number, payload: Uint8Array, opts?: SignalOpts): Promise<void>;
  /** The node's Vivaldi coordinate, or null when Serf has none for it. */
  getCoordinate(node: string, opts?: SignalOpts): Promise<SerfCoordinate | null>;
  stats(opts?: SignalOpts): Promise<Record<string, Record<string, string>>>;
  installKey(key: string, opts?: SignalOpts): Promise<SerfKeyringResult>;
  useKey(key: string, opts?: SignalOpts): Promise<SerfKeyringResult>;
  removeKey(key: string, opts?: SignalOpts): Promise<SerfKeyringResult>;
  listKeys(opts?: SignalOpts): Promise<SerfKeyringResult>;
}

interface Subscription {
  filter: string;
  handler: SerfEventHandler;
  /** The Seq of the stream on the current connection. */
  seq: number | undefined;
}

type State = 'idle' | 'connected' | 'reconnecting' | 'closed';

export function createSerfRpc(init: SerfRpcInit): SerfRpc {
  const target = parseHostPort(init.address);
  if (target === undefined) {
    throw new HearthError('invalid_request', `Serf RPC address must be host:port or [ipv6]:port, got '${init.address}'`);
  }
  const log = init.log ?? silentLogger;
  const timers = init.timers ?? realTimers;
  const initialDelayMs = init.reconnect?.initialDelayMs ?? 200;
  const maxDelayMs = init.reconnect?.maxDelayMs ?? 5_000;
  const events = new EventEmitter<SerfRpcEvents>();
  const subscriptions = new Set<Subscription>();
  let state: State = 'idle';
  let session: SerfSession | undefined;
  let seqCounter = 0;
  let decodeErrors = 0;
  let reconnectTimer: unknown;
  let reconnectAttempt = 0;
  const lifecycle = new AbortController();

  const sessionInit: SerfSessionInit = {
    host: target.host,
    port: target.port,
    log,
    timers,
    connectTimeoutMs: init.connectTimeoutMs ?? 5_000,
    requestTimeoutMs: init.requestTimeoutMs ?? 30_000,
    nextSeq: () => seqCounter++,
    onDecodeError(what) {
      decodeErrors++;
      log.warn({ decodeErrors }, `serf rpc: skipped a message: ${what}`);
    },
    onClose: () => undefined,
  };

  /** Opens, handshakes, authenticates and re-subscribes; only then is the session current. */
  async function establish(signal: AbortSignal): Promise<SerfSession> {
    let onLost: (reason: Error) => void = () => undefined;
    const s = await openSerfSession({ ...sessionInit, onClose: (reason) => onLost(reason) }, { signal });
    try {
      await s.request('handshake', { Version: 1 }, undefined, { signal });
      if (init.authKey !== undefined) await s.request('auth', { AuthKey: init.authKey }, undefined, { signal });
      for (const sub of subscriptions) {
        try {
          await subscribe(s, sub, signal);
        } catch (err) {
          if (s.isClosed || signal.aborted) throw err;
          log.error({ err, filter: sub.filter }, 'serf rpc: could not re-subscribe a stream');
        }
      }
    } catch (err) {
      s.close(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    if (s.isClosed) throw serfRpcError('disconnected', 'Serf RPC connection closed while connecting');
    onLost = (reason) => lost(s, reason);
    return s;
  }

  function lost(s: SerfSession, reason: Error): void {
    if (session !== s) return;
    session = undefined;
    for (const sub of subscriptions) sub.seq = undefined;
    if (state === 'closed') return;
    state = 'reconnecting';
    log.warn({ reason: reason.message }, 'serf rpc: connection lost, reconnecting');
    events.emit('disconnected', reason);
    reconnectAttempt = 0;
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** reconnectAttempt);
    reconnectAttempt++;
    reconnectTimer = timers.setTimeout(() => {
      reconnectTimer = undefined;
      establish(lifecycle.signal).then(
        (s) => {
          if (state === 'closed') {
            s.close(serfRpcError('closed', 'Serf RPC client closed'));
            return;
          }
          session = s;
          state = 'connected';
          log.info({ attempts: reconnectAttempt }, 'serf rpc: reconnected');
          events.emit('connected');
        },
        (err: unknown) => {
          if (state === 'closed') return;
          log.debug({ err: (err as Error).message, attempt: reconnectAttempt }, 'serf rpc: reconnect attempt failed');
          scheduleReconnect();
        },
      );
    }, delay);
  }

  function waitConnected(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        events.off('connected', onConnected);
        signal?.removeEventListener('abort', onAbort);
        lifecycle.signal.removeEventListener('abort', onClosed);
      };
      const onConnected = (): void => {
        done();
        resolve();
      };
      const onAbort = (): void => {
        done();
        reject(signal?.reason);
      };
      const onClosed = (): void => {
        done();
        reject(serfRpcError('closed', 'Serf RPC client closed'));
      };
      events.on('connected', onConnected);
      signal?.addEventListener('abort', onAbort, { once: true });
      lifecycle.signal.addEventListener('abort', onClosed, { once: true });
    });
  }

  function current(command: string): SerfSession {
    if (session === undefined || session.isClosed) {
      const why = state === 'closed' ? 'closed' : state === 'idle' ? 'not connected' : 'reconnecting';
      throw serfRpcError(state === 'closed' ? 'closed' : 'disconnected', `Serf RPC client is ${why} ('${command}')`, {
        serfCommand: command,
      });
    }
    return session;
  }

  async function call<T = void>(
    command: string,
    body: object | undefined,
    parse: ((b: unknown) => T | undefined) | undefined,
    opts: SignalOpts,
  ): Promise<T> {
    opts.signal?.throwIfAborted();
    return current(command).request(command, body, parse, opts);
  }

  function subscribe(s: SerfSession, sub: Subscription, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let accepted = false;
      const onAbort = (): void => {
        s.forget(seq);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const seq: number = s.send('stream', { Type: sub.filter }, {
        expectsBody: () => accepted,
        deliver(header, body) {
          if (!accepted) {
            signal?.removeEventListener('abort', onAbort);
            if (header.error !== '') {
              s.forget(seq);
              reject(serfRpcError('rejected', `Serf refused stream '${sub.filter}': ${header.error}`, { serfError: header.error }));
              return;
            }
            accepted = true;
            sub.seq = seq;
            resolve();
            return;
          }
          const event = body === UNDECODABLE ? undefined : parseStreamRecord(body);
          if (event === undefined) {
            if (body !== UNDECODABLE) sessionInit.onDecodeError(`stream '${sub.filter}' sent an unexpected record`);
            return;
          }
          try {
            sub.handler(event);
          } catch (err) {
            log.error({ err, filter: sub.filter }, 'serf rpc: a stream handler threw');
          }
        },
        closed(reason) {
          signal?.removeEventListener('abort', onAbort);
          if (!accepted) reject(reason);
        },
      });
    });
  }

  async function* queryRecords(q: SerfQueryInit, opts: SignalOpts = {}): AsyncGenerator<SerfQueryRecord> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const s = current('query');
    const queue = createPushQueue<SerfQueryRecord>();
    let accepted = false;
    const onAbort = (): void => queue.fail(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const body: Record<string, unknown> = {
      FilterNodes: q.filterNodes ?? [],
      FilterTags: q.filterTags ?? {},
      RequestAck: q.requestAck ?? false,
      RelayFactor: q.relayFactor ?? 0,
      // time.Duration: nanoseconds.
      Timeout: Math.round((q.timeoutMs ?? 0) * 1e6),
      Name: q.name,
      Payload: q.payload ?? new Uint8Array(0),
    };
    const seq = s.send('query', body, {
      expectsBody: () => accepted,
      deliver(header, replyBody) {
        if (!accepted) {
          if (header.error !== '') {
            queue.fail(serfRpcError('rejected', `Serf refused query '${q.name}': ${header.error}`, { serfError: header.error }));
            return;
          }
          accepted = true;
          return;
        }
        const record = replyBody === UNDECODABLE ? undefined : parseQueryRecord(replyBody);
        if (record === undefined) {
          if (replyBody !== UNDECODABLE) sessionInit.onDecodeError(`query '${q.name}' sent an unexpected record`);
        } else if (record === 'done') {
          queue.end();
        } else if (record !== 'closed') {
          queue.push(record);
        }
      },
      closed(reason) {
        queue.fail(serfRpcError('disconnected', `Serf RPC connection lost during query '${q.name}': ${reason.message}`, {}, reason));
      },
    });
    try {
      for (;;) {
        const next = await queue.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      s.forget(seq);
    }
  }

  /** Keyring commands fail as a whole when any node fails; name the nodes and their reasons. */
  async function keyring(command: string, body: object | undefined, opts: SignalOpts): Promise<SerfKeyringResult> {
    try {
      return await call(command, body, parseKeyring, opts);
    } catch (err) {
      const reply = err instanceof HearthError ? (err.extra['serfReply'] as SerfKeyringResult | undefined) : undefined;
      if (reply === undefined || !(err instanceof HearthError)) throw err;
      const nodes = Object.entries(reply.messages).map(([node, msg]) => `${node}: ${msg}`);
      throw new HearthError(err.code, `${err.message} (${nodes.join('; ')})`, { ...err.extra }, { cause: err });
    }
  }

  const keyCommand =
    (command: string) =>
    (key: string, opts: SignalOpts = {}): Promise<SerfKeyringResult> =>
      keyring(command, { Key: key }, opts);

  return {
    events,
    get isConnected() {
      return state === 'connected' && session !== undefined && !session.isClosed;
    },
    get decodeErrors() {
      return decodeErrors;
    },

    async connect(opts = {}) {
      if (state === 'closed') throw serfRpcError('closed', 'Serf RPC client closed');
      if (state === 'connected') return;
      if (state === 'reconnecting') return waitConnected(opts.signal);
      const signal = opts.signal === undefined ? lifecycle.signal : AbortSignal.any([opts.signal, lifecycle.signal]);
      const s = await establish(signal);
      if (state !== 'idle') {
        s.close(serfRpcError('closed', 'Serf RPC client closed'));
        if (state === 'closed') throw serfRpcError('closed', 'Serf RPC client closed');
        return;
      }
      session = s;
      state = 'connected';
      events.emit('connected');
    },

    async close() {
      if (state === 'closed') return;
      state = 'closed';
      if (reconnectTimer !== undefined) timers.clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      lifecycle.abort(serfRpcError('closed', 'Serf RPC client closed'));
      subscriptions.clear();
      const s = session;
      session = undefined;
      s?.close(serfRpcError('closed', 'Serf RPC client closed'));
    },

    members: (opts = {}) => call('members', undefined, parseMembers, opts),

    membersFiltered: (filter, opts = {}) =>
      call(
        'members-filtered',
        { Tags: filter.tags ?? {}, Status: filter.status ?? '', Name: filter.name ?? '' },
        parseMembers,
        opts,
      ),

    tags: (change, opts = {}) => call('tags', { Tags: change.set ?? {}, DeleteTags: change.delete ?? [] }, undefined, opts),

    join: (addrs, replay, opts = {}) => call('join', { Existing: addrs, Replay: replay }, parseJoin, opts),

    leave: (opts = {}) => call('leave', undefined, undefined, opts),

    forceLeave: (node, opts = {}) => call('force-leave', { Node: node }, undefined, opts),

    async stream(filter, handler, opts = {}) {
      opts.signal?.throwIfAborted();
      const s = current('stream');
      const sub: Subscription = { filter, handler, seq: undefined };
      await subscribe(s, sub, opts.signal);
      subscriptions.add(sub);
      return async () => {
        if (!subscriptions.delete(sub)) return;
        const seq = sub.seq;
        sub.seq = undefined;
        const live = session;
        if (seq === undefined || live === undefined || live.isClosed) return;
        live.forget(seq);
        try {
          await live.request('stop', { Stop: seq }, undefined);
        } catch (err) {
          log.debug({ err: (err as Error).message }, 'serf rpc: stop after a lost connection');
        }
      };
    },

    userEvent(name, payload, coalesce, opts = {}) {
      const size = Buffer.byteLength(name) + payload.length;
      if (size > SERF_LIMITS.userEventBytes) {
        return Promise.reject(
          new HearthError('payload_too_large', `user event '${name}' is ${size} bytes; Serf allows ${SERF_LIMITS.userEventBytes}`),
        );
      }
      return call('event', { Name: name, Payload: payload, Coalesce: coalesce }, undefined, opts);
    },

    queryRecords,

    async query(q, opts = {}) {
      const result: SerfQueryResult = { acks: [], responses: [] };
      for await (const record of queryRecords(q, opts)) {
        if (record.type === 'ack') result.acks.push(record.from);
        else result.responses.push({ from: record.from, payload: record.payload });
      }
      return result;
    },

    respond: (id, payload, opts = {}) => call('respond', { ID: id, Payload: payload }, undefined, opts),

    getCoordinate: (node, opts = {}) => call('get-coordinate', { Node: node }, parseCoordinate, opts),

    stats: (opts = {}) => call('stats', undefined, parseStats, opts),

    installKey: keyCommand('install-key'),
    useKey: keyCommand('use-key'),
    removeKey: keyCommand('remove-key'),
    listKeys: (opts = {}) => keyring('list-keys', undefined, opts),
  };
}

/** A one-consumer queue: the Serf reader pushes, the async iterator pulls. */
function createPushQueue<T>(): {
  push(item: T): void;
  end(): void;
  fail(reason: unknown): void;
  next(): Promise<IteratorResult<T, undefined>>;
} {
  const items: T[] = [];
  let ended = false;
  let failed: { reason: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(item) {
      if (ended) return;
      items.push(item);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    fail(reason) {
      if (!ended) failed = { reason };
      ended = true;
      notify();
    },
    async next() {
      for (;;) {
        if (items.length > 0) return { done: false, value: items.shift() as T };
        if (failed !== undefined) throw failed.reason;
        if (ended) return { done: true, value: undefined };
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
