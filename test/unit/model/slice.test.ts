// The slice spec: defaults for what a user leaves out, and every bad field
// refused with a stable code naming it; a resize body, refused as a spec
// would be; and which of several resizes holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_LIFETIME_SEC, MAX_SLICE_SLIVERS, currentResize, parseResizeBody, parseSliceSpec, sliverNameOf, type ResizeState } from '../../../src/model/slice.js';
import { DEFAULT_RESOURCES } from '../../../src/model/sliver.js';

const refusal = (code: string, field: string) => (err: unknown) =>
  err instanceof HearthError && err.code === code && err.extra['field'] === field;

void test('a spec may name services every sliver offers; a bad one is refused with invalid_services naming it', () => {
  assert.deepEqual(parseSliceSpec({ name: 'site', services: [{ name: 'web', type: 'http', port: 80 }] }).services.map((s) => [s.name, s.hostPort, s.check.kind]), [['web', null, 'tcp']]);
  assert.throws(() => parseSliceSpec({ name: 'site', services: [{ name: 'web', type: 'gopher', port: 80 }] }), refusal('invalid_services', 'services[0].type'));
  assert.throws(() => parseSliceSpec({ name: 'site', services: 'web' }), refusal('invalid_services', 'services'));
});

void test('a spec with only a name gets one busybox sliver, default resources, spread over gateways, for a week', () => {
  assert.deepEqual(parseSliceSpec({ name: 'web' }), {
    name: 'web', slivers: 1, template: 'busybox', packages: [], resources: DEFAULT_RESOURCES, spread: 'gateways',
    near: null, sshKeys: [], lifetimeSec: DEFAULT_LIFETIME_SEC, services: [], app: null,
  });
  const full = parseSliceSpec({
    name: 'cdn', slivers: 3, template: 'debian', resources: { cpu: 0.25, memoryMb: 64 }, spread: 'zones', near: 'gw2',
    sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm alice@home'], lifetimeSec: 3600,
  });
  assert.equal(full.resources.cpu, 0.25);
  assert.equal(full.resources.diskMb, DEFAULT_RESOURCES.diskMb);
  assert.equal(sliverNameOf(full.name, 2), 'cdn-2');
});

void test("a debian spec's packages come sorted and once each; a spec signed before packages existed has none", () => {
  assert.deepEqual(parseSliceSpec({ name: 'tv', template: 'debian', packages: ['nginx', 'ffmpeg', 'nginx'] }).packages, ['ffmpeg', 'nginx']);
  assert.deepEqual(parseSliceSpec({ name: 'tv', template: 'debian' }).packages, []);
  assert.deepEqual(parseSliceSpec({ name: 'tv', template: 'busybox', packages: [] }).packages, []);
});

void test('every bad field is refused with its code and name', () => {
  const cases: [unknown, string, string][] = [
    [null, 'invalid_request', 'spec'],
    [{ name: 'web', colour: 'red' }, 'invalid_request', 'colour'],
    [{ name: 'a/b' }, 'invalid_name', 'name'],
    [{ name: 'x'.repeat(49) }, 'invalid_name', 'name'],
    [{ name: 'web', slivers: 0 }, 'invalid_request', 'slivers'],
    [{ name: 'web', slivers: MAX_SLICE_SLIVERS + 1 }, 'invalid_request', 'slivers'],
    [{ name: 'web', slivers: 1.5 }, 'invalid_request', 'slivers'],
    [{ name: 'web', template: 'windows' }, 'unknown_template', 'template'],
    [{ name: 'web', resources: { cpu: 1e9 } }, 'invalid_resources', 'cpu'],
    [{ name: 'web', resources: { memoryMb: '128' } }, 'invalid_resources', 'memoryMb'],
    [{ name: 'web', resources: { gpu: 1 } }, 'invalid_request', 'resources'],
    [{ name: 'web', spread: 'racks' }, 'invalid_request', 'spread'],
    [{ name: 'web', near: '../gw1' }, 'invalid_name', 'near'],
    [{ name: 'web', sshKeys: ['ssh-ed25519 AAAA\ncommand="rm -rf /" ssh-rsa AAAA'] }, 'invalid_request', 'sshKeys'],
    [{ name: 'web', sshKeys: 'ssh-ed25519 AAAA' }, 'invalid_request', 'sshKeys'],
    [{ name: 'web', lifetimeSec: 59 }, 'invalid_request', 'lifetimeSec'],
    [{ name: 'web', packages: ['nginx'] }, 'invalid_packages', 'packages'],
    [{ name: 'web', template: 'debian', packages: ['--force-yes'] }, 'invalid_packages', 'packages'],
    [{ name: 'web', template: 'debian', packages: 'nginx' }, 'invalid_packages', 'packages'],
  ];
  for (const [input, code, field] of cases) {
    assert.throws(() => parseSliceSpec(input), (err: unknown) => err instanceof HearthError && err.code === code && err.extra['field'] === field, JSON.stringify(input));
  }
  assert.throws(() => parseSliceSpec({ name: 'web', slivers: -1 }), refusal('invalid_request', 'slivers'));
});

