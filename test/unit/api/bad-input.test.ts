// Every route, every kind of bad input: a 4xx problem+json with a stable
// code, and nothing created or left behind. Runs the real Fastify app
// in-process over the in-memory driver and network fakes; what only Node's
// HTTP parser sees (framing, oversized headers) goes over a real loopback
// socket, since inject() has no parser.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { problemFromClientError } from '../../../src/api/app.js';
import { apiHarness, TOKEN, type ApiHarness } from '../../support/api-harness.js';

let h: ApiHarness;
let existing: string;

before(async () => {
  h = await apiHarness();
  const res = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'keep', start: false } });
  assert.equal(res.statusCode, 202);
  existing = res.json<{ id: string }>().id;
  await h.reconciler.pass();
});
after(async () => h.close());

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'OPTIONS' | 'TRACE';
  url: string | (() => string);
  headers?: Record<string, string>;
  payload?: unknown;
  raw?: string;
  status: number;
  code: string;
  noAuth?: boolean;
}

const json = { 'content-type': 'application/json' };
const body = (payload: unknown): Pick<Case, 'method' | 'url' | 'payload'> => ({ method: 'POST', url: '/api/v1/slivers', payload });

const cases: Case[] = [
  // request shape
  { name: 'malformed JSON', method: 'POST', url: '/api/v1/slivers', headers: json, raw: '{"name": "a",', status: 400, code: 'malformed_json' },
  { name: 'empty JSON body', method: 'POST', url: '/api/v1/slivers', headers: json, raw: '', status: 400, code: 'malformed_json' },
  { name: 'JSON array body', ...body([1, 2]), status: 400, code: 'invalid_request' },
  { name: 'not JSON media type', method: 'POST', url: '/api/v1/slivers', headers: { 'content-type': 'text/plain' }, raw: 'name=a', status: 415, code: 'unsupported_media_type' },
  { name: '10 MB body', method: 'POST', url: '/api/v1/slivers', headers: json, raw: JSON.stringify({ name: 'a', pad: 'x'.repeat(10 * 1024 * 1024) }), status: 413, code: 'payload_too_large' },
  { name: 'missing name', ...body({ template: 'busybox' }), status: 400, code: 'invalid_request' },
  { name: 'unknown field', ...body({ name: 'a', colour: 'red' }), status: 400, code: 'invalid_request' },
  { name: 'unknown resource field', ...body({ name: 'a', resources: { gpus: 1 } }), status: 400, code: 'invalid_request' },
  { name: 'name of wrong type', ...body({ name: 42 }), status: 400, code: 'invalid_request' },
  { name: 'memory as a string', ...body({ name: 'a', resources: { memoryMb: '128' } }), status: 400, code: 'invalid_request' },
  { name: 'start as a string', ...body({ name: 'a', start: 'yes' }), status: 400, code: 'invalid_request' },
  { name: 'fractional memory', ...body({ name: 'a', resources: { memoryMb: 100.5 } }), status: 400, code: 'invalid_request' },
  // names
  { name: 'name with slash', ...body({ name: 'a/b' }), status: 400, code: 'invalid_name' },
  { name: 'name with dot-dot', ...body({ name: '..' }), status: 400, code: 'invalid_name' },
  { name: 'name with dots', ...body({ name: 'a.b' }), status: 400, code: 'invalid_name' },
  { name: 'name with space', ...body({ name: 'a b' }), status: 400, code: 'invalid_name' },
  { name: 'unicode name', ...body({ name: 'café' }), status: 400, code: 'invalid_name' },
  { name: '300-character name', ...body({ name: 'a'.repeat(300) }), status: 400, code: 'invalid_name' },
  { name: 'empty name', ...body({ name: '' }), status: 400, code: 'invalid_name' },
  { name: 'upper-case name', ...body({ name: 'Web' }), status: 400, code: 'invalid_name' },
  { name: 'slice with slash', ...body({ name: 'a', slice: '../x' }), status: 400, code: 'invalid_name' },
  { name: 'taken name', ...body({ name: 'keep' }), status: 409, code: 'name_taken' },
  { name: 'unknown template', ...body({ name: 'a', template: 'windows' }), status: 400, code: 'unknown_template' },
  // packages
  { name: 'packages for busybox', ...body({ name: 'a', packages: ['nginx'] }), status: 400, code: 'invalid_packages' },
  { name: 'a package that is an option', ...body({ name: 'a', packages: ['--force-yes'] }), status: 400, code: 'invalid_packages' },
  { name: 'more packages than an image takes', ...body({ name: 'a', packages: Array.from({ length: 65 }, (_, i) => `pkg${i}`) }), status: 400, code: 'invalid_packages' },
  { name: 'thousands of packages', ...body({ name: 'a', packages: Array.from({ length: 1001 }, (_, i) => `pkg${i}`) }), status: 400, code: 'invalid_request' },
  { name: 'packages as a string', ...body({ name: 'a', packages: 'nginx' }), status: 400, code: 'invalid_request' },
  // resources
  { name: 'negative memory', ...body({ name: 'a', resources: { memoryMb: -1 } }), status: 400, code: 'invalid_resources' },
  { name: 'zero memory', ...body({ name: 'a', resources: { memoryMb: 0 } }), status: 400, code: 'invalid_resources' },
  { name: 'zero cpu', ...body({ name: 'a', resources: { cpu: 0 } }), status: 400, code: 'invalid_resources' },
  { name: 'negative cpu', ...body({ name: 'a', resources: { cpu: -2 } }), status: 400, code: 'invalid_resources' },
  { name: 'absurd memory', ...body({ name: 'a', resources: { memoryMb: 1e12 } }), status: 400, code: 'invalid_resources' },
  { name: 'absurd pids', ...body({ name: 'a', resources: { pids: 2 ** 40 } }), status: 400, code: 'invalid_resources' },
  // A disk is a filesystem of its own: one too small to format is refused before anything is made.
  { name: 'disk too small for a filesystem', ...body({ name: 'a', resources: { diskMb: 8 } }), status: 400, code: 'invalid_resources' },
  { name: 'more memory than contributed', ...body({ name: 'a', resources: { memoryMb: 4096 } }), status: 409, code: 'insufficient_resources' },
  { name: 'more cpu than contributed', ...body({ name: 'a', resources: { cpu: 8 } }), status: 409, code: 'insufficient_resources' },
  // bandwidth
  { name: 'absurd upload guarantee', ...body({ name: 'a', resources: { upMbit: 1e9 } }), status: 400, code: 'invalid_resources' },
  { name: 'negative download guarantee', ...body({ name: 'a', resources: { downMbit: -5 } }), status: 400, code: 'invalid_resources' },
  { name: 'bandwidth as a string', ...body({ name: 'a', resources: { upMbit: '10' } }), status: 400, code: 'invalid_request' },
  { name: 'a guarantee where the owner gives no bandwidth', ...body({ name: 'a', resources: { upMbit: 1 } }), status: 409, code: 'insufficient_resources' },
  { name: 'owner bandwidth negative', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: -1, downMbit: null }, status: 400, code: 'invalid_resources' },
  { name: 'owner bandwidth absurd', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: null, downMbit: 1e12 }, status: 400, code: 'invalid_resources' },
  { name: 'owner bandwidth zero', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: 0, downMbit: null }, status: 400, code: 'invalid_resources' },
  { name: 'owner bandwidth as a string', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: '10', downMbit: null }, status: 400, code: 'invalid_request' },
  { name: 'owner bandwidth with a field missing', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: 10 }, status: 400, code: 'invalid_request' },
  { name: 'owner bandwidth without the token', method: 'PUT', url: '/api/v1/node/bandwidth', payload: { upMbit: 10, downMbit: 10 }, noAuth: true, status: 401, code: 'unauthorized' },
  // ids
  { name: 'show unknown id', method: 'GET', url: '/api/v1/slivers/nope', status: 404, code: 'sliver_not_found' },
  { name: 'show id with dot-dot', method: 'GET', url: '/api/v1/slivers/..%2F..%2Fetc', status: 404, code: 'sliver_not_found' },
  { name: 'start unknown id', method: 'POST', url: '/api/v1/slivers/nope/start', status: 404, code: 'sliver_not_found' },
  { name: 'stop unknown id', method: 'POST', url: '/api/v1/slivers/nope/stop', status: 404, code: 'sliver_not_found' },
  { name: 'delete unknown id', method: 'DELETE', url: '/api/v1/slivers/nope', status: 404, code: 'sliver_not_found' },
  { name: 'stats unknown id', method: 'GET', url: '/api/v1/slivers/nope/stats', status: 404, code: 'sliver_not_found' },
  { name: 'exec unknown id', method: 'POST', url: '/api/v1/slivers/nope/exec', payload: { command: ['true'] }, status: 404, code: 'sliver_not_found' },
  { name: 'events of unknown sliver', method: 'GET', url: '/api/v1/events?sliver=nope', status: 404, code: 'sliver_not_found' },
  { name: 'unknown route', method: 'GET', url: '/api/v1/nothing', status: 404, code: 'route_not_found' },
  { name: 'unknown route with a 5000-character path', method: 'GET', url: `/api/v1/${'x/'.repeat(2500)}`, status: 404, code: 'route_not_found' },
  // refused by the router before any hook or route runs
  { name: '200-character id', method: 'GET', url: `/api/v1/slivers/${'a'.repeat(200)}`, status: 414, code: 'uri_too_long' },
  { name: '200-character id, no token', method: 'GET', url: `/api/v1/slivers/${'a'.repeat(200)}`, noAuth: true, status: 414, code: 'uri_too_long' },
  { name: '200-character id on a sub-route', method: 'POST', url: `/api/v1/slivers/${'a'.repeat(200)}/start`, status: 414, code: 'uri_too_long' },
  { name: '200-digit forward port', method: 'DELETE', url: () => `/api/v1/slivers/${existing}/forwards/tcp/${'1'.repeat(200)}`, status: 414, code: 'uri_too_long' },
  { name: 'lone % in the path', method: 'GET', url: '/api/v1/slivers/%', status: 400, code: 'malformed_request' },
  { name: 'bad %-sequence in the path', method: 'GET', url: '/api/v1/slivers/%zz', status: 400, code: 'malformed_request' },
  { name: 'truncated UTF-8 %-sequence', method: 'GET', url: '/api/v1/slivers/%E0%A4%A', status: 400, code: 'malformed_request' },
  { name: 'bad %-sequence in a static segment', method: 'DELETE', url: '/api/v1/sli%vers/x', status: 400, code: 'malformed_request' },
  { name: 'bad %-sequence in the query', method: 'GET', url: '/api/v1/events?after=%zz', status: 400, code: 'invalid_request' },
  // methods no route has
  { name: 'PUT on a sliver', method: 'PUT', url: () => `/api/v1/slivers/${existing}`, payload: { name: 'x' }, status: 404, code: 'route_not_found' },
  { name: 'PATCH on the list', method: 'PATCH', url: '/api/v1/slivers', payload: {}, status: 404, code: 'route_not_found' },
  { name: 'OPTIONS on the list', method: 'OPTIONS', url: '/api/v1/slivers', status: 404, code: 'route_not_found' },
  { name: 'TRACE on the list', method: 'TRACE', url: '/api/v1/slivers', status: 404, code: 'route_not_found' },
  // a body that is not what its Content-Length says
  { name: 'body longer than Content-Length', method: 'POST', url: '/api/v1/slivers', headers: { ...json, 'content-length': '3' }, raw: '{"name":"a"}', status: 400, code: 'malformed_request' },
  { name: 'body shorter than Content-Length', method: 'POST', url: '/api/v1/slivers', headers: { ...json, 'content-length': '1000' }, raw: '{"name":"a"}', status: 400, code: 'malformed_request' },
  // exec
  { name: 'exec on a stopped sliver', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: ['true'] }, status: 409, code: 'invalid_state' },
  { name: 'exec with empty command', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: [] }, status: 400, code: 'invalid_request' },
  { name: 'exec with command as string', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: 'ls' }, status: 400, code: 'invalid_request' },
  { name: 'exec with unknown field', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: ['ls'], user: 'root' }, status: 400, code: 'invalid_request' },
  { name: 'exec with zero timeout', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: ['ls'], timeoutSec: 0 }, status: 400, code: 'invalid_request' },
  { name: 'exec malformed JSON', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, headers: json, raw: '{command', status: 400, code: 'malformed_json' },
  // forwards
  { name: 'forward to port 0', method: 'POST', url: () => `/api/v1/slivers/${existing}/forwards`, payload: { proto: 'tcp', hostPort: 0, port: 80 }, status: 400, code: 'invalid_request' },
  { name: 'forward to port 70000', method: 'POST', url: () => `/api/v1/slivers/${existing}/forwards`, payload: { proto: 'tcp', hostPort: 8080, port: 70000 }, status: 400, code: 'invalid_request' },
  { name: 'forward with bad proto', method: 'POST', url: () => `/api/v1/slivers/${existing}/forwards`, payload: { proto: 'icmp', hostPort: 8080, port: 80 }, status: 400, code: 'invalid_request' },
  { name: 'remove absent forward', method: 'DELETE', url: () => `/api/v1/slivers/${existing}/forwards/tcp/9999`, status: 404, code: 'not_found' },
  { name: 'remove forward with bad port', method: 'DELETE', url: () => `/api/v1/slivers/${existing}/forwards/tcp/abc`, status: 400, code: 'invalid_request' },
  // events query
  { name: 'events with bad after', method: 'GET', url: '/api/v1/events?after=-1', status: 400, code: 'invalid_request' },
  { name: 'events with unknown parameter', method: 'GET', url: '/api/v1/events?colour=red', status: 400, code: 'invalid_request' },
  // community
  { name: 'nodes outside a community', method: 'GET', url: '/api/v1/nodes', status: 409, code: 'not_in_community' },
  { name: 'community status outside a community', method: 'GET', url: '/api/v1/community', status: 409, code: 'not_in_community' },
  { name: 'community with a slash in its name', method: 'POST', url: '/api/v1/community', payload: { name: 'a/b' }, status: 400, code: 'invalid_name' },
  { name: 'community name of wrong type', method: 'POST', url: '/api/v1/community', payload: { name: 7 }, status: 400, code: 'invalid_request' },
  { name: 'community with unknown field', method: 'POST', url: '/api/v1/community', payload: { name: 'a', key: 'x' }, status: 400, code: 'invalid_request' },
  { name: 'join with a garbage token', method: 'POST', url: '/api/v1/community/join', payload: { token: 'hello' }, status: 400, code: 'invalid_invite' },
  { name: 'join with a tampered token', method: 'POST', url: '/api/v1/community/join', payload: { token: 'hearth1.e30.AAAA' }, status: 400, code: 'invalid_invite' },
  { name: 'join with no token', method: 'POST', url: '/api/v1/community/join', payload: {}, status: 400, code: 'invalid_request' },
  { name: 'join malformed JSON', method: 'POST', url: '/api/v1/community/join', headers: json, raw: '{"token":', status: 400, code: 'malformed_json' },
  { name: 'invite outside a community', method: 'POST', url: '/api/v1/community/invites', payload: {}, status: 409, code: 'not_in_community' },
  { name: 'invite expiring in 1 s', method: 'POST', url: '/api/v1/community/invites', payload: { expiresInSec: 1 }, status: 400, code: 'invalid_request' },
  { name: 'leave outside a community', method: 'POST', url: '/api/v1/community/leave', status: 409, code: 'not_in_community' },
  { name: 'rotate outside a community', method: 'POST', url: '/api/v1/community/rotate-key', status: 409, code: 'not_in_community' },
  { name: 'revoke outside a community', method: 'POST', url: '/api/v1/community/revocations', payload: { node: 'gw2' }, status: 409, code: 'not_in_community' },
  { name: 'revoke with no node', method: 'POST', url: '/api/v1/community/revocations', payload: {}, status: 400, code: 'invalid_request' },
  { name: 'no token on nodes', method: 'GET', url: '/api/v1/nodes', noAuth: true, status: 401, code: 'unauthorized' },
  { name: 'wrong token on join', method: 'POST', url: '/api/v1/community/join', payload: { token: 'x' }, headers: { authorization: 'Bearer nope' }, status: 401, code: 'unauthorized' },
  // auth
  { name: 'no token on list', method: 'GET', url: '/api/v1/slivers', noAuth: true, status: 401, code: 'unauthorized' },
  { name: 'wrong token on create', ...body({ name: 'a' }), headers: { authorization: 'Bearer wrong' }, status: 401, code: 'unauthorized' },
  { name: 'malformed auth header', method: 'GET', url: '/api/v1/node', headers: { authorization: 'Basic abc' }, status: 401, code: 'unauthorized' },
  { name: 'no token on node', method: 'GET', url: '/api/v1/node', noAuth: true, status: 401, code: 'unauthorized' },
  { name: 'no token on delete', method: 'DELETE', url: () => `/api/v1/slivers/${existing}`, noAuth: true, status: 401, code: 'unauthorized' },
  { name: 'no token on exec', method: 'POST', url: () => `/api/v1/slivers/${existing}/exec`, payload: { command: ['true'] }, noAuth: true, status: 401, code: 'unauthorized' },
  { name: 'no token on events', method: 'GET', url: '/api/v1/events', noAuth: true, status: 401, code: 'unauthorized' },
];

