// The app recipes a gateway ships, through the HTTP API: every recipe in
// apps/ is offered with its roles, one is given whole, and an unknown name
// is recipe_not_found. Runs the real Fastify app in-process.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';
import { PACKAGE_ROOT } from '../../../src/agent/version.js';
import { validateRecipe } from '../../../src/model/app.js';

let h: ApiHarness;
before(async () => {
  h = await apiHarness();
});
after(async () => h.close());

test('every shipped recipe is offered, with its roles and size', async () => {
  const res = await h.api.inject({ method: 'GET', url: '/api/v1/apps', headers: h.auth });
  assert.equal(res.statusCode, 200);
  const items = res.json<{ items: { name: string; slivers: number; roles: { name: string }[] }[] }>().items;
  const shipped = readdirSync(join(PACKAGE_ROOT, 'apps')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
  assert.deepEqual(items.map((i) => i.name).sort(), shipped);
  for (const i of items) assert.ok(i.slivers >= 3 && i.roles.length > 0, `${i.name}: ${i.slivers} slivers`);
});

test('one recipe is given whole and validates; an unknown one is recipe_not_found', async () => {
  const res = await h.api.inject({ method: 'GET', url: '/api/v1/apps/video', headers: h.auth });
  assert.equal(res.statusCode, 200);
  assert.equal(validateRecipe(res.json()).name, 'video');
  const missing = await h.api.inject({ method: 'GET', url: '/api/v1/apps/nosuch', headers: h.auth });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ code: string }>().code, 'recipe_not_found');
  assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/apps', headers: {} })).statusCode, 401);
});
