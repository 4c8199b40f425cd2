// Services a sliver declares, through the HTTP API: forwarded from a gateway
// port (picked from the service range, or the one asked for), kept when
// the same service is declared again, and every bad declaration refused with
// a stable code and nothing changed: no service row, no forward, no sliver.
// Runs the real Fastify app over the in-memory driver and network fakes.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';
import { SERVICE_PORT_RANGE } from '../../../src/model/service.js';

let h: ApiHarness;
before(async () => {
  h = await apiHarness();
});
after(async () => h.close());

interface Declared { name: string; hostPort: number; fixed: boolean; up: boolean; reason: string | null; check: unknown }
const put = (sliver: string, services: unknown) =>
  h.api.inject({ method: 'PUT', url: `/api/v1/slivers/${sliver}/services`, headers: h.auth, payload: { services } });
const declared = async (sliver: string): Promise<Declared[]> =>
  (await h.api.inject({ method: 'GET', url: `/api/v1/slivers/${sliver}/services`, headers: h.auth })).json<{ items: Declared[] }>().items;
const forwards = async (sliver: string): Promise<{ proto: string; hostPort: number; port: number }[]> =>
  (await h.api.inject({ method: 'GET', url: `/api/v1/slivers/${sliver}/forwards`, headers: h.auth })).json<{ items: { proto: string; hostPort: number; port: number }[] }>().items;
const code = (res: { json: <T>() => T }): string => res.json<{ code: string }>().code;

test('a sliver created with a service has it forwarded from the first port of the service range, and down until a check passes', async () => {
  const res = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'site', start: false, services: [{ name: 'web', type: 'http', port: 80 }] } });
  assert.equal(res.statusCode, 202);
  const [web] = await declared('site');
  assert.equal(web?.hostPort, SERVICE_PORT_RANGE.first);
  assert.equal(web?.fixed, false);
  assert.equal(web?.up, false);
  assert.deepEqual(await forwards('site'), [{ proto: 'tcp', hostPort: SERVICE_PORT_RANGE.first, port: 80 }]);
  const directory = await h.api.inject({ method: 'GET', url: '/api/v1/services', headers: h.auth });
  // Announcing is the services part's, which this harness does not run (the testbed story checks it): the route answers with what it holds.
  assert.deepEqual(directory.json(), { items: [] }, 'the directory route answers, with nothing announced');
});

test('declaring again keeps the port of a service that stays, frees the ports of those that go, and honours a fixed port', async () => {
  const res = await put('site', [{ name: 'web', type: 'http', port: 80 }, { name: 'dav', type: 'webdav', port: 8080, hostPort: 8080 }]);
  assert.equal(res.statusCode, 200);
  assert.deepEqual((await declared('site')).map((d) => [d.name, d.hostPort, d.fixed]), [['dav', 8080, true], ['web', SERVICE_PORT_RANGE.first, false]]);
  assert.equal((await put('site', [{ name: 'dav', type: 'webdav', port: 8080, hostPort: 8080 }])).statusCode, 200);
  assert.deepEqual((await forwards('site')).map((f) => f.hostPort), [8080]);
});

test('a fixed port another forward holds is refused with port_taken, and nothing changes', async () => {
  await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'other', start: false } });
  assert.equal((await h.api.inject({ method: 'POST', url: '/api/v1/slivers/other/forwards', headers: h.auth, payload: { proto: 'tcp', hostPort: 9000, port: 22 } })).statusCode, 201);
  const before = await declared('site');
  const taken = await put('site', [{ name: 'web', type: 'http', port: 80, hostPort: 9000 }]);
  assert.equal(taken.statusCode, 409);
  assert.equal(code(taken), 'port_taken');
  assert.deepEqual(await declared('site'), before);
  assert.deepEqual((await forwards('site')).map((f) => f.hostPort), [8080]);
  // A sliver created with it is not created at all.
  const created = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'late', start: false, services: [{ name: 'web', type: 'http', port: 80, hostPort: 8080 }] } });
  assert.equal(code(created), 'port_taken');
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/slivers/late', headers: h.auth })).statusCode, 404);
});

test('bad declarations are refused with invalid_services naming the field, and nothing changes', async () => {
  const before = await declared('site');
  for (const [services, field] of [
    [[{ name: 'web', type: 'gopher', port: 80 }], 'services[0].type'],
    [[{ name: 'web', type: 'http', port: 70000 }], 'services[0].port'],
    [[{ name: 'a', type: 'http', port: 80 }, { name: 'b', type: 'http', port: 80 }], 'services[1]'],
    [[{ name: 'web', type: 'http', port: 80, check: { kind: 'http', timeoutSec: 9, intervalSec: 3 } }], 'services[0].check.timeoutSec'],
  ] as const) {
    const res = await put('site', services);
    assert.equal(res.statusCode, 400, JSON.stringify(services));
    assert.deepEqual([code(res), res.json<{ field: string }>().field], ['invalid_services', field]);
  }
  const created = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name: 'bad', services: [{ name: 'x', type: 'http', port: 0 }] } });
  assert.equal(code(created), 'invalid_services');
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/slivers/bad', headers: h.auth })).statusCode, 404);
  assert.equal(code(await put('site', 'web')), 'invalid_request', 'the body must hold a list');
  assert.deepEqual(await declared('site'), before);
});

test('a service\'s forward is removed only with the service; unknown slivers and types are refused', async () => {
  const res = await h.api.inject({ method: 'DELETE', url: '/api/v1/slivers/site/forwards/tcp/8080', headers: h.auth });
  assert.equal(res.statusCode, 409);
  assert.match(res.json<{ detail: string }>().detail, /service dav/);
  assert.equal(code(await put('nosuch', [])), 'sliver_not_found');
  assert.equal(code(await h.api.inject({ method: 'GET', url: '/api/v1/slivers/nosuch/services', headers: h.auth })), 'sliver_not_found');
  assert.equal(code(await h.api.inject({ method: 'GET', url: '/api/v1/services?type=gopher', headers: h.auth })), 'invalid_request');
  assert.equal(code(await h.api.inject({ method: 'GET', url: '/api/v1/services?near=yes', headers: h.auth })), 'invalid_request');
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/services?type=http&near=true', headers: h.auth })).statusCode, 200);
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/services', headers: {} })).statusCode, 401);
});

test('a deleted sliver takes its services and their forwards with it', async () => {
  await h.api.inject({ method: 'DELETE', url: '/api/v1/slivers/site', headers: h.auth });
  await h.reconciler.pass();
  await h.reconciler.pass();
  assert.equal(h.store.listServices().length, 0);
  assert.ok(!h.store.listForwards().some((f) => f.hostPort === 8080));
});
