// /api/v1/images over HTTP (inject): the store's names and refusals become
// problem+json with stable codes; a build answers 202 at once and shows in
// the list; an image that exists answers 200; rm maps in-use and unknown.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Response as LightMyRequestResponse } from 'light-my-request';
import type { ImagesApi } from '../../../src/api/routes/images.js';
import { HearthError } from '../../../src/model/errors.js';
import { createImageStore, type ImageInfo } from '../../../src/virt/images.js';
import { DEFAULT_IDMAP } from '../../../src/virt/lxc-config.js';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';

describe('image routes', () => {
  let h: ApiHarness;
  let dir: string;
  const built = new Map<string, ImageInfo>();
  const ensured: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-images-api-'));
    // The real store's naming and checks; builds are faked (no debootstrap in a unit test).
    const real = createImageStore({ dir, idmap: DEFAULT_IDMAP, debian: { arch: 'amd64' } });
    const images: ImagesApi = {
      nameOf: real.nameOf,
      async ensure(template, opts = {}) {
        const name = real.nameOf(template, opts.packages);
        ensured.push(name);
        built.set(name, { name, template, state: 'building', packages: [], suite: 'bookworm', arch: 'amd64', builtAt: null, buildMs: null, usedBy: 0, progress: 'debootstrap: retrieving (1) libc6', error: null });
        return name;
      },
      list: async () => [...built.values()],
      async remove(name) {
        if (name === 'debian-bookworm-amd64-00000000-100000-100000-65536') throw new HearthError('image_in_use', 'in use by 1 sliver(s)', { usedBy: 1 });
        if (!built.delete(name)) throw new HearthError('image_not_found', `no image ${name}`);
      },
    };
    h = await apiHarness(undefined, { images });
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (payload: unknown): Promise<LightMyRequestResponse> => h.api.inject({ method: 'POST', url: '/api/v1/images', headers: h.auth, payload: payload as object });

  test('bad input is a 400 with its code, and nothing is built', async () => {
    const cases: [unknown, string][] = [
      [{ template: 'alpine' }, 'unknown_template'],
      [{ template: 'debian', packages: ['--force-yes'] }, 'invalid_packages'],
      [{ template: 'debian', packages: ['Nginx'] }, 'invalid_packages'],
      [{ template: 'debian', packages: Array.from({ length: 65 }, (_, i) => `p${i}x`) }, 'invalid_packages'],
      [{ template: 'busybox', packages: ['curl'] }, 'invalid_packages'],
      [{ template: 'debian', packages: 'curl' }, 'invalid_request'],
      [{ template: 'debian', extra: 1 }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const res = await post(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json<{ code: string }>().code, code, JSON.stringify(body));
    }
    assert.deepEqual(ensured, []);
  });

  test('a build answers 202 at once and shows with its progress in the list; equal sets name one image', async () => {
    const res = await post({ template: 'debian', packages: ['nginx', 'curl'] });
    assert.equal(res.statusCode, 202);
    const info = res.json<ImageInfo>();
    assert.match(info.name, /^debian-bookworm-amd64-[0-9a-f]{8}-100000-100000-65536$/);
    const again = await post({ template: 'debian', packages: ['curl', 'nginx', 'curl'] });
    assert.equal(again.json<ImageInfo>().name, info.name);
    const list = await h.api.inject({ method: 'GET', url: '/api/v1/images', headers: h.auth });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json<{ items: ImageInfo[] }>().items.map((i) => [i.name, i.state, i.progress]), [[info.name, 'building', 'debootstrap: retrieving (1) libc6']]);
    built.set(info.name, { ...info, state: 'ready', progress: null });
    const ready = await post({ template: 'debian', packages: ['curl', 'nginx'] });
    assert.equal(ready.statusCode, 200, 'an image that exists is not built again');
  });

  test('rm: 204, then 404 image_not_found; 409 image_in_use; the owner token is needed', async () => {
    const [name] = [...built.keys()];
    assert.equal((await h.api.inject({ method: 'DELETE', url: `/api/v1/images/${name}`, headers: h.auth })).statusCode, 204);
    const gone = await h.api.inject({ method: 'DELETE', url: `/api/v1/images/${name}`, headers: h.auth });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json<{ code: string }>().code, 'image_not_found');
    const used = await h.api.inject({ method: 'DELETE', url: '/api/v1/images/debian-bookworm-amd64-00000000-100000-100000-65536', headers: h.auth });
    assert.equal(used.statusCode, 409);
    assert.equal(used.json<{ code: string }>().code, 'image_in_use');
    assert.equal((await h.api.inject({ method: 'GET', url: '/api/v1/images' })).statusCode, 401);
  });
});
