// The stream relay (api/service-proxy.ts, GET /api/v1/services/:gateway/
// :sliver/:name/stream/*) through the real Fastify app, listening on
// loopback, in front of a real HTTP server standing in for an hls service:
// playlists and segments pass with their type, length and caching, without
// a token and without the client's headers; only announced hls services
// and plain stream-file paths are relayed; a service that is down, silent
// or too large is a problem with its code; a client that goes away takes
// its upstream request with it; and the relay holds only so many at once.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';
import { freePort } from '../../support/ports.js';
import { streamPathOf } from '../../../src/api/service-proxy.js';
import type { DirectoryEntry } from '../../../src/cloud/services.js';
import { HearthError } from '../../../src/model/errors.js';
import { until } from '../../support/until.js';

// Long enough that only the client's going away can end a held request; the timeouts have a gateway of their own.
const LIMITS = { timeoutMs: 120_000, maxBytes: 32 * 1024, maxConcurrent: 2 };
const SHORT_TIMEOUT_MS = 1000;
const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nlive-1.ts\n';
const SEGMENT = Buffer.alloc(20 * 1024, 7);

/** What the stand-in service saw: each request's path and headers, and the ones it holds unanswered. */
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
const held: { req: IncomingMessage; res: ServerResponse; closed: boolean }[] = [];

function service(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  seen.push({ path, headers: req.headers });
  switch (path) {
    case '/hls/live.m3u8':
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=1', 'x-internal': 'kept inside' }).end(PLAYLIST);
      return;
    case '/hls/live-1.ts':
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': SEGMENT.length, 'cache-control': 'max-age=60' }).end(SEGMENT);
      return;
    case '/hls/page.ts':
      res.writeHead(404, { 'content-type': 'text/html' }).end('<script>alert(document.cookie)</script>');
      return;
    case '/hls/big.ts':
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': LIMITS.maxBytes + 1 }).end(Buffer.alloc(LIMITS.maxBytes + 1));
      return;
    case '/hls/endless.ts': {
      res.writeHead(200, { 'content-type': 'video/mp2t' });
      const chunk = Buffer.alloc(4096);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    case '/hls/stalls.ts':
      // Headers and a first part, then silence.
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': 8192 }).write(Buffer.alloc(1024));
      return;
    case '/hls/held.ts': {
      const entry = { req, res, closed: false };
      res.on('close', () => {
        entry.closed = true;
      });
      held.push(entry);
      return;
    }
    default:
      // /hls/silent.ts and anything else: never answered.
      return;
  }
}

let h: ApiHarness;
/** The same directory behind a relay that waits only SHORT_TIMEOUT_MS. */
let impatient: ApiHarness;
let upstream: Server;
let base: string;
let downPort: number;

const entry = (over: Partial<DirectoryEntry>): DirectoryEntry => ({
  name: 'edge', type: 'hls', protocol: 'tcp', hostPort: 40000, sliver: 'video-1', slice: 'video', gateway: 'gw2', address: '', rttMs: 1, ...over,
});

before(async () => {
  upstream = createServer(service);
  const port = await freePort();
  await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
  // Reserved for this file and never listened on: connecting is refused.
  downPort = await freePort();
  const directory = [
    entry({ address: `127.0.0.1:${port}` }),
    entry({ name: 'web', type: 'http', address: `127.0.0.1:${port}` }),
    entry({ gateway: 'gw3', sliver: 'video-2', address: `127.0.0.1:${downPort}` }),
  ];
  h = await apiHarness(undefined, { directory: () => directory, proxyLimits: LIMITS });
  await h.api.listen({ host: '127.0.0.1', port: 0 });
  impatient = await apiHarness(undefined, { directory: () => directory, proxyLimits: { ...LIMITS, timeoutMs: SHORT_TIMEOUT_MS } });
  await impatient.api.listen({ host: '127.0.0.1', port: 0 });
  base = `/api/v1/services/gw2/video-1/edge/stream`;
});
after(async () => {
  for (const x of held) x.res.destroy();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  await h.close();
  await impatient.close();
});

interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer; cut: boolean }

