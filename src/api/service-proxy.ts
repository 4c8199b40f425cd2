// The gateway's relay of the community's live streams: a browser that reaches
// this gateway's API but not the community network (the portal through
// `hearth demo`'s bridge, a phone on the owner's LAN) plays an `hls` service
// through `GET /api/v1/services/:gateway/:sliver/:name/stream/<path>`. This
// module checks the path on the service and makes the plain HTTP GET to the
// address the directory gave, streaming the answer back; the route (in
// routes/services.ts) looks the service up.
//
// Why the route is public (no owner token, no user signature): it relays
// only what anyone on the community network may already GET from an
// announced hls service, at the address the directory lists; a player
// (hls.js, a <video>) cannot sign each playlist and segment request; and
// what it may ask is narrow: GET only, a path of plain segments ending in a
// stream file type, no header of the client's passed on (so no token or
// cookie leaves the gateway), bounded in time, size and number at once.
//
// Must never: take an address from the client, buffer a whole answer in
// memory, let an answer the portal's origin would run as a page through
// (the type is kept only when it is a stream's, and scripts are sandboxed),
// or keep an upstream request going once its client has gone.

import { Agent, request, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { Transform, pipeline, type Readable } from 'node:stream';
import { HearthError } from '../model/errors.js';
import { parseHostPort } from '../model/host-port.js';

export interface ProxyLimits {
  /** How long the service may be silent: before it answers, and between two chunks of its answer. */
  timeoutMs: number;
  /** The largest answer relayed; a longer one is cut. */
  maxBytes: number;
  /** Upstream requests at once; one more is refused with proxy_busy. */
  maxConcurrent: number;
}

export const PROXY_LIMITS: ProxyLimits = { timeoutMs: 10_000, maxBytes: 64 * 1024 * 1024, maxConcurrent: 32 };

/** The files of an HLS stream (and of its fragmented-MP4 and subtitle variants). */
export const STREAM_EXTENSIONS = ['m3u8', 'ts', 'm4s', 'mp4', 'm4a', 'm4v', 'aac', 'mp3', 'vtt'] as const;
export const MAX_STREAM_PATH = 256;
const MAX_SEGMENTS = 8;
/** A plain name: no percent-encoding, and no leading dot (so never `.` or `..`, nor a hidden file). */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The Content-Types of stream files; any other is relayed as application/octet-stream. */
const STREAM_TYPES = new Set([
  'application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl',
  'video/mp2t', 'video/mp4', 'video/iso.segment', 'audio/mp4', 'audio/aac', 'audio/mpeg', 'text/vtt',
  'application/octet-stream', 'text/plain',
]);

/**
 * The path to ask the service for, from the rest of the request path as
 * the client sent it (still percent-encoded): 1-8 plain segments, at most
 * 256 characters, the last a stream file. Throws invalid_request (field
 * `path`) otherwise.
 */
export function streamPathOf(raw: string): string {
  const refuse = (why: string): never => {
    throw new HearthError('invalid_request',
      `the path on the service ${why}: it must be 1-${MAX_SEGMENTS} segments of letters, digits, '.', '_' or '-' (none starting with a dot, no %-encoding), `
        + `at most ${MAX_STREAM_PATH} characters, ending in a stream file (${STREAM_EXTENSIONS.map((e) => `.${e}`).join(', ')})`, { field: 'path' });
  };
  if (raw.length > MAX_STREAM_PATH) refuse(`is ${raw.length} characters long`);
  const segments = raw.split('/');
  if (segments.length > MAX_SEGMENTS) refuse(`has ${segments.length} segments`);
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) refuse(bad === '' ? 'has an empty segment' : `has the segment ${JSON.stringify(bad.slice(0, 40))}`);
  const last = segments[segments.length - 1] ?? '';
  const extension = last.includes('.') ? last.slice(last.lastIndexOf('.') + 1).toLowerCase() : '';
  if (!(STREAM_EXTENSIONS as readonly string[]).includes(extension)) refuse(`ends in ${JSON.stringify(last.slice(0, 40))}, not a stream file`);
  return `/${raw}`;
}

