// The portal's ways in over real sockets: the Fastify app listening on
// loopback (in-memory driver and network fakes below it), a real WebSocket
// client. The stream refuses a bad first message or token with a problem and
// a close code, then carries the gateway's events as they happen and, on
// reconnect, only what was missed; a plain GET is told to upgrade. The
// portal's files are public at /, and the API keeps its problems; the
// samples the gateway page charts are the owner's.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { generateKeyPairSync } from 'node:crypto';
import { apiHarness, TOKEN, type ApiHarness } from '../../support/api-harness.js';
import { importUserKey, signRequest } from '../../../web/src/signing.js';
import { parseUserPrivateKey } from '../../../src/cloud/user-key.js';
import { DEFAULT_RESOURCES } from '../../../src/model/sliver.js';
import type { StreamMessage } from '../../../src/api/stream.js';

let h: ApiHarness;
let base: string;
before(async () => {
  const web = mkdtempSync(join(tmpdir(), 'hearth-web-'));
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>hearth</title>');
  h = await apiHarness(undefined, { webRoot: web });
  const url = await h.api.listen({ host: '127.0.0.1', port: 0 });
  base = url.replace(/^http/, 'ws');
});
after(async () => h.close());

interface Stream {
  messages: StreamMessage[];
  closed: Promise<{ code: number; reason: string }>;
  until(what: string, ok: (m: StreamMessage[]) => boolean): Promise<void>;
  close(): void;
}

