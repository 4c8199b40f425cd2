// The peer API client: JSON over HTTPS with mutual TLS to another gateway.
// It presents this gateway's certificate and talks only to a server whose
// certificate fingerprint is the one gossiped for the member it meant to
// reach. Every failure, local or remote, is a PeerError naming that member;
// a problem document from the peer rides along in it.
// Must never: send a byte to an unpinned server, reuse a connection checked
// against a pin that has since changed, or buffer a reply beyond the limit.

import { request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Logger } from '../model/logger.js';
import { PeerError, PeerTimeout, isErrorCode, type ProblemDetails } from '../model/errors.js';
import { parseHostPort } from '../model/host-port.js';
import { isJsonContentType, readBody } from './body.js';
import { PinnedAgent, type ConnectionTimes } from './pinned-agent.js';
import type { PeerMethod } from './router.js';
import type { PeerCredentials, PeerPins } from './trust.js';

export interface PeerClientInit {
  identity: PeerCredentials;
  trust: PeerPins;
  /** Largest reply accepted; default 1 MiB. */
  maxBodyBytes?: number;
  /** Default per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Where a slow call is logged (`slow peer call`, with where its time went on this side). */
  log?: Logger;
  /** A call answered this long after it was sent or later is logged as slow; default 1000 ms. */
  slowCallMs?: number;
}

export interface PeerRequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface PeerClient {
  /**
   * Calls `method path` on `member` at `address` ("host:port", IPv6 in brackets)
   * and resolves with the parsed JSON reply (undefined for an empty one).
   * Rejects with a PeerError, or with `signal.reason` when the caller aborts.
   */
  request(member: string, address: string, method: PeerMethod, path: string, body?: unknown, opts?: PeerRequestOptions): Promise<unknown>;
  /** Closes every kept-alive connection. */
  close(): void;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_SLOW_CALL_MS = 1000;

/**
 * HEARTH_SLOW_PEER_MS: from how many ms on a peer call (client) and a peer
 * request (server) is logged as slow, with where its time went; unset, 1 s
 * each. bench/scale.ts lowers it to see a heal's call and a record's pull,
 * which take well under a second. Anything but a positive whole number is
 * refused, so a typo does not silently log nothing or everything.
 */
export function slowPeerMsFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`HEARTH_SLOW_PEER_MS must be a positive whole number of ms, not ${JSON.stringify(value)}`);
  return ms;
}