void test('a resize body is a slice name and a number of slivers, both refused as a spec would refuse them', () => {
  assert.deepEqual(parseResizeBody({ slice: 'web', slivers: 5 }), { slice: 'web', slivers: 5 });
  assert.deepEqual(parseResizeBody({ slivers: MAX_SLICE_SLIVERS, slice: 'web' }), { slice: 'web', slivers: MAX_SLICE_SLIVERS });
  const cases: [unknown, string, string][] = [
    [{ slice: 'web', slivers: 0 }, 'invalid_request', 'slivers'],
    [{ slice: 'web', slivers: MAX_SLICE_SLIVERS + 1 }, 'invalid_request', 'slivers'],
    [{ slice: 'web', slivers: 10_000 }, 'invalid_request', 'slivers'],
    [{ slice: 'web', slivers: 2.5 }, 'invalid_request', 'slivers'],
    [{ slice: 'web', slivers: '3' }, 'invalid_request', 'slivers'],
    [{ slice: 'web', slivers: null }, 'invalid_request', 'slivers'],
    [{ slice: 'a/b', slivers: 2 }, 'invalid_name', 'slice'],
    [{ slice: 'x'.repeat(49), slivers: 2 }, 'invalid_name', 'slice'],
    [{ slice: 7, slivers: 2 }, 'invalid_request', 'slice'],
  ];
  for (const [input, code, field] of cases) {
    assert.throws(() => parseResizeBody(input), refusal(code, field), JSON.stringify(input));
  }
  // The same number a spec refuses, with the same words.
  for (const slivers of [0, MAX_SLICE_SLIVERS + 1]) {
    const message = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    assert.equal(message(() => parseResizeBody({ slice: 'web', slivers })), message(() => parseSliceSpec({ name: 'web', slivers })));
  }
});

void test('a resize body of another shape is a malformed document', () => {
  for (const input of [null, 'web', ['web', 2], {}, { slice: 'web' }, { slivers: 2 }, { name: 'web', slivers: 2 }, { slice: 'web', slivers: 2, spread: 'zones' }]) {
    assert.throws(() => parseResizeBody(input), (err: unknown) => err instanceof HearthError && err.code === 'malformed_document', JSON.stringify(input));
  }
});

void test('the resize that holds: signed no earlier than the create, the newest, and of one second the greater nonce', () => {
  const r = (at: number, nonce: string, slivers = 2): ResizeState => ({ at, nonce, slivers });
  const created = 1000;
  assert.equal(currentResize(created, []), undefined);
  assert.equal(currentResize(created, [undefined]), undefined);
  assert.equal(currentResize(created, [r(999, 'a')]), undefined, 'signed before the create: an old one, for an earlier slice of that name');
  const same = r(1000, 'a');
  assert.equal(currentResize(created, [same]), same, 'signed in the same second as the create');
  const older = r(1001, 'z', 5);
  const newer = r(1002, 'a', 1);
  assert.equal(currentResize(created, [older, newer]), newer);
  assert.equal(currentResize(created, [newer, older]), newer);
  const tie = r(1002, 'b', 7);
  assert.equal(currentResize(created, [newer, tie]), tie);
  assert.equal(currentResize(created, [tie, newer]), tie, 'the order they came in does not matter');
  const again = r(1002, 'b', 7);
  assert.equal(currentResize(created, [tie, again]), tie, 'of the same resize twice, the first (the one held)');
});

void test('a spec with an app takes the recipe\'s image, size and resources, and refuses what the recipe decides', () => {
  const recipe = {
    name: 'demo', description: 'two roles', packages: ['nginx'],
    roles: [
      { name: 'web', slivers: 2, scalable: true, resources: { memoryMb: 256 }, services: [{ name: 'www', type: 'http', port: 80 }] },
      { name: 'client', slivers: 1, resources: { cpu: 1 } },
    ],
  };
  const spec = parseSliceSpec({ name: 'site', slivers: 3, app: recipe });
  assert.equal(spec.template, 'debian');
  assert.deepEqual(spec.packages, ['nginx']);
  assert.deepEqual([spec.resources.cpu, spec.resources.memoryMb], [1, 256]);
  assert.equal(spec.app?.name, 'demo');
  assert.deepEqual(spec.services, [], 'the roles hold the services');
  assert.equal(parseSliceSpec({ name: 'site', slivers: 5, app: recipe }).slivers, 5, 'the scalable role takes the extra slivers');
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 2, app: recipe }), refusal('invalid_request', 'slivers'));
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 3, template: 'busybox', app: recipe }), refusal('invalid_request', 'template'));
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 3, packages: ['curl'], app: recipe }), refusal('invalid_request', 'packages'));
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 3, services: [], app: recipe }), refusal('invalid_request', 'services'));
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 3, app: { ...recipe, roles: 'none' } }), refusal('invalid_recipe', 'roles'));
  const fixed = { ...recipe, roles: recipe.roles.map((r) => ({ ...r, scalable: false })) };
  assert.throws(() => parseSliceSpec({ name: 'site', slivers: 4, app: fixed }), refusal('invalid_recipe', 'roles'));
});
