// A debian sliver with extra packages through the API: the request's list
// comes back sorted and once each, the sliver runs in a container of that
// package set, and a sliver without packages lacks them.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sliver } from '../../../src/api/schemas.js';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';

let h: ApiHarness;

before(async () => {
  h = await apiHarness(undefined, { templates: ['busybox', 'debian'] });
});
after(async () => h.close());

async function create(payload: object): Promise<Sliver> {
  const res = await h.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: h.auth, payload });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<Sliver>();
}

async function hasPackage(id: string, pkg: string): Promise<boolean> {
  const res = await h.api.inject({ method: 'POST', url: `/api/v1/slivers/${id}/exec`, headers: h.auth, payload: { command: ['dpkg-query', '-W', pkg] } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ exitCode: number }>().exitCode === 0;
}

test('a debian sliver asked with packages has them, sorted and once each; one without has none', async () => {
  const media = await create({ name: 'pkg-media', template: 'debian', packages: ['nginx', 'ffmpeg', 'nginx'] });
  assert.deepEqual(media.packages, ['ffmpeg', 'nginx']);
  const plain = await create({ name: 'pkg-plain', template: 'debian' });
  assert.deepEqual(plain.packages, []);
  await h.reconciler.pass();
  const shown = (await h.api.inject({ method: 'GET', url: '/api/v1/slivers/pkg-media', headers: h.auth })).json<Sliver>();
  assert.equal(shown.observed, 'running');
  assert.deepEqual(shown.packages, ['ffmpeg', 'nginx']);
  assert.equal(await hasPackage(media.id, 'ffmpeg'), true);
  assert.equal(await hasPackage(plain.id, 'ffmpeg'), false);
});