/** A GET of `path` exactly as written (Node's client neither resolves dots nor decodes), with no token, of `gateway`'s API. */
function get(path: string, headers: Record<string, string> = {}, started?: (abort: () => void) => void, gateway = h): Promise<Answer> {
  const { port } = gateway.api.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      let cut = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => {
        cut = true;
      });
      res.on('error', () => {
        cut = true;
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), cut: cut || !res.complete }));
    });
    req.on('error', reject);
    req.end();
    started?.(() => req.destroy());
  });
}

const problem = (a: Answer): { code: string; field?: string } => JSON.parse(a.body.toString()) as { code: string; field?: string };

test('the path on the service must be plain segments ending in a stream file', () => {
  assert.equal(streamPathOf('hls/live.m3u8'), '/hls/live.m3u8');
  assert.equal(streamPathOf('a/b_c/seg-00001.M4S'), '/a/b_c/seg-00001.M4S');
  for (const bad of ['', 'hls/../x.ts', '..', 'hls/%2e%2e/x.ts', 'hls//x.ts', 'hls/live.m3u8/', '/hls/x.ts', 'hls/.x.ts', 'hls/x.html', 'hls/x',
    'hls/x y.ts', `${'a/'.repeat(8)}x.ts`, `${'a'.repeat(300)}.ts`]) {
    assert.throws(() => streamPathOf(bad), (e: unknown) => e instanceof HearthError && e.code === 'invalid_request' && e.extra['field'] === 'path', bad);
  }
});

test('a playlist and a segment pass with their type, length and caching, without a token, and without the client\'s headers', async () => {
  const playlist = await get(`${base}/hls/live.m3u8`, { authorization: 'Bearer secret', cookie: 'a=b' });
  assert.equal(playlist.status, 200);
  assert.equal(playlist.body.toString(), PLAYLIST);
  assert.equal(playlist.headers['content-type'], 'application/vnd.apple.mpegurl');
  assert.equal(playlist.headers['cache-control'], 'max-age=1');
  assert.equal(playlist.headers['x-internal'], undefined, 'only the headers a player needs pass');
  assert.equal(playlist.headers['x-content-type-options'], 'nosniff');
  const asked = seen.find((s) => s.path === '/hls/live.m3u8');
  assert.equal(asked?.headers.authorization, undefined, 'the client\'s token does not leave the gateway');
  assert.equal(asked?.headers.cookie, undefined);

  const segment = await get(`${base}/hls/live-1.ts`);
  assert.equal(segment.status, 200);
  assert.deepEqual([segment.headers['content-type'], segment.headers['content-length'], segment.headers['cache-control']], ['video/mp2t', String(SEGMENT.length), 'max-age=60']);
  assert.ok(segment.body.equals(SEGMENT));
});

test('the service\'s status passes, but a type a page could run is relayed as bytes, sandboxed', async () => {
  const page = await get(`${base}/hls/page.ts`);
  assert.equal(page.status, 404);
  assert.equal(page.headers['content-type'], 'application/octet-stream');
  assert.match(String(page.headers['content-security-policy']), /sandbox/);
});

test('a service the directory does not list is service_not_found; one of another type is not_a_stream', async () => {
  for (const path of ['/api/v1/services/gw9/video-1/edge/stream/hls/live.m3u8', '/api/v1/services/gw2/video-9/edge/stream/hls/live.m3u8', '/api/v1/services/gw2/video-1/nope/stream/hls/live.m3u8']) {
    const a = await get(path);
    assert.deepEqual([a.status, problem(a).code], [404, 'service_not_found'], path);
  }
  const web = await get('/api/v1/services/gw2/video-1/web/stream/index.m3u8');
  assert.deepEqual([web.status, problem(web).code], [403, 'not_a_stream']);
  assert.equal((await get('/api/v1/services')).status, 401, 'the directory itself still needs the token');
});

