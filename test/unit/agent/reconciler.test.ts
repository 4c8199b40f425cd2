// The reconciler's bookkeeping over the in-memory driver and network fakes:
// the life cycle, failure and retry, drift repair and orphan sweeping. The
// same paths against real LXC and a real kill -9 are in
// test/integration/agent/crash.test.ts.

import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../src/store/db.js';
import { createStore, type Store } from '../../../src/store/store.js';
import { createMemoryDriver, type MemoryDriver } from '../../../src/virt/memory.js';
import { containerName, createReconciler, type Reconciler } from '../../../src/agent/reconciler.js';
import { silentLogger } from '../../../src/model/logger.js';
import { HearthError } from '../../../src/model/errors.js';
import { DEFAULT_RESOURCES, type SliverSpec } from '../../../src/model/sliver.js';
import { hostVethName } from '../../../src/net/sliver-net.js';
import { createMemoryNetwork, type MemoryNetwork } from '../../support/memory-net.js';

let dir: string;
let db: Db;
let store: Store;
let driver: MemoryDriver;
let net: MemoryNetwork;
let clock: number;
let reconciler: Reconciler;

const spec = (name: string, slice = name): SliverSpec => ({ name, slice, template: 'busybox', packages: [], resources: { ...DEFAULT_RESOURCES } });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-rec-'));
  db = openDb(join(dir, 'hearth.db'));
  store = createStore({ db, now: () => new Date(0).toISOString() });
  driver = createMemoryDriver();
  net = createMemoryNetwork({ gateway: '10.99.0.1' });
  clock = 0;
  reconciler = createReconciler({ store, driver, net, subnet: '10.99.0.0/24', log: silentLogger, monotonic: () => clock });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('life cycle', () => {
  test('a requested sliver gets an address, a container, and runs', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    const s = store.getSliver('web');
    assert.equal(s?.observed, 'running');
    assert.equal(s?.address, '10.99.0.2');
    assert.equal(await driver.state(containerName('aaaa')), 'running');
    const plan = net.plans.at(-1);
    assert.deepEqual(plan?.ports, [{ sliverId: 'aaaa', slice: 'web', hostVeth: hostVethName('aaaa'), address: '10.99.0.2' }]);
    assert.deepEqual(store.listEvents().map((e) => e.type), ['sliver.requested', 'sliver.created', 'sliver.started']);
  });

  test('stop, start and delete follow the desired state; delete returns the address', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    store.updateSliver('aaaa', { desired: 'stopped' });
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'stopped');
    assert.equal(await driver.state(containerName('aaaa')), 'stopped');
    store.updateSliver('aaaa', { desired: 'running' });
    await reconciler.pass();
    assert.equal(await driver.state(containerName('aaaa')), 'running');
    store.updateSliver('aaaa', { desired: 'gone' });
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa'), undefined);
    assert.equal(await driver.state(containerName('aaaa')), 'absent');
    assert.deepEqual(net.plans.at(-1)?.ports, []);
    store.insertSliver('bbbb', spec('next'), 'running');
    await reconciler.pass();
    assert.equal(store.getSliver('bbbb')?.address, '10.99.0.2', 'the freed address is reused');
  });

  test('a deleted sliver leaves the firewall before its container and its row go', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    store.insertForward({ proto: 'tcp', hostPort: 8080, sliverId: 'aaaa', port: 80 });
    await reconciler.pass();
    const destroy = driver.destroy.bind(driver);
    let seenAtDestroy: { ports: number; forwards: number } | undefined;
    driver.destroy = async (name) => {
      const plan = net.plans.at(-1);
      seenAtDestroy = { ports: plan?.ports.length ?? -1, forwards: plan?.forwards.length ?? -1 };
      await destroy(name);
    };
    store.updateSliver('aaaa', { desired: 'gone' });
    await reconciler.pass();
    assert.deepEqual(seenAtDestroy, { ports: 0, forwards: 0 }, 'the last plan applied before the container went');
    assert.equal(store.getSliver('aaaa'), undefined);
  });

  test("a debian sliver with packages runs in a container of that package set's image", async () => {
    store.insertSliver('aaaa', { ...spec('web'), template: 'debian', packages: ['netcat-openbsd'] }, 'running');
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'running');
    assert.equal((await driver.exec(containerName('aaaa'), ['dpkg-query', '-W', 'netcat-openbsd'])).exitCode, 0);
  });

  test('a sliver created stopped is built but not started', async () => {
    store.insertSliver('aaaa', spec('idle'), 'stopped');
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'stopped');
    assert.equal(await driver.state(containerName('aaaa')), 'stopped');
  });

  test('port forwards reach the firewall plan and leave with their sliver', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    store.insertForward({ proto: 'tcp', hostPort: 8080, sliverId: 'aaaa', port: 80 });
    await reconciler.pass();
    assert.deepEqual(net.plans.at(-1)?.forwards, [{ proto: 'tcp', hostPort: 8080, address: '10.99.0.2', port: 80 }]);
    store.updateSliver('aaaa', { desired: 'gone' });
    await reconciler.pass();
    assert.deepEqual(net.plans.at(-1)?.forwards, []);
    assert.deepEqual(store.listForwards(), []);
  });
});