describe('bad input is refused with a problem and leaves nothing behind', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const before = h.store.listSlivers().map((s) => `${s.id}:${s.desired}`).sort();
      const containersBefore = (await h.driver.list()).length;
      const headers = { ...(c.noAuth === true ? {} : h.auth), ...c.headers };
      const res = await h.api.inject({
        method: c.method,
        url: typeof c.url === 'function' ? c.url() : c.url,
        headers,
        ...(c.raw !== undefined ? { payload: c.raw } : c.payload !== undefined ? { payload: c.payload as object } : {}),
      });
      assert.equal(res.statusCode, c.status, res.body.slice(0, 300));
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const problem = res.json<{ code: string; status: number; title: string; detail: string }>();
      assert.equal(problem.code, c.code, problem.detail);
      assert.equal(problem.status, c.status);
      assert.ok(problem.detail.length > 0 && problem.detail.length < 1000, 'a short human-readable detail');
      await h.reconciler.pass();
      assert.deepEqual(h.store.listSlivers().map((s) => `${s.id}:${s.desired}`).sort(), before, 'no sliver row changed');
      assert.equal((await h.driver.list()).length, containersBefore, 'no container created');
    });
  }
});

// As a client writes them on the wire: only Node's parser refuses these.
const auth = `Authorization: Bearer ${TOKEN}\r\n`;
const post = (headers: string, body: string): string =>
  `POST /api/v1/slivers HTTP/1.1\r\nHost: h\r\n${auth}Content-Type: application/json\r\n${headers}\r\n${body}`;

