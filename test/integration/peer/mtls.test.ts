// Real TLS sockets on loopback: two gateways that trust each other through
// their gossiped fingerprints, and the callers that must be turned away.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer as createHttpsServer, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { createServer as createNetServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity, type Identity } from '../../../src/overlay/identity.js';
import { createPeerServer, HELLO_PATH, DEFAULT_MAX_BODY_BYTES, type PeerServer } from '../../../src/peer/server.js';
import { createPeerClient, type PeerClient } from '../../../src/peer/client.js';
import { formatHostPort } from '../../../src/model/host-port.js';
import type { PeerTrust } from '../../../src/peer/trust.js';
import type { PeerRoute } from '../../../src/peer/router.js';
import { HearthError, PeerError, PeerTimeout } from '../../../src/model/errors.js';
import { silentLogger, type Logger } from '../../../src/model/logger.js';

const dir = await mkdtemp(join(tmpdir(), 'hearth-peer-'));
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

const identity = (name: string): Promise<Identity> => loadOrCreateIdentity(join(dir, name), { commonName: name });
const [a, b, c, d] = await Promise.all(['gw-a', 'gw-b', 'gw-c', 'gw-d'].map(identity)) as [Identity, Identity, Identity, Identity];

/** The gossiped view: member name ⇄ fingerprint; deleting an entry is a revocation. */
const gossip = new Map<string, string>([['gw-a', a.id], ['gw-b', b.id], ['gw-d', d.id]]);
const trust: PeerTrust = {
  memberByFingerprint: (fp) => [...gossip].find(([, id]) => id === fp)?.[0],
};
const pins = { fingerprintOf: (member: string): string | undefined => gossip.get(member) };

/** What B's routes saw, so tests can tell whether a request reached it. */
const seen: { member: string; body: unknown }[] = [];
const routes: PeerRoute[] = [
  {
    method: 'POST',
    path: '/peer/v1/echo',
    handler: (req) => {
      seen.push({ member: req.member, body: req.body });
      return Promise.resolve({ body: { from: req.member, body: req.body } });
    },
  },
  {
    method: 'GET',
    path: '/peer/v1/slivers/:name',
    handler: (req) => Promise.reject(new HearthError('sliver_not_found', `no sliver ${req.params['name']}`)),
  },
  {
    method: 'GET',
    path: '/peer/v1/slow',
    handler: async (req) => {
      await once(req.signal, 'abort');
      slowAborted = true;
      return {};
    },
  },
];
let slowAborted = false;

async function startServer(host: string): Promise<{ server: PeerServer; address: string }> {
  const server = createPeerServer({ identity: b, name: 'gw-b', trust, host, port: 0, routes });
  cleanups.push(() => server.stop());
  const bound = await server.start();
  return { server, address: formatHostPort(bound) };
}

function client(id: Identity, pinsFor = pins): PeerClient {
  const created = createPeerClient({ identity: id, trust: pinsFor });
  cleanups.push(() => created.close());
  return created;
}

interface RawReply {
  status: number;
  contentType: string | undefined;
  json: unknown;
  reusedSocket: boolean;
}

/** A hand-made HTTPS request, for callers our client would never be. */
async function raw(
  address: { host: string; port: number },
  opts: { method: string; path: string; id?: Identity; agent?: Agent; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] },
): Promise<RawReply> {
  const req = request({
    host: address.host,
    port: address.port,
    method: opts.method,
    path: opts.path,
    headers: opts.headers ?? {},
    rejectUnauthorized: false,
    ...(opts.agent === undefined ? { agent: false } : { agent: opts.agent }),
    ...(opts.id === undefined ? {} : { cert: opts.id.certPem, key: opts.id.keyPem }),
  });
  if (opts.chunks !== undefined) {
    for (const chunk of opts.chunks) req.write(chunk);
    req.end();
  } else {
    req.end(opts.body);
  }
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  const parts: Buffer[] = [];
  for await (const part of res) parts.push(part as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  return { status: res.statusCode ?? 0, contentType: res.headers['content-type'], json: text === '' ? undefined : JSON.parse(text), reusedSocket: req.reusedSocket };
}

function assertProblem(reply: RawReply, status: number, code: string): void {
  assert.equal(reply.status, status);
  assert.equal(reply.contentType, 'application/problem+json');
  assert.equal((reply.json as { code: string }).code, code);
}

function isPeerProblem(member: string, code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof PeerError, `expected a PeerError, got ${String(err)}`);
    assert.equal(err.peer, member);
    assert.equal(err.problem?.code, code, err.message);
    return true;
  };
}

