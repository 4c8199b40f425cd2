// The memory driver against the Driver contract, plus its fault hooks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { createMemoryDriver } from '../../../src/virt/memory.js';
import { CONTRACT_LIMITS, driverContract } from '../../contract/driver.contract.js';

driverContract('memory', async () => {
  const driver = createMemoryDriver();
  return {
    driver,
    makeIncomplete: async (spec) => driver.simulateIncomplete(spec),
    extraPackage: 'netcat-openbsd',
    cleanup: async () => undefined,
  };
});

void test('failNext makes exactly the next call of that operation fail', async () => {
  const d = createMemoryDriver();
  const spec = { name: 'm1', template: 'busybox' as const, limits: { ...CONTRACT_LIMITS } };
  await d.create(spec);
  const boom = new HearthError('driver_error', 'lxc-start failed: boom');
  d.failNext('start', boom);
  await assert.rejects(d.start('m1'), (e) => e === boom);
  await d.start('m1');
  assert.equal(await d.state('m1'), 'running');
});

void test('a template the fake is told it lacks is refused with unknown_template', async () => {
  const d = createMemoryDriver({ templates: ['busybox'] });
  await assert.rejects(
    d.create({ name: 'm2', template: 'debian', limits: { ...CONTRACT_LIMITS } }),
    (e) => e instanceof HearthError && e.code === 'unknown_template',
  );
  assert.equal(await d.state('m2'), 'absent');
});