interface WireCase {
  name: string;
  request: string;
  status: number;
  code: string;
}

const wireCases: WireCase[] = [
  { name: 'Content-Length that is not a number', request: post('Content-Length: abc\r\n', '{"name":"w1"}'), status: 400, code: 'malformed_request' },
  { name: 'two different Content-Lengths', request: post('Content-Length: 13\r\nContent-Length: 14\r\n', '{"name":"w2"}'), status: 400, code: 'malformed_request' },
  { name: 'Content-Length with chunked encoding', request: post('Content-Length: 13\r\nTransfer-Encoding: chunked\r\n', 'd\r\n{"name":"w3"}\r\n0\r\n\r\n'), status: 400, code: 'malformed_request' },
  { name: 'unknown method token', request: `BREW /api/v1/slivers HTTP/1.1\r\nHost: h\r\n${auth}\r\n`, status: 400, code: 'malformed_request' },
  { name: 'space in the path', request: `GET /api/v1/sl vers HTTP/1.1\r\nHost: h\r\n${auth}\r\n`, status: 400, code: 'malformed_request' },
  { name: 'not HTTP at all', request: 'hello\r\n\r\n', status: 400, code: 'malformed_request' },
  { name: 'HTTP/1.1 without Host', request: `GET /api/v1/slivers HTTP/1.1\r\n${auth}\r\n`, status: 400, code: 'malformed_request' },
  { name: '20 KB URL', request: `GET /api/v1/slivers?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: h\r\n${auth}\r\n`, status: 431, code: 'headers_too_large' },
  { name: '20 KB header', request: `GET /api/v1/slivers HTTP/1.1\r\nHost: h\r\n${auth}X-Pad: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'headers_too_large' },
  { name: '200-character id over the wire', request: `GET /api/v1/slivers/${'a'.repeat(200)} HTTP/1.1\r\nHost: h\r\n\r\n`, status: 414, code: 'uri_too_long' },
];

interface WireResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Write `request` on a fresh connection and read one response; asks the server to close after it. */
function exchange(port: number, request: string): Promise<WireResponse> {
  const closing = request.replace(/\r\n\r\n/, '\r\nConnection: close\r\n\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server may close before it has read all we sent: the answer is already in.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split(/\r\n\r\n(.*)/s);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      if (!Number.isInteger(status)) {
        reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status, headers, body });
    });
    socket.end(closing);
  });
}

describe('bad HTTP on the wire is refused with a problem too', () => {
  let port = 0;
  before(async () => {
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    port = (h.api.server.address() as AddressInfo).port;
  });

  for (const c of wireCases) {
    test(c.name, async () => {
      const before = h.store.listSlivers().map((s) => `${s.id}:${s.desired}`).sort();
      const res = await exchange(port, c.request);
      assert.equal(res.status, c.status, res.body.slice(0, 300));
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(res.body), 'the whole problem arrives');
      const problem = JSON.parse(res.body) as { code: string; status: number; detail: string };
      assert.equal(problem.code, c.code, problem.detail);
      assert.equal(problem.status, c.status);
      assert.ok(problem.detail.length > 0 && problem.detail.length < 1000, 'a short human-readable detail');
      assert.deepEqual(h.store.listSlivers().map((s) => `${s.id}:${s.desired}`).sort(), before, 'no sliver row changed');
    });
  }

  test('headers that never finish time out as request_timeout', () => {
    // Node's headersTimeout takes a minute to fire; the mapping is what we own.
    const problem = problemFromClientError({ code: 'ERR_HTTP_REQUEST_TIMEOUT', message: 'timeout' });
    assert.equal(problem.code, 'request_timeout');
    assert.equal(problem.status, 408);
  });
});

describe('a request that arrives while the API closes', () => {
  test('is refused as shutting_down, with or without a token, and the connection closes', async () => {
    const h2 = await apiHarness();
    let server: Server | undefined;
    try {
      await h2.api.close();
      // close() stopped the API's own listener; requests still arriving on
      // open connections reach its router exactly like this.
      const s = createServer((req, res) => h2.api.routing(req, res));
      server = s;
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      const { port } = s.address() as AddressInfo;
      for (const headers of [h2.auth, {}]) {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/slivers`, { headers });
        assert.equal(res.status, 503);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(res.headers.get('connection'), 'close');
        assert.equal(((await res.json()) as { code: string }).code, 'shutting_down');
      }
    } finally {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await h2.close();
    }
  });
});

