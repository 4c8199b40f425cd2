// Image keys and package lists: what names an image, and which package
// lists a request may carry.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { MAX_IMAGE_PACKAGES, imageKey, normalizePackages, packageSetHash, packagesFor, templateOfImage } from '../../../src/model/image.js';

const map = { uid: 100000, gid: 100000, count: 65536 };
const bookworm = { suite: 'bookworm', arch: 'amd64' };

test('busybox keeps the name its images always had', () => {
  assert.equal(imageKey('busybox', map), 'busybox-100000-100000-65536');
});

test('a debian image is named by release, package set and id map; equal sets in any order give one name', () => {
  const a = imageKey('debian', map, { ...bookworm, packages: ['tini', 'openssh-server'] });
  const b = imageKey('debian', map, { ...bookworm, packages: ['openssh-server', 'tini', 'tini'] });
  assert.equal(a, b);
  assert.match(a, /^debian-bookworm-amd64-[0-9a-f]{8}-100000-100000-65536$/);
  assert.notEqual(a, imageKey('debian', map, { ...bookworm, packages: ['openssh-server', 'tini', 'nginx'] }), 'another set, another image');
  assert.notEqual(a, imageKey('debian', { ...map, uid: 200000 }, { ...bookworm, packages: ['openssh-server', 'tini'] }), 'another map, another image');
  assert.notEqual(a, imageKey('debian', map, { suite: 'trixie', arch: 'amd64', packages: ['openssh-server', 'tini'] }));
  assert.equal(packageSetHash(['b', 'a']), packageSetHash(['a', 'b']));
});

test('image names say their template; other names are no image', () => {
  assert.equal(templateOfImage(imageKey('debian', map, { ...bookworm, packages: ['x1'] })), 'debian');
  assert.equal(templateOfImage('busybox-100000-100000-65536'), 'busybox');
  for (const name of ['.build-1-ab', '.users', 'debian', '../etc', 'busybox-1-2', 'debian-bookworm-amd64-zz-1-2-3']) assert.equal(templateOfImage(name), null, name);
});

test('package lists are sorted and deduplicated; bad names, too many and non-lists are invalid_packages', () => {
  assert.deepEqual(normalizePackages(undefined), []);
  assert.deepEqual(normalizePackages(['nginx', 'curl', 'nginx', 'libc6', 'g++', 'python3.11']), ['curl', 'g++', 'libc6', 'nginx', 'python3.11']);
  const refused = (input: unknown): void => {
    assert.throws(() => normalizePackages(input), (e: unknown) => e instanceof HearthError && e.code === 'invalid_packages' && e.status === 400, JSON.stringify(input));
  };
  for (const bad of ['--force-yes', '-x', 'Nginx', 'a', 'curl wget', 'x/../y', 'pkg;rm', 'pkg,other', '', 'é1', 'a'.repeat(101)]) refused([bad]);
  refused('nginx');
  refused([42]);
  refused(Array.from({ length: MAX_IMAGE_PACKAGES + 1 }, (_, i) => `pkg${i}`));
  assert.equal(normalizePackages(Array.from({ length: MAX_IMAGE_PACKAGES }, (_, i) => `pkg${i}`)).length, MAX_IMAGE_PACKAGES);
});

test('only debian takes extra packages: a list for busybox is invalid_packages naming the template, an empty one is the base image', () => {
  assert.deepEqual(packagesFor('debian', ['nginx', 'ffmpeg', 'nginx']), ['ffmpeg', 'nginx']);
  assert.deepEqual(packagesFor('debian', undefined), []);
  assert.deepEqual(packagesFor('busybox', []), []);
  assert.throws(() => packagesFor('busybox', ['nginx']), (e: unknown) => e instanceof HearthError && e.code === 'invalid_packages' && /busybox/.test(e.message) && e.extra['field'] === 'packages');
  assert.throws(() => packagesFor('debian', ['-o']), (e: unknown) => e instanceof HearthError && e.code === 'invalid_packages');
});