async function connect(first: unknown, path = '/api/v1/stream'): Promise<Stream> {
  const ws = new WebSocket(`${base}${path}`);
  const messages: StreamMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    // A console's output (binary) is not what these stories read.
    if (isBinary) return;
    messages.push(JSON.parse(String(data)) as StreamMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(typeof first === 'string' ? first : JSON.stringify(first));
  return {
    messages, closed,
    close: () => ws.close(),
    until: (what, ok) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 10 s; got ${JSON.stringify(messages.map((m) => m.type))}`)), 10_000);
      const check = (): void => {
        if (!ok(messages)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    }),
  };
}

const seqs = (messages: StreamMessage[]): number[] => messages.flatMap((m) => (m.type === 'event' ? [m.event.seq] : []));
const types = (messages: StreamMessage[]): string[] => messages.flatMap((m) => (m.type === 'event' ? [m.event.type] : []));

test('a wrong token is refused with unauthorized and close code 4401, and nothing of the gateway is sent', async () => {
  const s = await connect({ type: 'auth', token: 'nope' });
  const closed = await s.closed;
  assert.equal(closed.code, 4401);
  assert.deepEqual(s.messages.map((m) => m.type), ['error']);
  assert.equal((s.messages[0] as Extract<StreamMessage, { type: 'error' }>).problem.code, 'unauthorized');
});

test('a first message that is not JSON is refused with 4400', async () => {
  const s = await connect('{oops');
  assert.equal((await s.closed).code, 4400);
  assert.equal((s.messages[0] as Extract<StreamMessage, { type: 'error' }>).problem.code, 'malformed_json');
});

test("the owner's stream greets, sends the snapshots, then a new sliver's events as they happen", async () => {
  const s = await connect({ type: 'auth', token: TOKEN });
  await s.until('ready and snapshots', (m) => ['ready', 'nodes', 'community', 'services'].every((t) => m.some((x) => x.type === t)));
  assert.deepEqual(s.messages[0], { type: 'ready', self: 'gw-test', seq: 0 });
  assert.deepEqual(s.messages.find((m) => m.type === 'nodes'), { type: 'nodes', self: 'gw-test', community: '', items: [] }, 'not in a community');
  const res = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'live' } });
  assert.equal(res.statusCode, 202);
  await h.reconciler.pass();
  await s.until('the sliver started', (m) => types(m).includes('sliver.started'));
  assert.deepEqual(types(s.messages), ['sliver.requested', 'sliver.created', 'sliver.started']);
  const more = seqs(s.messages);
  s.close();
  await s.closed;

  // Away, the sliver is deleted; back with the last sequence seen, only that is sent.
  await h.api.inject({ method: 'DELETE', url: '/api/v1/slivers/live', headers: h.auth });
  await h.reconciler.pass();
  const back = await connect({ type: 'auth', token: TOKEN, after: more.at(-1) });
  await back.until('the deletion', (m) => types(m).includes('sliver.deleted'));
  assert.deepEqual(types(back.messages), ['sliver.delete-requested', 'sliver.deleted'], 'nothing seen before is sent again');
  assert.deepEqual(seqs(back.messages), [4, 5]);
  back.close();
  await back.closed;
});

test('a second message on the stream is refused', async () => {
  const ws = new WebSocket(`${base}/api/v1/stream`);
  await new Promise((resolve) => ws.once('open', resolve));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.send(JSON.stringify({ type: 'auth', token: TOKEN }));
  ws.send(JSON.stringify({ type: 'auth', token: TOKEN }));
  assert.equal(await closed, 4400);
});

test('a plain GET of the stream is told to upgrade, as a problem', async () => {
  const res = await h.api.inject({ method: 'GET', url: '/api/v1/stream' });
  assert.equal(res.statusCode, 426);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(res.json<{ code: string }>().code, 'upgrade_required');
});

test('the portal is public at /, and the API around it keeps its token and its problems', async () => {
  const page = await h.api.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /<title>hearth<\/title>/);
  const missing = await h.api.inject({ method: 'GET', url: '/no-such-file.js' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ code: string }>().code, 'route_not_found');
  const unknown = await h.api.inject({ method: 'GET', url: '/api/v1/nope', headers: h.auth });
  assert.equal(unknown.json<{ code: string }>().code, 'route_not_found');
  const noToken = await h.api.inject({ method: 'GET', url: '/api/v1/slivers' });
  assert.equal(noToken.statusCode, 401);
  const escape = await h.api.inject({ method: 'GET', url: '/../package.json' });
  assert.equal(escape.statusCode, 404);
});

test("the gateway's samples answer with their interval, for the owner only", async () => {
  const res = await h.api.inject({ method: 'GET', url: '/api/v1/node/samples', headers: h.auth });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { intervalSec: 10, items: [] });
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/node/samples' })).statusCode, 401);
});

/** A user's first message: their signature of GET on the socket's URL, as the portal makes it. */
async function signedAuth(keyFile: string, path: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const headers = await signRequest(await importUserKey(keyFile), 'GET', `${base.replace(/^ws/, 'http')}${path}`);
  return { type: 'auth', signature: { input: headers['Signature-Input'], signature: headers['Signature'] }, ...extra };
}

test("a user signed in with their key sees only their own slivers' events, and opens a console only in a sliver of their own slice", async () => {
  const ana = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const bob = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const anaId = parseUserPrivateKey(ana).publicKey.id;
  const spec = { template: 'busybox' as const, packages: [], resources: { ...DEFAULT_RESOURCES } };
  h.store.insertSliver('ana0', { ...spec, name: 'ana-0', slice: 'site' }, 'running', { user: anaId, index: 0 });
  h.store.insertSliver('own0', { ...spec, name: 'owners', slice: 'owners' }, 'running');
  await h.reconciler.pass();
  // Events of a slice, not of a sliver here: a healing moved one of its slivers.
  const bobId = parseUserPrivateKey(bob).publicKey.id;
  h.store.appendEvent(null, 'slice.sliver-moved', { slice: 'site', user: bobId, index: 1, from: 'gw1', to: 'gw2', version: 2 });
  h.store.appendEvent(null, 'slice.sliver-moved', { slice: 'site', user: anaId, index: 1, from: 'gw1', to: 'gw3', version: 2 });

  const stream = await connect(await signedAuth(ana, '/api/v1/stream', { after: 0 }));
  await stream.until('her events', (m) => types(m).includes('sliver.started') && types(m).includes('slice.sliver-moved'));
  const events = stream.messages.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  const ids = events.filter((e) => e.type !== 'slice.sliver-moved').map((e) => e.sliverId);
  assert.ok(ids.length > 0 && ids.every((id) => id === 'ana0'), `only ana0's events: ${JSON.stringify(ids)}`);
  assert.deepEqual(events.filter((e) => e.sliverId === null).map((e) => e.detail['user']), [anaId], "her slice's move only, not bob's nor the gateway's");
  stream.close();
  await stream.closed;

  const mine = await connect(await signedAuth(ana, '/api/v1/slivers/ana-0/console'), '/api/v1/slivers/ana-0/console');
  await mine.until('ready', (m) => m.some((x) => x.type === 'ready' || x.type === 'error'));
  assert.equal(mine.messages[0]?.type, 'ready', JSON.stringify(mine.messages[0]));
  mine.close();
  await mine.closed;
  for (const [who, sliver] of [[bob, 'ana-0'], [ana, 'owners']] as const) {
    const refused = await connect(await signedAuth(who, `/api/v1/slivers/${sliver}/console`), `/api/v1/slivers/${sliver}/console`);
    assert.equal((await refused.closed).code, 4403);
    assert.equal((refused.messages[0] as Extract<StreamMessage, { type: 'error' }>).problem.code, 'forbidden');
  }
  // A signature of another socket's URL opens nothing.
  const wrongPlace = new WebSocket(`${base}/api/v1/slivers/ana-0/console`);
  await new Promise((resolve) => wrongPlace.once('open', resolve));
  const closed = new Promise<number>((resolve) => wrongPlace.on('close', (c) => resolve(c)));
  wrongPlace.send(JSON.stringify(await signedAuth(ana, '/api/v1/stream')));
  assert.equal(await closed, 4401);
  await h.api.inject({ method: 'DELETE', url: '/api/v1/slivers/ana-0', headers: h.auth });
  await h.api.inject({ method: 'DELETE', url: '/api/v1/slivers/owners', headers: h.auth });
  await h.reconciler.pass();
});

// Last in this file: it rotates the harness's token.
test("rotating the owner token: the old one stops working at once and the owner's open sockets are closed; a user's stay", async () => {
  const ana = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const owner = await connect({ type: 'auth', token: TOKEN });
  await owner.until('the first snapshot', (m) => m.length > 0);
  const user = await connect(await signedAuth(ana, '/api/v1/stream'));
  await user.until('the first snapshot', (m) => m.length > 0);
  let userClosed = false;
  void user.closed.then(() => (userClosed = true));

  assert.equal((await h.api.inject({ method: 'POST', url: '/api/v1/node/token' })).statusCode, 401, 'only the owner rotates');
  const res = await h.api.inject({ method: 'POST', url: '/api/v1/node/token', headers: h.auth });
  assert.equal(res.statusCode, 200);
  const { token } = res.json<{ token: string }>();
  assert.notEqual(token, TOKEN);
  assert.equal(readFileSync(join(h.dir, 'owner.token'), 'utf8').trim(), token, 'the new token is kept where the CLI and a restarted agent read it');

  const closed = await owner.closed;
  assert.equal(closed.code, 4401);
  const problem = (owner.messages.at(-1) as Extract<StreamMessage, { type: 'error' }>).problem;
  assert.equal(problem.code, 'unauthorized');
  assert.match(problem.detail, /rotated/);
  assert.equal(userClosed, false, "a user's socket is not the owner's");
  user.close();

  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/node', headers: h.auth })).statusCode, 401, 'the old token is refused');
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/node', headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
  const again = await connect({ type: 'auth', token: TOKEN });
  assert.equal((await again.closed).code, 4401, 'the old token opens no socket');
});