describe('the public routes need no token', () => {
  test('the OpenAPI document lists the sliver routes', async () => {
    const res = await h.api.inject({ method: 'GET', url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json<{ openapi: string; paths: Record<string, unknown> }>();
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/api/v1/slivers', '/api/v1/slivers/{id}', '/api/v1/slivers/{id}/exec', '/api/v1/node']) assert.ok(p in doc.paths, p);
  });
  test('metrics are Prometheus text', async () => {
    const res = await h.api.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /^# HELP hearth_slivers /m);
    assert.match(res.body, /hearth_resources_contributed\{resource="memory_mb"\} 1024/);
    assert.match(res.body, /hearth_http_request_duration_seconds_bucket/);
  });
});

describe('admission', () => {
  test('the last slot cannot be taken twice, and the refusal says what is short', async () => {
    const h2 = await apiHarness({ cpu: 1, memoryMb: 256, diskMb: 1024, slivers: 2 });
    try {
      const ask = (name: string): Promise<{ statusCode: number; json: () => { code: string; detail: string; short?: unknown[] } }> =>
        h2.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h2.auth, payload: { name, resources: { memoryMb: 128, cpu: 0.5 } } });
      const results = await Promise.all([ask('a1'), ask('a2'), ask('a3')]);
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [202, 202, 409]);
      const refused = results.find((r) => r.statusCode === 409)?.json();
      assert.equal(refused?.code, 'insufficient_resources');
      assert.match(refused?.detail ?? '', /memoryMb: asked 128 MB, 0 free/);
      assert.match(refused?.detail ?? '', /slivers: asked 1 slivers, 0 free/);
      assert.equal(h2.store.listSlivers().length, 2);
    } finally {
      await h2.close();
    }
  });
});
