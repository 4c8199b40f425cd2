// The slice spec: defaults for what a user leaves out, and every bad field
// refused with a stable code naming it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_LIFETIME_SEC, MAX_SLICE_SLIVERS, parseSliceSpec, sliverNameOf } from '../../../src/model/slice.js';
import { DEFAULT_RESOURCES } from '../../../src/model/sliver.js';

const refusal = (code: string, field: string) => (err: unknown) =>
  err instanceof HearthError && err.code === code && err.extra['field'] === field;

void test('a spec with only a name gets one busybox sliver, default resources, spread over gateways, for a week', () => {
  assert.deepEqual(parseSliceSpec({ name: 'web' }), {
    name: 'web', slivers: 1, template: 'busybox', resources: DEFAULT_RESOURCES, spread: 'gateways',
    near: null, sshKeys: [], lifetimeSec: DEFAULT_LIFETIME_SEC,
  });
  const full = parseSliceSpec({
    name: 'cdn', slivers: 3, template: 'debian', resources: { cpu: 0.25, memoryMb: 64 }, spread: 'zones', near: 'gw2',
    sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm alice@home'], lifetimeSec: 3600,
  });
  assert.equal(full.resources.cpu, 0.25);
  assert.equal(full.resources.diskMb, DEFAULT_RESOURCES.diskMb);
  assert.equal(sliverNameOf(full.name, 2), 'cdn-2');
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
  ];
  for (const [input, code, field] of cases) {
    assert.throws(() => parseSliceSpec(input), (err: unknown) => err instanceof HearthError && err.code === code && err.extra['field'] === field, JSON.stringify(input));
  }
  assert.throws(() => parseSliceSpec({ name: 'web', slivers: -1 }), refusal('invalid_request', 'slivers'));
});
