// Which ready image a debian sliver with extra packages is cloned from:
// its own when the machine has it, else the smallest one of the same
// release and id map that has every package it asks; never another image
// for the base, and none that lacks a package. The images here are only
// their config and metadata files in a temporary images dir (no build).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImageStore } from '../../../src/virt/images.js';
import { DEBIAN_BASE_PACKAGES } from '../../../src/virt/templates.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-reuse-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const idmap = { uid: 100000, gid: 100000, count: 65536 };
const images = createImageStore({ dir, idmap, debian: { suite: 'bookworm', arch: 'amd64' } });
const other = createImageStore({ dir, idmap: { uid: 200000, gid: 200000, count: 65536 }, debian: { suite: 'bookworm', arch: 'amd64' } });

/** Lays out a ready image of `store` for `extras` (config and metadata, as a build leaves them). */
function fake(store: typeof images, extras: string[]): string {
  const name = store.nameOf('debian', extras);
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'config'), '# fake\n');
  writeFileSync(join(dir, name, 'hearth-image.json'), JSON.stringify({ template: 'debian', packages: [...DEBIAN_BASE_PACKAGES, ...extras].sort(), suite: 'bookworm', arch: 'amd64', builtAt: '', buildMs: 0 }));
  return name;
}

test('an app\'s sliver reuses the smallest ready image that has all its packages; its own comes first', async () => {
  assert.equal(await images.reusable('debian', ['nginx']), undefined, 'nothing ready');
  const everything = fake(images, ['curl', 'ffmpeg', 'nginx', 'syncthing']);
  const two = fake(images, ['curl', 'nginx']);
  fake(other, ['nginx']); // another id map: never
  assert.equal(await images.reusable('debian', ['nginx']), two);
  assert.equal(await images.reusable('debian', ['ffmpeg', 'nginx']), everything);
  assert.equal(await images.reusable('debian', ['nginx', 'opentracker']), undefined, 'no image has opentracker');
  const own = fake(images, ['nginx']);
  assert.equal(await images.reusable('debian', ['nginx']), own);
  assert.equal(await images.reusable('debian', []), undefined, 'the base image is always its own');
  assert.equal(await images.reusable('busybox'), undefined);
});
