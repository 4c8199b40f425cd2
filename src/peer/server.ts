// The peer API server: HTTPS with mutual TLS on the community-facing address.
// Callers are authenticated by pinning: their client certificate's
// fingerprint must be the one gossiped for a member that is not revoked
// (`PeerTrust`). The check runs on every request, not once per connection, so
// a revocation also closes the door on kept-alive connections. Strangers get a
// 403 problem document (friendlier to debug than a dropped connection) and the
// connection is closed after it.
// Must never: serve a route before the caller is authenticated, trust a CA
// chain or a certificate name, or buffer a body beyond the limit.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { HearthError, type ErrorCode } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { isJsonContentType, readBody } from './body.js';
import { createPeerRouter, isPeerMethod, type PeerRoute } from './router.js';
import { fingerprintOfCertificate, type PeerCredentials, type PeerTrust } from './trust.js';
import type { HostPort } from '../model/host-port.js';

export interface PeerServerInit {
  identity: PeerCredentials;
  /** This gateway's member name, reported by the hello route. */
  name: string;
  trust: PeerTrust;
  host: string;
  /** 0 picks a free port; `start()` reports it. */
  port: number;
  routes?: readonly PeerRoute[];
  /** Largest request body accepted; default 1 MiB. */
  maxBodyBytes?: number;
  /** A request answered this long (ms) after it arrived, or after its connection's handshake, is logged with where the time went; default 1000. */
  slowRequestMs?: number;
  log?: Logger;
}

export interface PeerServer {
  start(opts?: { signal?: AbortSignal }): Promise<HostPort>;
  /** Closes the listener and every connection, and aborts handlers still running; immediate. */
  stop(): Promise<void>;
  /** Where the server listens, once started. */
  address(): HostPort | undefined;
}

export const HELLO_PATH = '/peer/v1/hello';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
// A body over the limit is read and thrown away, so the 413 reaches a client
// still sending (closing early would reset the connection under its reply);
// a body this many times over the limit is not worth the bandwidth.
const DISCARD_FACTOR = 4;
const DEFAULT_SLOW_REQUEST_MS = 1000;

