// The app recipes a gateway ships, through the HTTP API: every recipe in
// apps/ is offered with its roles, one is given whole, and an unknown name
// is recipe_not_found; a user reads them with a signed request, as the CLI
// and the portal deploy them without the owner token. Runs the real Fastify
// app in-process.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';
import { PACKAGE_ROOT } from '../../../src/agent/version.js';
import { validateRecipe } from '../../../src/model/app.js';
import { createRequestSigner } from '../../../src/cli/request-signer.js';

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

test('a user reads the recipes with a signed request; a signature for another path is refused', async () => {
  const sign = createRequestSigner(generateKeyPairSync('ed25519').privateKey);
  const signed = (path: string): Promise<Record<string, string>> => sign({ method: 'GET', url: `http://localhost:80${path}`, headers: {} });
  const list = await h.api.inject({ method: 'GET', url: '/api/v1/apps', headers: await signed('/api/v1/apps') });
  assert.equal(list.statusCode, 200);
  assert.ok(list.json<{ items: { name: string }[] }>().items.some((i) => i.name === 'video'));
  const one = await h.api.inject({ method: 'GET', url: '/api/v1/apps/storage', headers: await signed('/api/v1/apps/storage') });
  assert.equal(validateRecipe(one.json()).name, 'storage');
  const elsewhere = await h.api.inject({ method: 'GET', url: '/api/v1/apps/video', headers: await signed('/api/v1/apps/storage') });
  assert.equal(elsewhere.statusCode, 401);
});
