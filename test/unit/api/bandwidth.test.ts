// The bandwidth the owner gives, changed after init through the API, and
// slivers' guarantees admitted against it like memory.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';

let h: ApiHarness;
before(async () => {
  h = await apiHarness();
});
after(async () => h.close());

const create = (name: string, resources: Record<string, number>) =>
  h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload: { name, resources, start: false } });

test('no bandwidth given: nothing shaped, a guarantee refused, a fair share admitted', async () => {
  assert.deepEqual((await h.api.inject({ method: 'GET', url: '/api/v1/node/bandwidth', headers: h.auth })).json(), { upMbit: null, downMbit: null });
  assert.equal((await create('g0', { downMbit: 1 })).json<{ code: string }>().code, 'insufficient_resources');
  assert.equal((await create('fair', {})).statusCode, 202);
});

test('the owner gives bandwidth; guarantees are admitted until it is taken, and the node says so', async () => {
  const put = await h.api.inject({ method: 'PUT', url: '/api/v1/node/bandwidth', headers: h.auth, payload: { upMbit: 20, downMbit: 50 } });
  assert.equal(put.statusCode, 200);
  assert.deepEqual(put.json(), { upMbit: 20, downMbit: 50 });
  assert.equal((await create('g1', { upMbit: 15, downMbit: 2.5 })).statusCode, 202);
  const over = await create('g2', { upMbit: 10 });
  assert.equal(over.statusCode, 409);
  assert.match(over.json<{ detail: string }>().detail, /upMbit: asked 10 Mbit\/s, 5 free/);
  const node = (await h.api.inject({ method: 'GET', url: '/api/v1/node', headers: h.auth })).json<{ bandwidth: unknown }>();
  assert.deepEqual(node.bandwidth, { contributed: { upMbit: 20, downMbit: 50 }, guaranteed: { upMbit: 15, downMbit: 2.5 } });
  const shown = (await h.api.inject({ method: 'GET', url: '/api/v1/slivers/g1', headers: h.auth })).json<{ resources: Record<string, number> }>();
  assert.equal(shown.resources['upMbit'], 15);
  assert.equal(shown.resources['downMbit'], 2.5);
});

test('a direction set to null is no longer shaped', async () => {
  const put = await h.api.inject({ method: 'PUT', url: '/api/v1/node/bandwidth', headers: h.auth, payload: { upMbit: 20, downMbit: null } });
  assert.deepEqual(put.json(), { upMbit: 20, downMbit: null });
});