export function createPeerClient(init: PeerClientInit): PeerClient {
  const maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const slowCallMs = init.slowCallMs ?? DEFAULT_SLOW_CALL_MS;
  const agents = new Map<string, PinnedAgent>();
  // One TLS context for every connection, built once: given the PEMs instead,
  // each connection would parse the key and certificate again (about 1 ms, a
  // quarter of a pull's CPU on the puller's side). Sessions are still never
  // resumed: Node keeps no client sessions in a context, and the agents cache none.
  const secureContext = createSecureContext({ cert: init.identity.certPem, key: init.identity.keyPem, minVersion: 'TLSv1.3' });

  // One keep-alive pool per member, bound to the pin it was checked against:
  // when a member's gossiped fingerprint changes (re-keyed, or revoked), its
  // old connections go with the old pin.
  function agentFor(member: string, fingerprint: string): PinnedAgent {
    const existing = agents.get(member);
    if (existing?.fingerprint === fingerprint) return existing;
    existing?.destroy();
    const agent = new PinnedAgent({
      member,
      fingerprint,
      options: { keepAlive: true, secureContext },
    });
    agents.set(member, agent);
    return agent;
  }

  async function request(
    member: string,
    address: string,
    method: PeerMethod,
    path: string,
    body?: unknown,
    opts: PeerRequestOptions = {},
  ): Promise<unknown> {
    opts.signal?.throwIfAborted();
    const pin = init.trust.fingerprintOf(member);
    if (pin === undefined) {
      agents.get(member)?.destroy();
      agents.delete(member);
      throw new PeerError(member, `${member} has no gossiped identity (unknown or revoked member)`);
    }
    const target = parseHostPort(address);
    if (target === undefined) throw new PeerError(member, `${member} has a malformed address: ${address}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const timeoutMs = opts.timeoutMs ?? init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
    /** The times of the last attempt (a stale kept-alive connection is tried once more); each attempt sets them before anything reads them. */
    let times!: CallTimes;
    const call = (): Promise<Reply> => {
      times = { sentAt: performance.now(), cpuAt: process.cpuUsage() };
      return send({ agent: agentFor(member, pin), host: target.host, port: target.port, method, path, payload, timeoutMs, signal, maxBodyBytes, times });
    };
    const slow = (outcome: { status: number } | { failed: string }): void => {
      const doneAt = times.doneAt ?? performance.now();
      if (doneAt - times.sentAt < slowCallMs) return;
      // Where a slow call's time went, on this side: a new connection's TCP connect and TLS handshake (the
      // server's accept and handshake are in it), then from the connection to the reply's head (the request
      // written, the server's work, the way back), then the reply's body; null for a step a failed call never
      // reached. And the CPU this process used meanwhile, on all its work: near the call's time, the process
      // was busy itself; far below it, it waited for a core.
      const c = times.connection;
      const cpu = process.cpuUsage(times.cpuAt);
      const span = (from: number | undefined, to: number | undefined): number | null => (from === undefined || to === undefined ? null : Math.round(to - from));
      init.log?.info({
        member, method, path, ...outcome, ms: Math.round(doneAt - times.sentAt), newConnection: c !== undefined,
        ...(c === undefined ? {} : { connectMs: span(c.askedAt, c.connectedAt), tlsMs: span(c.connectedAt, c.securedAt) }),
        socketMs: span(times.sentAt, times.socketAt), answerMs: span(times.socketAt, times.headAt), readMs: span(times.headAt, times.doneAt),
        processCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      }, 'slow peer call');
    };

    let reply: Reply;
    try {
      reply = await call().catch((err: unknown) => {
        // A kept-alive connection the server had just closed as idle: the request
        // never reached it, so it is sent again once on a fresh connection.
        if (err instanceof StaleConnection) return call();
        throw err;
      });
    } catch (err) {
      slow({ failed: timeout.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message });
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timeout.aborted) throw new PeerTimeout(member, `${member} did not answer ${method} ${path} within ${timeoutMs} ms`, { cause: err });
      if (err instanceof PeerError) throw err;
      const cause = err instanceof StaleConnection ? err.cause : err;
      throw new PeerError(member, `${method} ${path} to ${member} failed: ${(cause as Error).message}`, undefined, { cause });
    }
    slow({ status: reply.status });
    return interpret(member, method, path, reply);
  }

  return {
    request,
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

interface Send {
  agent: PinnedAgent;
  host: string;
  port: number;
  method: PeerMethod;
  path: string;
  payload: Buffer | undefined;
  timeoutMs: number;
  signal: AbortSignal;
  maxBodyBytes: number;
  /** Filled in as the call goes. */
  times: CallTimes;
}

/**
 * When (performance.now()) a call was sent (and the process's CPU usage then), had its socket (a new one once its TLS handshake and pin check were
 * done), had the reply's head and its body, as far as it got; and the times of the connection made for it.
 */
interface CallTimes { sentAt: number; cpuAt: NodeJS.CpuUsage; socketAt?: number; headAt?: number; doneAt?: number; connection?: ConnectionTimes | undefined }

type Reply = { status: number; contentType: string | undefined } & ({ kind: 'ok'; bytes: Buffer } | { kind: 'too_large' });

class StaleConnection extends Error {}

function send(s: Send): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    if (s.payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = s.payload.length;
    }
    const { times } = s;
    const before = s.agent.lastMade;
    const req: ClientRequest = httpsRequest({
      agent: s.agent,
      host: s.host,
      port: s.port,
      method: s.method,
      path: s.path,
      headers,
      timeout: s.timeoutMs,
    });
    // A request that finds no free socket has one made as it is created: that connection's times are this call's.
    if (s.agent.lastMade !== before) times.connection = s.agent.lastMade;
    const onAbort = (): void => {
      req.destroy(s.signal.reason as Error);
    };
    s.signal.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => s.signal.removeEventListener('abort', onAbort));
    req.once('error', (err: NodeJS.ErrnoException) => {
      reject(req.reusedSocket && err.code === 'ECONNRESET' ? new StaleConnection(err.message, { cause: err }) : err);
    });
    req.once('socket', () => {
      times.socketAt = performance.now();
      if (req.reusedSocket) times.connection = undefined;
    });
    req.once('response', (res: IncomingMessage) => {
      times.headAt = performance.now();
      readBody(res, s.maxBodyBytes).then((read) => {
        if (read.kind === 'too_large') res.destroy();
        times.doneAt = performance.now();
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], ...read });
      }, reject);
    });
    req.end(s.payload);
  });
}

function interpret(member: string, method: string, path: string, reply: Reply): unknown {
  const what = `${method} ${path} on ${member}`;
  if (reply.kind === 'too_large') throw new PeerError(member, `${what}: the reply is larger than the limit`);
  const text = reply.bytes.toString('utf8');
  let json: unknown;
  if (text.length > 0 && isJsonContentType(reply.contentType)) {
    try {
      json = JSON.parse(text) as unknown;
    } catch (err) {
      throw new PeerError(member, `${what}: the reply is not valid JSON`, undefined, { cause: err });
    }
  }
  if (reply.status >= 200 && reply.status < 300) {
    if (text.length > 0 && json === undefined) throw new PeerError(member, `${what}: the reply is not JSON (${reply.contentType ?? 'no content type'})`);
    return json;
  }
  const problem = asProblem(json);
  const reason = problem === undefined ? `HTTP ${reply.status}` : `${problem.code}: ${problem.detail}`;
  throw new PeerError(member, `${what} failed: ${reason}`, problem);
}

// A peer may run a newer hearth with codes this one does not know; such a
// reply still fails, but without a problem this gateway could misread.
function asProblem(value: unknown): ProblemDetails | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  if (!isErrorCode(p['code']) || typeof p['status'] !== 'number' || typeof p['title'] !== 'string') return undefined;
  return {
    ...p,
    type: typeof p['type'] === 'string' ? p['type'] : 'about:blank',
    title: p['title'],
    status: p['status'],
    code: p['code'],
    detail: typeof p['detail'] === 'string' ? p['detail'] : p['title'],
  };
}
