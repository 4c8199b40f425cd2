// A viewer's first look at a live HLS stream, run by bench/app-figures.ts
// inside a gateway's network namespace (a machine of the community network):
// one HTTP/1.1 connection kept alive, as a player's; GET the playlist, then
// the first segment it names, then that segment once more (from the edge's
// cache now). Its one argument is the playlist's URL; it prints one JSON
// line: when it started (Date.now()), and per step the milliseconds from its
// first request (performance.now()): the connection made, each response's
// headers and last byte, its status, size and the edge's X-Cache. With
// `--count` after the URL it asks for the playlist only, and prints how many
// segments it names (the bench waits for a full window before its runs).
// Must never: retry (a failed step is what it reports) or run past its 30 s
// timeout.

import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

interface Step {
  url: string;
  status: number;
  /** nginx's $upstream_cache_status at the edge: MISS, HIT, EXPIRED, … */
  cache: string | null;
  bytes: number;
  /** The Content-Length the edge announced, when it did. */
  length: number | null;
  headersMs: number;
  doneMs: number;
}

const TIMEOUT_MS = 30_000;
const playlist = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const startedAt = Date.now();
const t0 = performance.now();
const since = (): number => performance.now() - t0;
let connectMs: number | null = null;

function get(url: URL): Promise<Step & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: TIMEOUT_MS }, (res) => {
      const headersMs = since();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const length = res.headers['content-length'];
        const cache = res.headers['x-cache'];
        resolve({
          url: url.pathname, status: res.statusCode ?? 0, cache: typeof cache === 'string' ? cache : null,
          bytes: body.length, length: length === undefined ? null : Number(length), headersMs, doneMs: since(), body,
        });
      });
      res.on('error', reject);
    });
    req.on('socket', (socket) => {
      if (connectMs === null) socket.once('connect', () => (connectMs = since()));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.href} in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

const strip = ({ body: _, ...step }: Step & { body: Buffer }): Step => step;

try {
  const list = await get(playlist);
  const names = list.body.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const first = names[0];
  if (process.argv[3] === '--count') {
    process.stdout.write(`${JSON.stringify({ startedAt, status: list.status, segments: names.length })}\n`);
  } else {
    if (list.status !== 200 || first === undefined) throw new Error(`the playlist answered ${list.status} with no segment: ${list.body.toString('utf8').slice(0, 200)}`);
    const segmentUrl = new URL(first, playlist);
    const segment = await get(segmentUrl);
    const again = await get(segmentUrl);
    process.stdout.write(`${JSON.stringify({ startedAt, connectMs, playlist: strip(list), segment: strip(segment), again: strip(again) })}\n`);
  }
} catch (error) {
  process.stdout.write(`${JSON.stringify({ startedAt, connectMs, error: (error as Error).message })}\n`);
} finally {
  agent.destroy();
}