test('a path with dots, %-encoding, empty segments, another file type or too long is invalid_request, and never reaches the service', async () => {
  const before = seen.length;
  for (const tail of ['hls/../live.m3u8', 'hls/%2e%2e/live.m3u8', '%2e%2e/%2e%2e/x.ts', 'hls//live.m3u8', '/hls/live.m3u8', 'hls/live.m3u8/', '',
    'hls/index.html', 'hls/.env', 'hls%2Flive.m3u8', `${'a'.repeat(260)}.ts`]) {
    const a = await get(`${base}/${tail}`);
    assert.deepEqual([a.status, problem(a).code, problem(a).field], [400, 'invalid_request', 'path'], tail);
  }
  assert.equal(seen.length, before);
});

test('a service that refuses connections is upstream_unreachable; one that is silent is upstream_timeout', async () => {
  const down = await get('/api/v1/services/gw3/video-2/edge/stream/hls/live.m3u8');
  assert.deepEqual([down.status, problem(down).code], [502, 'upstream_unreachable']);
  const silent = await get(`${base}/hls/silent.ts`, {}, undefined, impatient);
  assert.deepEqual([silent.status, problem(silent).code], [504, 'upstream_timeout']);
  // Silent after its answer began: the answer is cut, not left hanging.
  const stalls = await get(`${base}/hls/stalls.ts`, {}, undefined, impatient);
  assert.equal(stalls.status, 200);
  assert.ok(stalls.cut && stalls.body.length < 8192, `cut after ${stalls.body.length} bytes`);
});

test('an answer over the size cap is refused when announced, and cut when it grows past it', async () => {
  const big = await get(`${base}/hls/big.ts`);
  assert.deepEqual([big.status, problem(big).code], [502, 'upstream_too_large']);
  const endless = await get(`${base}/hls/endless.ts`);
  assert.equal(endless.status, 200);
  assert.ok(endless.cut, 'the client sees the answer broken off');
  assert.ok(endless.body.length <= LIMITS.maxBytes, `${endless.body.length} bytes relayed`);
});

test('a client that goes away takes its upstream request with it, and frees its place', async () => {
  let abort: () => void = () => undefined;
  const answer = get(`${base}/hls/held.ts`, {}, (a) => {
    abort = a;
  }).catch(() => undefined);
  await until('the service to be asked', async () => (held.length === 1) || undefined);
  abort();
  await answer;
  await until('the upstream request to be closed', async () => (held[0]?.closed === true) || undefined);
  held.length = 0;
});

test('requests beyond the concurrency cap are proxy_busy; the places come back when they end', async () => {
  const first = [get(`${base}/hls/held.ts`), get(`${base}/hls/held.ts`)];
  await until('the service to hold two requests', async () => (held.length === LIMITS.maxConcurrent) || undefined);
  const busy = await get(`${base}/hls/live.m3u8`);
  assert.deepEqual([busy.status, problem(busy).code], [503, 'proxy_busy']);
  for (const x of held) x.res.writeHead(200, { 'content-type': 'video/mp2t' }).end('done');
  assert.deepEqual((await Promise.all(first)).map((a) => [a.status, a.body.toString()]), [[200, 'done'], [200, 'done']]);
  held.length = 0;
  const again = await Promise.all([get(`${base}/hls/live.m3u8`), get(`${base}/hls/live.m3u8`)]);
  assert.deepEqual(again.map((a) => a.status), [200, 200]);
});

test('the OpenAPI document lists the relay under services, as needing no credential', async () => {
  const doc = (await h.api.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, { get?: { summary?: string; tags?: string[]; security?: unknown[] } }> }>();
  const relay = Object.entries(doc.paths).find(([path]) => path.startsWith('/api/v1/services/{gateway}/{sliver}/{name}/stream/'))?.[1].get;
  assert.match(relay?.summary ?? '', /hls/);
  assert.deepEqual([relay?.tags, relay?.security], [['services'], []]);
});