/** An answer of the service, as relayed: its status, the headers passed on, and its body (cut at maxBytes). */
export interface Upstream {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

export interface ServiceProxy {
  /**
   * GET `path` of the service at `address` (the directory's host:port),
   * settled when it answers: the answer's body streams after. `client` is
   * the response being relayed to: when it closes early the upstream request
   * is aborted. Throws proxy_busy, upstream_unreachable, upstream_timeout or
   * upstream_too_large (an announced length over the cap; a body that grows
   * past it is cut).
   */
  open(address: string, path: string, client: ServerResponse): Promise<Upstream>;
  /** Upstream requests under way now. */
  readonly active: number;
  /** Drops the kept-alive connections to services. */
  close(): void;
}

/** The headers a player needs, and those that keep a file from being run as a page of the gateway's origin. */
function relayedHeaders(from: IncomingHttpHeaders): Record<string, string> {
  const type = from['content-type'];
  const media = (type ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const headers: Record<string, string> = {
    'content-type': type !== undefined && STREAM_TYPES.has(media) ? type : 'application/octet-stream',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
  };
  for (const name of ['content-length', 'cache-control'] as const) {
    const value = from[name];
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

function unreachable(address: string, err: NodeJS.ErrnoException): HearthError {
  const why = err.code?.startsWith('HPE_') === true ? 'did not answer with valid HTTP' : `could not be reached (${err.code ?? err.message})`;
  return new HearthError('upstream_unreachable', `the service at ${address} ${why}`);
}

export function createServiceProxy(limits: Partial<ProxyLimits> = {}): ServiceProxy {
  const { timeoutMs, maxBytes, maxConcurrent } = { ...PROXY_LIMITS, ...limits };
  // Segments follow each other every few seconds: one connection per service carries them.
  const agent = new Agent({ keepAlive: true, maxSockets: maxConcurrent });
  let active = 0;

  function open(address: string, path: string, client: ServerResponse): Promise<Upstream> {
    const target = parseHostPort(address);
    if (target === undefined) return Promise.reject(new HearthError('upstream_unreachable', `the directory's address ${JSON.stringify(address)} is not host:port`));
    if (active >= maxConcurrent) {
      return Promise.reject(new HearthError('proxy_busy', `this gateway relays at most ${maxConcurrent} stream requests at once; retry shortly`));
    }
    active++;
    const abort = new AbortController();
    const clientGone = (): void => abort.abort();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      active--;
      client.off('close', clientGone);
    };
    client.once('close', clientGone);
    if (client.destroyed) abort.abort();

    return new Promise<Upstream>((resolve, reject) => {
      const fail = (err: HearthError): void => {
        release();
        reject(err);
      };
      const upstream = request({
        host: target.host, port: target.port, path, method: 'GET', agent, signal: abort.signal, timeout: timeoutMs,
        headers: { host: address, accept: '*/*', 'user-agent': 'hearth-gateway' },
      }, (res) => {
        const length = Number(res.headers['content-length']);
        if (Number.isFinite(length) && length > maxBytes) {
          upstream.destroy();
          fail(new HearthError('upstream_too_large', `the service at ${address} answered ${length} bytes; this gateway relays at most ${maxBytes}`));
          return;
        }
        let relayed = 0;
        const body = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            relayed += chunk.length;
            if (relayed > maxBytes) done(new HearthError('upstream_too_large', `the service at ${address} sent more than ${maxBytes} bytes; cut`));
            else done(null, chunk);
          },
        });
        // Either end breaking (the service, the cap, the client through Fastify destroying the body) ends both.
        pipeline(res, body, release);
        resolve({ status: res.statusCode ?? 502, headers: relayedHeaders(res.headers), body });
      });
      upstream.on('timeout', () => upstream.destroy(new HearthError('upstream_timeout', `the service at ${address} was silent for ${timeoutMs / 1000} s`)));
      // After the answer began, an error ends its body (above); before, it is the request's refusal.
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof HearthError) fail(err);
        else if (abort.signal.aborted) fail(new HearthError('upstream_unreachable', `the client went away before the service at ${address} answered`));
        else fail(unreachable(address, err));
      });
      upstream.end();
    });
  }

  return {
    open,
    get active() {
      return active;
    },
    close: () => agent.destroy(),
  };
}