describe('failures', () => {
  test('a failing step is retried after a back-off, then marked failed with the reason', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    for (let i = 0; i < 3; i++) {
      driver.failNext('create', new Error(`disk full ${i}`));
      await reconciler.pass();
      clock += 120_000;
    }
    const s = store.getSliver('aaaa');
    assert.equal(s?.observed, 'failed');
    assert.equal(s?.reason, 'disk full 2');
    assert.ok(store.listEvents().some((e) => e.type === 'sliver.failed'));
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'failed', 'a failed sliver stays put until asked again');
  });

  test("a sliver whose image build fails stays creating while it is retried, then is failed with the build's reason and has no container", async () => {
    store.insertSliver('aaaa', { ...spec('web'), template: 'debian', packages: ['hearth-no-such-package'] }, 'running');
    const reason = 'debootstrap failed while resolving: Couldn\'t find these debs: hearth-no-such-package';
    for (let i = 0; i < 3; i++) {
      driver.failNext('create', new HearthError('image_build_failed', reason));
      await reconciler.pass();
      if (i < 2) assert.equal(store.getSliver('aaaa')?.observed, 'creating');
      clock += 120_000;
    }
    assert.deepEqual({ observed: store.getSliver('aaaa')?.observed, reason: store.getSliver('aaaa')?.reason }, { observed: 'failed', reason });
    assert.equal(await driver.state(containerName('aaaa')), 'absent');
  });

  test('no retry before the back-off has passed', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    driver.failNext('create', new Error('transient'));
    await reconciler.pass();
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'creating');
    clock += 5_000;
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'running');
  });

  test('a failed sliver can still be deleted', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    store.updateSliver('aaaa', { observed: 'failed', reason: 'broken' });
    store.updateSliver('aaaa', { desired: 'gone' });
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa'), undefined);
  });
});

describe('repair after a crash', () => {
  test('a container left incomplete by a crash mid-create is rebuilt', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    store.updateSliver('aaaa', { address: '10.99.0.2', observed: 'creating' });
    driver.simulateIncomplete({ name: containerName('aaaa'), template: 'busybox', limits: { ...DEFAULT_RESOURCES } });
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa')?.observed, 'running');
    assert.equal(await driver.state(containerName('aaaa')), 'running');
  });

  test('a container with no record is destroyed', async () => {
    await driver.create({ name: containerName('ffff'), template: 'busybox', limits: { ...DEFAULT_RESOURCES } });
    await reconciler.pass();
    assert.deepEqual(await driver.list(), []);
  });

  test('a sliver whose container stopped behind our back is started again', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    await driver.stop(containerName('aaaa'));
    await reconciler.pass();
    assert.equal(await driver.state(containerName('aaaa')), 'running');
    assert.ok(store.listEvents().some((e) => e.type === 'sliver.exited'));
  });

  test('a sliver whose container vanished is recreated', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    await driver.destroy(containerName('aaaa'));
    await reconciler.pass();
    assert.equal(await driver.state(containerName('aaaa')), 'running');
    assert.ok(store.listEvents().some((e) => e.type === 'sliver.lost'));
  });

  test('a veth on the bridge that no running sliver owns is removed', async () => {
    net.links.add('hvdeadbeef0000');
    await reconciler.pass();
    assert.deepEqual([...net.links], []);
  });

  test('a delete interrupted after the container was destroyed is finished', async () => {
    store.insertSliver('aaaa', spec('web'), 'running');
    await reconciler.pass();
    store.updateSliver('aaaa', { desired: 'gone', observed: 'destroying' });
    await driver.destroy(containerName('aaaa'));
    await reconciler.pass();
    assert.equal(store.getSliver('aaaa'), undefined);
  });
});

describe('kick', () => {
  test('kicks during a pass coalesce into one more pass that sees the change', async () => {
    store.insertSliver('aaaa', spec('one'), 'running');
    const first = reconciler.kick();
    store.insertSliver('bbbb', spec('two'), 'running');
    const second = reconciler.kick();
    const third = reconciler.kick();
    await Promise.all([first, second, third]);
    assert.equal(store.getSliver('one')?.observed, 'running');
    assert.equal(store.getSliver('two')?.observed, 'running');
  });

  test('firewall applies run one at a time, each planned at its turn, so the newest plan lands last', async () => {
    // A's create fails at once while its firewall apply is still in flight; the pass goes on to B.
    const apply = net.apply.bind(net);
    let inFlight = 0;
    let most = 0;
    net.apply = async (plan) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await apply(plan);
      inFlight--;
    };
    store.insertSliver('aaaa', spec('a'), 'running');
    store.insertSliver('bbbb', spec('b'), 'running');
    driver.failNext('create', new Error('no space'));
    await reconciler.pass();
    await reconciler.pass();
    assert.equal(most, 1, 'never two applies at once');
    assert.deepEqual(net.plans.at(-1)?.ports.map((p) => p.sliverId).sort(), ['aaaa', 'bbbb'], 'the last plan to land is the newest');
  });
});