export function createPeerServer(init: PeerServerInit): PeerServer {
  const maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const hello: PeerRoute = {
    method: 'GET',
    path: HELLO_PATH,
    handler: () => Promise.resolve({ body: { id: init.identity.id, name: init.name } }),
  };
  const router = createPeerRouter([hello, ...(init.routes ?? [])]);
  const inFlight = new Set<AbortController>();
  const slowRequestMs = init.slowRequestMs ?? DEFAULT_SLOW_REQUEST_MS;
  /**
   * When each connection was accepted and its handshake ended, until its first request arrives: a new connection's
   * handshake and wait are part of that request's time. Accepted sockets are known by their peer's address and port
   * until their handshake ends (the TLS socket wraps the accepted one).
   */
  const securedAt = new WeakMap<object, { accepted: number | undefined; secured: number }>();
  const acceptedAt = new Map<string, { socket: Socket; at: number }>();
  const peerKey = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string => `${socket.remoteAddress ?? ''} ${String(socket.remotePort)}`;
  let server: Server | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const connection = securedAt.get(req.socket);
    securedAt.delete(req.socket);
    const url = new URL(req.url ?? '/', 'https://peer.invalid');
    const instance = url.pathname;
    const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
    if (raw === undefined) {
      refuse(req, res, instance, 'a client certificate is required');
      return;
    }
    const fingerprint = fingerprintOfCertificate(raw);
    const member = init.trust.memberByFingerprint(fingerprint);
    if (member === undefined) {
      refuse(req, res, instance, `certificate ${fingerprint} is not the gossiped identity of any member in good standing`);
      return;
    }

    const method = req.method ?? '';
    const match = isPeerMethod(method) ? router.match(method, url.pathname) : { kind: 'not_found' as const };
    if (match.kind === 'not_found') {
      sendError(res, new HearthError('route_not_found', `no peer route ${method} ${url.pathname}`), instance);
      return;
    }
    if (match.kind === 'method_not_allowed') {
      res.setHeader('Allow', match.allow.join(', '));
      sendError(res, new HearthError('method_not_allowed', `${method} is not allowed on ${url.pathname}`), instance);
      return;
    }

    const body = await readJsonBody(req, res, maxBodyBytes, instance);
    if (body === rejected) return;
    const read = performance.now();
    const cpuBefore = process.cpuUsage();

    const controller = new AbortController();
    inFlight.add(controller);
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the caller went away'));
      inFlight.delete(controller);
    });
    try {
      const reply = await match.route.handler({
        member,
        fingerprint,
        method: match.route.method,
        path: url.pathname,
        params: match.params,
        query: url.searchParams,
        body,
        signal: controller.signal,
      });
      if (controller.signal.aborted) return;
      const handled = performance.now();
      const cpu = process.cpuUsage(cpuBefore);
      if (reply.body === undefined) {
        res.writeHead(reply.status ?? 204).end();
      } else {
        sendJson(res, reply.status ?? 200, 'application/json', reply.body);
      }
      const replied = performance.now();
      const since = connection?.accepted ?? connection?.secured ?? arrived;
      if (replied - since >= slowRequestMs) {
        // Where a slow answer's time went, on this side: a new connection's handshake from its accept, the wait for
        // the request after it, reading its body, the route (and the process's CPU meanwhile: a route much longer
        // than its CPU waited for a core or a disk), and writing the reply. The accept queue and the network are not in it.
        init.log?.info({
          member, method, path: url.pathname, ms: Math.round(replied - since),
          ...(connection === undefined ? {} : {
            ...(connection.accepted === undefined ? {} : { handshakeMs: Math.round(connection.secured - connection.accepted) }),
            afterHandshakeMs: Math.round(arrived - connection.secured),
          }),
          readMs: Math.round(read - arrived), routeMs: Math.round(handled - read),
          routeCpuMs: Math.round((cpu.user + cpu.system) / 1000), replyMs: Math.round(replied - handled),
        }, 'slow peer request');
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      if (err instanceof HearthError) {
        sendError(res, err, instance);
      } else {
        init.log?.error({ err, member, method, path: url.pathname }, 'peer route failed');
        sendError(res, new HearthError('internal'), instance);
      }
    }
  }

  function refuse(req: IncomingMessage, res: ServerResponse, instance: string, detail: string): void {
    init.log?.warn({ remote: req.socket.remoteAddress, path: instance, detail }, 'refused a peer caller');
    res.setHeader('Connection', 'close');
    sendError(res, new HearthError('forbidden', detail), instance);
  }

  // Returns `rejected` after answering with a problem document itself.
  async function readJsonBody(req: IncomingMessage, res: ServerResponse, limit: number, instance: string): Promise<unknown> {
    const length = req.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) return undefined;
    const fail = (code: ErrorCode, detail: string): typeof rejected => {
      discardRest(req, limit * DISCARD_FACTOR);
      sendError(res, new HearthError(code, detail), instance);
      return rejected;
    };
    if (!isJsonContentType(req.headers['content-type'])) {
      return fail('unsupported_media_type', `content type ${req.headers['content-type'] ?? '(none)'} is not application/json`);
    }
    const tooLarge = `the body is larger than ${limit} bytes`;
    if (length !== undefined && Number(length) > limit) return fail('payload_too_large', tooLarge);
    const read = await readBody(req, limit);
    if (read.kind === 'too_large') return fail('payload_too_large', tooLarge);
    if (read.bytes.length === 0) return undefined;
    try {
      return JSON.parse(read.bytes.toString('utf8')) as unknown;
    } catch (err) {
      sendError(res, new HearthError('malformed_json', (err as Error).message), instance);
      return rejected;
    }
  }

  function listener(req: IncomingMessage, res: ServerResponse): void {
    handle(req, res).catch((err: unknown) => {
      // The caller vanished mid-body, or the trust lookup threw.
      if (!res.headersSent && !res.destroyed) sendError(res, new HearthError('internal'), req.url ?? '/');
      init.log?.warn({ err, remote: req.socket.remoteAddress }, 'peer request failed');
    });
  }

  return {
    async start(opts = {}) {
      const { signal } = opts;
      signal?.throwIfAborted();
      if (server !== undefined) throw new Error('peer server already started');
      const s = createServer(
        {
          cert: init.identity.certPem,
          key: init.identity.keyPem,
          requestCert: true,
          // Certificates are self-signed: callers are checked by fingerprint per request.
          rejectUnauthorized: false,
          // TLS 1.3 encrypts the client certificate, so a passive observer on the
          // community network cannot tell which gateways talk to each other.
          minVersion: 'TLSv1.3',
        },
        listener,
      );
      s.on('connection', (socket: Socket) => {
        const key = peerKey(socket);
        acceptedAt.set(key, { socket, at: performance.now() });
        // A handshake that never ends leaves nothing behind (nor takes a later connection's entry from the same port).
        socket.once('close', () => {
          if (acceptedAt.get(key)?.socket === socket) acceptedAt.delete(key);
        });
      });
      s.on('secureConnection', (socket) => {
        const key = peerKey(socket);
        securedAt.set(socket, { accepted: acceptedAt.get(key)?.at, secured: performance.now() });
        acceptedAt.delete(key);
      });
      server = s;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          s.off('listening', onListening);
          s.close();
          reject(signal?.reason);
        };
        const onError = (err: Error): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        };
        const onListening = (): void => {
          signal?.removeEventListener('abort', onAbort);
          s.off('error', onError);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        s.once('error', onError);
        s.once('listening', onListening);
        s.listen(init.port, init.host);
      }).catch((err: unknown) => {
        server = undefined;
        throw err;
      });
      const bound = address();
      if (bound === undefined) throw new Error('peer server has no address after listening');
      return bound;
    },

    stop() {
      const s = server;
      if (s === undefined) return Promise.resolve();
      server = undefined;
      for (const controller of inFlight) controller.abort(new Error('the peer server is stopping'));
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      return closed;
    },

    address,
  };

  function address(): HostPort | undefined {
    const bound = server?.address() as AddressInfo | string | null | undefined;
    return bound !== null && typeof bound === 'object' ? { host: bound.address, port: bound.port } : undefined;
  }
}

const rejected: unique symbol = Symbol('rejected');

function discardRest(req: IncomingMessage, cap: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > cap) req.socket.destroy();
  });
  req.resume();
}

function sendError(res: ServerResponse, err: HearthError, instance: string): void {
  sendJson(res, err.status, 'application/problem+json', err.toProblem(instance));
}

function sendJson(res: ServerResponse, status: number, contentType: string, value: unknown): void {
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': payload.length }).end(payload);
}
