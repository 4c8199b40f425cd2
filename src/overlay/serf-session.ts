// One TCP connection to a Serf agent's RPC port: writes `{Command, Seq}` +
// body, reads the concatenated msgpack replies and routes each `{Seq, Error}`
// header (and the body that may follow it) to the exchange waiting on that
// Seq. Whether a body follows a header is known only to the exchange, so it
// decides; a header for a Seq nobody waits on (a stream we stopped, a request
// we gave up on) may carry a body, which is recognised by its shape and skipped.
// Must never: reconnect (serf-rpc.ts does), throw from the socket callbacks,
// or let one undecodable message end the connection while framing still holds.

import net from 'node:net';
import { Encoder } from '@msgpack/msgpack';
import { HearthError } from '../model/errors.js';
import { createMsgpackFramer } from './serf-frame.js';
import { decodeSerfFrame } from './serf-decode.js';
import type { Timers } from '../kit/timers.js';
import type { Logger } from '../model/logger.js';
import { isResponseHeader, parseResponseHeader, type ResponseHeader } from './serf-records.js';

export type SerfRpcErrorReason = 'disconnected' | 'closed' | 'rejected' | 'timeout' | 'malformed' | 'unreachable';

/**
 * Every failure of the Serf RPC carries `extra.reason` so callers can tell a
 * lost connection from Serf refusing the request.
 */
export function serfRpcError(
  reason: SerfRpcErrorReason,
  message: string,
  extra: Record<string, unknown> = {},
  cause?: unknown,
): HearthError {
  const code = reason === 'rejected' && /exceeds limit/i.test(message)
    ? 'payload_too_large'
    : reason === 'rejected' || reason === 'malformed' ? 'overlay_rejected' : 'overlay_unavailable';
  return new HearthError(code, message, { ...extra, reason }, cause === undefined ? undefined : { cause });
}

/** The party waiting on one Seq: a request, a stream, or a query. */
export interface Exchange {
  /** Whether Serf sends a body after this header. */
  expectsBody(header: ResponseHeader): boolean;
  /** `body` is undefined when none was expected, or `UNDECODABLE`. */
  deliver(header: ResponseHeader, body: unknown): void;
  /** The connection ended while this exchange was registered. */
  closed(reason: Error): void;
}

/** Stands for a body whose bytes framed correctly but did not decode. */
export const UNDECODABLE = Symbol('undecodable');

/** These errors come without a body even from commands that normally have one. */
const BODILESS_ERRORS: ReadonlySet<string> = new Set([
  'Authentication required',
  'Handshake required',
  'Unsupported command',
]);

export interface SerfSessionInit {
  host: string;
  port: number;
  log: Logger;
  timers: Timers;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Seqs come from the client so a late reply on an old connection can never match a new request. */
  nextSeq(): number;
  onDecodeError(what: string): void;
  onClose(reason: Error): void;
}

export interface SerfSession {
  readonly isClosed: boolean;
  /** Registers `exchange` under a fresh Seq and writes the request; returns the Seq. */
  send(command: string, body: object | undefined, exchange: Exchange): number;
  forget(seq: number): void;
  /**
   * One request, one reply. With `parse`, a body is expected and parsed;
   * without, the reply is a bare header.
   */
  request<T = void>(
    command: string,
    body: object | undefined,
    parse: ((body: unknown) => T | undefined) | undefined,
    opts?: { signal?: AbortSignal },
  ): Promise<T>;
  close(reason: Error): void;
}

export async function openSerfSession(init: SerfSessionInit, opts: { signal?: AbortSignal } = {}): Promise<SerfSession> {
  const socket = await connectSocket(init, opts);
  return wrapSocket(socket, init);
}