void describe('peer mutual TLS on 127.0.0.1', () => {
  let server: PeerServer;
  let address: string;
  let bound: { host: string; port: number };
  before(async () => {
    ({ server, address } = await startServer('127.0.0.1'));
    bound = server.address() ?? assert.fail('server has no address');
  });

  void test('A calls B hello and gets B identity', async () => {
    const reply = await client(a).request('gw-b', address, 'GET', HELLO_PATH);
    assert.deepEqual(reply, { id: b.id, name: 'gw-b' });
  });

  void test('B sees A under its gossiped member name, with A JSON body', async () => {
    const reply = await client(a).request('gw-b', address, 'POST', '/peer/v1/echo', { hello: 'from a' });
    assert.deepEqual(reply, { from: 'gw-a', body: { hello: 'from a' } });
  });

  void test('a valid self-signed certificate that is not gossiped is refused with 403', async () => {
    const count = seen.length;
    await assert.rejects(client(c).request('gw-b', address, 'POST', '/peer/v1/echo', { x: 1 }), isPeerProblem('gw-b', 'forbidden'));
    assert.equal(seen.length, count, 'the route never ran');
  });

  void test('a caller without a client certificate is refused with 403', async () => {
    assertProblem(await raw(bound, { method: 'GET', path: HELLO_PATH }), 403, 'forbidden');
  });

  void test('a revoked member is refused, even on the connection it already had open', async () => {
    const agent = new Agent({ keepAlive: true, cert: d.certPem, key: d.keyPem, rejectUnauthorized: false, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const first = await raw(bound, { method: 'GET', path: HELLO_PATH, agent });
    assert.equal(first.status, 200);
    gossip.delete('gw-d');
    const second = await raw(bound, { method: 'GET', path: HELLO_PATH, agent });
    assert.equal(second.reusedSocket, true, 'the kept-alive connection was reused');
    assertProblem(second, 403, 'forbidden');
  });

  void test('a client that pins another fingerprint for B detects the man in the middle and sends nothing', async () => {
    const count = seen.length;
    const wrong = client(a, { fingerprintOf: (member) => (member === 'gw-b' ? c.id : undefined) });
    await assert.rejects(wrong.request('gw-b', address, 'POST', '/peer/v1/echo', { secret: 1 }), (err: unknown) => {
      assert.ok(err instanceof PeerError);
      assert.equal(err.problem, undefined);
      assert.match(err.message, /man in the middle/);
      return true;
    });
    assert.equal(seen.length, count, 'B never received the request');
  });

  void test('when a member pin changes, connections checked against the old pin are not reused', async () => {
    const pinned = new Map([['gw-b', b.id]]);
    const changing = client(a, { fingerprintOf: (member) => pinned.get(member) });
    await changing.request('gw-b', address, 'GET', HELLO_PATH);
    pinned.set('gw-b', c.id);
    await assert.rejects(changing.request('gw-b', address, 'GET', HELLO_PATH), /man in the middle/);
  });

  void test('calling a member without a gossiped identity fails before connecting', async () => {
    await assert.rejects(client(a).request('gw-z', address, 'GET', HELLO_PATH), (err: unknown) => {
      assert.ok(err instanceof PeerError);
      assert.equal(err.peer, 'gw-z');
      assert.match(err.message, /no gossiped identity/);
      return true;
    });
  });

  void test('malformed JSON is 400 malformed_json', async () => {
    const reply = await raw(bound, { method: 'POST', path: '/peer/v1/echo', id: a, headers: { 'content-type': 'application/json' }, body: '{"a":' });
    assertProblem(reply, 400, 'malformed_json');
  });

  void test('a body that is not JSON is 415', async () => {
    const reply = await raw(bound, { method: 'POST', path: '/peer/v1/echo', id: a, headers: { 'content-type': 'text/plain' }, body: 'hi' });
    assertProblem(reply, 415, 'unsupported_media_type');
  });

  void test('a body over 1 MiB is 413 payload_too_large, announced or streamed', async () => {
    const big = { blob: 'x'.repeat(DEFAULT_MAX_BODY_BYTES) };
    await assert.rejects(client(a).request('gw-b', address, 'POST', '/peer/v1/echo', big), isPeerProblem('gw-b', 'payload_too_large'));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const chunks = Array.from({ length: DEFAULT_MAX_BODY_BYTES / chunk.length + 1 }, () => chunk);
    const streamed = await raw(bound, { method: 'POST', path: '/peer/v1/echo', id: a, headers: { 'content-type': 'application/json' }, chunks });
    assertProblem(streamed, 413, 'payload_too_large');
  });

  void test('unknown routes and methods are 404 and 405', async () => {
    await assert.rejects(client(a).request('gw-b', address, 'GET', '/peer/v1/nope'), isPeerProblem('gw-b', 'route_not_found'));
    await assert.rejects(client(a).request('gw-b', address, 'DELETE', HELLO_PATH), isPeerProblem('gw-b', 'method_not_allowed'));
  });

  void test('a route error reaches the caller as the peer problem document', async () => {
    await assert.rejects(client(a).request('gw-b', address, 'GET', '/peer/v1/slivers/web'), (err: unknown) => {
      assert.ok(isPeerProblem('gw-b', 'sliver_not_found')(err));
      assert.ok(err instanceof PeerError);
      assert.equal(err.problem?.status, 404);
      assert.equal(err.problem?.detail, 'no sliver web');
      return true;
    });
  });

  void test('a caller that gives up rejects with its reason, and the route sees it go', async () => {
    const reason = new Error('user pressed ctrl-c');
    const controller = new AbortController();
    const pending = client(a).request('gw-b', address, 'GET', '/peer/v1/slow', undefined, { signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    await assert.rejects(pending, reason);
    await assert.rejects(client(a).request('gw-b', address, 'GET', '/peer/v1/slow', undefined, { timeoutMs: 200 }), (err: unknown) => {
      assert.ok(err instanceof PeerTimeout, 'a timeout, told apart: the request may have done its work');
      assert.match(err.message, /did not answer/);
      return true;
    });
    while (!slowAborted) await new Promise((resolve) => setImmediate(resolve));
  });

  void test('a server that is not listening is a PeerError', async () => {
    const probe = createNetServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as { port: number };
    probe.close();
    await assert.rejects(client(a).request('gw-b', `127.0.0.1:${port}`, 'GET', HELLO_PATH), (err: unknown) => {
      assert.ok(err instanceof PeerError && !(err instanceof PeerTimeout), 'refused, not timed out');
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
  });

  void test('every new connection makes a full handshake: no TLS session is resumed, though the client keeps one context', async () => {
    // A server with B's certificate that offers session tickets and tells whether each connection resumed one.
    const resumed: boolean[] = [];
    const ticketing = createHttpsServer({ cert: b.certPem, key: b.keyPem, requestCert: true, rejectUnauthorized: false }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    ticketing.on('secureConnection', (socket: TLSSocket) => resumed.push(socket.isSessionReused()));
    ticketing.listen(0, '127.0.0.1');
    await once(ticketing, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => {
      ticketing.closeAllConnections();
      ticketing.close(() => resolve());
    }));
    const at = { host: '127.0.0.1', port: (ticketing.address() as { port: number }).port };
    // The server does resume for a client that offers a session: Node's own agent, which caches them.
    const caching = new Agent({ keepAlive: false, cert: a.certPem, key: a.keyPem, rejectUnauthorized: false });
    cleanups.push(() => caching.destroy());
    for (let i = 0; i < 2; i++) assert.equal((await raw(at, { method: 'GET', path: '/', agent: caching })).status, 200);
    assert.deepEqual(resumed.splice(0), [false, true], 'the control: a cached session is resumed');
    // Ours: a connection closed between calls (close() drops the pools), then a new one.
    const ours = client(a);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await ours.request('gw-b', formatHostPort(at), 'GET', '/'), {});
      ours.close();
    }
    assert.deepEqual(resumed, [false, false, false]);
  });
});

void describe('a slow peer request or call is logged with where its time went', () => {
  type Line = { obj: Record<string, unknown>; msg: string };
  const recorder = (lines: Line[]): Logger => {
    const log: Logger = { ...silentLogger, info: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }), child: () => log };
    return log;
  };
  /** B's server logging into `lines`, every request counted slow from `slowRequestMs`. */
  async function logging(slowRequestMs: number): Promise<{ address: string; lines: Line[] }> {
    const lines: Line[] = [];
    const server = createPeerServer({ identity: b, name: 'gw-b', trust, host: '127.0.0.1', port: 0, routes, slowRequestMs, log: recorder(lines) });
    cleanups.push(() => server.stop());
    return { address: formatHostPort(await server.start()), lines };
  }
  /** A's client logging into `lines`, every call counted slow from `slowCallMs`. */
  function loggingClient(slowCallMs: number): { caller: PeerClient; lines: Line[] } {
    const lines: Line[] = [];
    const caller = createPeerClient({ identity: a, trust: pins, slowCallMs, log: recorder(lines) });
    cleanups.push(() => caller.close());
    return { caller, lines };
  }

  void test('the first request on a connection counts its handshake and the wait after it; a kept-alive one does not', async () => {
    const { address, lines } = await logging(0);
    const caller = client(a);
    for (let i = 0; i < 2; i++) await caller.request('gw-b', address, 'POST', '/peer/v1/echo', { i });
    assert.deepEqual(lines.map((l) => l.msg), ['slow peer request', 'slow peer request']);
    const [first, second] = lines.map((l) => l.obj) as [Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual({ member: first['member'], method: first['method'], path: first['path'] }, { member: 'gw-a', method: 'POST', path: '/peer/v1/echo' });
    for (const k of ['ms', 'handshakeMs', 'afterHandshakeMs', 'readMs', 'routeMs', 'routeCpuMs', 'replyMs']) assert.equal(typeof first[k], 'number', k);
    assert.equal('handshakeMs' in second || 'afterHandshakeMs' in second, false, 'the same connection, kept alive');
    assert.equal(typeof second['routeMs'], 'number');
  });

  void test('a caller logs its new connection\'s connect and handshake, then the answer; a kept-alive call only the answer', async () => {
    const { address } = await logging(3_600_000);
    const { caller, lines } = loggingClient(0);
    for (let i = 0; i < 2; i++) await caller.request('gw-b', address, 'POST', '/peer/v1/echo', { i });
    assert.deepEqual(lines.map((l) => l.msg), ['slow peer call', 'slow peer call']);
    const [first, second] = lines.map((l) => l.obj) as [Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual({ member: first['member'], method: first['method'], path: first['path'], status: first['status'], newConnection: first['newConnection'] },
      { member: 'gw-b', method: 'POST', path: '/peer/v1/echo', status: 200, newConnection: true });
    for (const k of ['ms', 'connectMs', 'tlsMs', 'socketMs', 'answerMs', 'readMs']) assert.equal(typeof first[k], 'number', k);
    assert.ok((first['socketMs'] as number) >= (first['tlsMs'] as number), 'a new connection is handed out once its handshake is done');
    assert.equal(second['newConnection'], false);
    assert.equal('tlsMs' in second, false, 'the same connection, kept alive');
  });

  void test('a call that gets no answer logs how far it got: connected and secured, no reply', async () => {
    const server = createPeerServer({ identity: b, name: 'gw-b', trust, host: '127.0.0.1', port: 0, routes });
    cleanups.push(() => server.stop());
    const address = formatHostPort(await server.start());
    const { caller, lines } = loggingClient(0);
    await assert.rejects(caller.request('gw-b', address, 'GET', '/peer/v1/slow', undefined, { timeoutMs: 300 }), PeerTimeout);
    assert.deepEqual(lines.map((l) => l.msg), ['slow peer call']);
    const [line] = lines.map((l) => l.obj) as [Record<string, unknown>];
    assert.deepEqual({ failed: line['failed'], newConnection: line['newConnection'], answerMs: line['answerMs'], readMs: line['readMs'] },
      { failed: 'no answer within 300 ms', newConnection: true, answerMs: null, readMs: null });
    for (const k of ['ms', 'connectMs', 'tlsMs', 'socketMs']) assert.equal(typeof line[k], 'number', k);
    assert.equal('status' in line, false);
  });

  void test('a slow call\'s log has the CPU the calling process used meanwhile: all of it, the call\'s or not', async () => {
    const { address } = await logging(3_600_000);
    const { caller, lines } = loggingClient(0);
    const answered = caller.request('gw-b', address, 'POST', '/peer/v1/echo', { i: 0 });
    // Busy on something else while the call is under way: 200 ms of this process's CPU.
    const from = process.cpuUsage();
    for (let used = 0; used < 200_000; used = process.cpuUsage(from).user + process.cpuUsage(from).system);
    await answered;
    const [line] = lines.map((l) => l.obj) as [Record<string, unknown>];
    assert.ok((line['processCpuMs'] as number) >= 200, `processCpuMs ${String(line['processCpuMs'])}`);
  });

  void test('below the thresholds nothing is logged', async () => {
    const { address, lines } = await logging(3_600_000);
    const called = loggingClient(3_600_000);
    assert.deepEqual(await called.caller.request('gw-b', address, 'GET', HELLO_PATH), { id: b.id, name: 'gw-b' });
    assert.deepEqual([...lines, ...called.lines], []);
  });
});

const ipv6 = await new Promise<boolean>((resolve) => {
  const probe = createNetServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

void describe('peer mutual TLS on ::1', { skip: ipv6 ? false : 'no IPv6 loopback here' }, () => {
  void test('A calls B hello over IPv6', async () => {
    const { address } = await startServer('::1');
    assert.match(address, /^\[::1\]:\d+$/);
    assert.deepEqual(await client(a).request('gw-b', address, 'GET', HELLO_PATH), { id: b.id, name: 'gw-b' });
  });
});