function connectSocket(init: SerfSessionInit, opts: { signal?: AbortSignal }): Promise<net.Socket> {
  const { signal } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host: init.host, port: init.port });
    const where = `${init.host}:${init.port}`;
    const fail = (err: unknown): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void =>
      fail(serfRpcError('unreachable', `cannot reach the Serf agent at ${where}: ${err.message}`, { address: where }, err));
    const onAbort = (): void => fail(signal?.reason);
    const timer = init.timers.setTimeout(
      () => fail(serfRpcError('unreachable', `no connection to the Serf agent at ${where} in ${init.connectTimeoutMs} ms`)),
      init.connectTimeoutMs,
    );
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    function cleanup(): void {
      init.timers.clearTimeout(timer);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      signal?.removeEventListener('abort', onAbort);
    }
    socket.once('error', onError);
    socket.once('connect', onConnect);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function wrapSocket(socket: net.Socket, init: SerfSessionInit): SerfSession {
  const framer = createMsgpackFramer();
  // One encoder for the connection's requests: `encode()` makes a new one, with a 2 KiB buffer, every call.
  const encoder = new Encoder();
  const exchanges = new Map<number, Exchange>();
  let awaiting: { header: ResponseHeader; exchange: Exchange } | undefined;
  let skipOrphanBody = false;
  let isClosed = false;

  socket.setNoDelay(true);

  const handleHeader = (obj: unknown): void => {
    const header = obj === UNDECODABLE ? undefined : parseResponseHeader(obj);
    if (header === undefined) {
      if (obj !== UNDECODABLE) init.onDecodeError('a reply header is not {Seq, Error}');
      // Whatever this was, a body may follow it; skip one unless it is a header.
      skipOrphanBody = true;
      return;
    }
    const exchange = exchanges.get(header.seq);
    if (exchange === undefined) {
      skipOrphanBody = true;
      return;
    }
    if (exchange.expectsBody(header) && !BODILESS_ERRORS.has(header.error)) {
      awaiting = { header, exchange };
      return;
    }
    exchange.deliver(header, undefined);
  };

  const handleObject = (obj: unknown): void => {
    const headerShaped = obj !== UNDECODABLE && isResponseHeader(obj);
    if (awaiting !== undefined) {
      const { header, exchange } = awaiting;
      awaiting = undefined;
      if (!headerShaped) {
        exchange.deliver(header, obj);
        return;
      }
      init.onDecodeError(`reply to Seq ${header.seq} lacks its body`);
      exchange.deliver(header, UNDECODABLE);
    } else if (skipOrphanBody) {
      skipOrphanBody = false;
      if (!headerShaped) return;
    }
    handleHeader(obj);
  };

  socket.on('data', (chunk: Buffer) => {
    let frames: Uint8Array[];
    try {
      frames = framer.push(chunk);
    } catch (err) {
      init.onDecodeError(`stream cannot be framed: ${(err as Error).message}`);
      close(serfRpcError('malformed', `Serf RPC stream is corrupt: ${(err as Error).message}`));
      return;
    }
    for (const frame of frames) {
      let obj: unknown;
      try {
        obj = decodeSerfFrame(frame);
      } catch (err) {
        init.onDecodeError(`message does not decode: ${(err as Error).message}`);
        obj = UNDECODABLE;
      }
      try {
        handleObject(obj);
      } catch (err) {
        init.log.error({ err }, 'serf rpc: a reply handler failed');
      }
    }
  });
  socket.on('error', (err) => close(serfRpcError('disconnected', `Serf RPC connection failed: ${err.message}`, {}, err)));
  socket.on('close', () => close(serfRpcError('disconnected', 'Serf RPC connection closed')));

  function close(reason: Error): void {
    if (isClosed) return;
    isClosed = true;
    socket.destroy();
    const pending = [...exchanges.values()];
    exchanges.clear();
    for (const exchange of pending) {
      try {
        exchange.closed(reason);
      } catch (err) {
        init.log.error({ err }, 'serf rpc: a close handler failed');
      }
    }
    init.onClose(reason);
  }

  function send(command: string, body: object | undefined, exchange: Exchange): number {
    const seq = init.nextSeq();
    if (isClosed) {
      exchange.closed(serfRpcError('disconnected', `Serf RPC connection is closed (${command})`, { serfCommand: command }));
      return seq;
    }
    exchanges.set(seq, exchange);
    const header = encoder.encode({ Command: command, Seq: seq });
    socket.write(body === undefined ? header : Buffer.concat([header, encoder.encode(body)]));
    return seq;
  }

  function request<T>(
    command: string,
    body: object | undefined,
    parse: ((body: unknown) => T | undefined) | undefined,
    opts: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const { signal } = opts;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let seq = -1;
      const finish = (): void => {
        init.timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        exchanges.delete(seq);
      };
      const onAbort = (): void => {
        finish();
        reject(signal?.reason);
      };
      const timer = init.timers.setTimeout(() => {
        finish();
        reject(serfRpcError('timeout', `Serf did not answer '${command}' in ${init.requestTimeoutMs} ms`, { serfCommand: command }));
      }, init.requestTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      seq = send(command, body, {
        expectsBody: () => parse !== undefined,
        deliver(header, replyBody) {
          finish();
          const parsed = parse === undefined || replyBody === undefined ? undefined : parse(replyBody);
          if (header.error !== '') {
            const extra: Record<string, unknown> = { serfCommand: command, serfError: header.error };
            if (parsed !== undefined) extra['serfReply'] = parsed;
            reject(serfRpcError('rejected', `Serf refused '${command}': ${header.error}`, extra));
            return;
          }
          if (parse !== undefined && parsed === undefined) {
            init.onDecodeError(`reply to '${command}' has an unexpected shape`);
            reject(serfRpcError('malformed', `Serf's reply to '${command}' has an unexpected shape`, { serfCommand: command }));
            return;
          }
          resolve(parsed as T);
        },
        closed(reason) {
          finish();
          reject(
            serfRpcError('disconnected', `Serf RPC connection lost during '${command}': ${reason.message}`, {
              serfCommand: command,
            }, reason),
          );
        },
      });
    });
  }

  return {
    get isClosed() {
      return isClosed;
    },
    send,
    forget: (seq) => {
      exchanges.delete(seq);
    },
    request,
    close,
  };
}
