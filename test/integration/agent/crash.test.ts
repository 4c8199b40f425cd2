// kill -9 at every point of create, start and delete where the store and
// the machine could disagree, then restart: every sliver ends running as
// desired or fully cleaned up. No orphan container, veth, address or nft
// rule, no lost row. Real agent process, real LXC, real bridge and nftables.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestGateway, type TestGateway } from '../../support/gateway.js';
import { createLxcDriver } from '../../../src/virt/lxc.js';
import { createSliverNetwork } from '../../../src/net/sliver-net.js';
import { hostVethName } from '../../../src/net/sliver-net.js';
import { containerName, type CrashPoint } from '../../../src/agent/reconciler.js';
import type { Sliver } from '../../../src/api/schemas.js';
import { ApiProblem } from '../../../src/cli/client.js';

const run = promisify(execFile);
let gw: TestGateway;

before(async () => {
  gw = await createTestGateway();
});
after(async () => {
  await gw.destroy();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${gw.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function sliver(name: string): Promise<Sliver | undefined> {
  try {
    return await gw.api.request<Sliver>('GET', `/api/v1/slivers/${name}`);
  } catch (err) {
    if (err instanceof ApiProblem && err.problem.code === 'sliver_not_found') return undefined;
    throw err;
  }
}

async function running(name: string): Promise<Sliver> {
  return until(`${name} running`, async () => {
    const s = await sliver(name);
    return s?.observed === 'running' ? s : undefined;
  });
}

async function machine(): Promise<{ containers: string[]; veths: string[]; nft: string }> {
  const driver = createLxcDriver({ lxcPath: `${gw.dataDir}/containers` });
  const net = createSliverNetwork(gw.config.network);
  const { stdout } = await run('nft', ['list', 'table', 'bridge', gw.config.network.table]);
  return {
    containers: (await driver.list()).map((c) => `${c.name}:${c.state}`).sort(),
    veths: (await net.hostVethsOnBridge()).sort(),
    nft: stdout,
  };
}

/** The machine holds exactly these running slivers and nothing else of hearth's. */
async function assertExactly(slivers: Sliver[]): Promise<void> {
  const { items } = await gw.api.request<{ items: Sliver[] }>('GET', '/api/v1/slivers');
  assert.deepEqual(items.map((s) => `${s.name}:${s.observed}`).sort(), slivers.map((s) => `${s.name}:running`).sort(), 'rows');
  const m = await machine();
  assert.deepEqual(m.containers, slivers.map((s) => `${containerName(s.id)}:running`).sort(), 'containers');
  assert.deepEqual(m.veths, slivers.map((s) => hostVethName(s.id)).sort(), 'veths on the bridge');
  const addresses = items.map((s) => s.address);
  assert.equal(new Set(addresses).size, addresses.length, 'addresses are unique');
  for (const s of slivers) assert.ok(m.nft.includes(hostVethName(s.id)), `nft rules for ${s.name}`);
  const known = new Set(slivers.map((s) => hostVethName(s.id)));
  for (const veth of m.nft.match(/\bhv[0-9a-f]+/g) ?? []) assert.ok(known.has(veth), `no nft rule for a gone sliver (${veth})`);
}

const createPoints: CrashPoint[] = ['allocate:after', 'create:before', 'create:after', 'start:after'];
const deletePoints: CrashPoint[] = ['destroy:before', 'destroy:after', 'forget:after'];

describe('kill -9 during create and start', () => {
  for (const point of createPoints) {
    test(`at ${point}: after a restart the sliver runs, once`, async () => {
      await gw.start({ HEARTH_CRASH_POINT: point });
      const name = `c-${point.replace(':', '-')}`;
      await gw.api.request('POST', '/api/v1/slivers', { name, resources: { memoryMb: 32, cpu: 0.1 } }).catch(() => undefined);
      assert.equal(await gw.exited(), 'SIGKILL', `the agent died at ${point}`);
      await gw.start();
      const s = await running(name);
      const result = await gw.api.request<{ exitCode: number; stdout: string }>('POST', `/api/v1/slivers/${name}/exec`, { command: ['echo', 'alive'] });
      assert.equal(result.stdout.trim(), 'alive');
      await assertExactly([s]);
      await gw.api.request('DELETE', `/api/v1/slivers/${name}`);
      await until(`${name} gone`, async () => ((await sliver(name)) === undefined ? true : undefined));
      await assertExactly([]);
      await gw.stop();
    });
  }
});

describe('kill -9 during delete', () => {
  for (const point of deletePoints) {
    test(`at ${point}: after a restart the sliver is fully gone`, async () => {
      await gw.start();
      const name = `d-${point.replace(':', '-')}`;
      await gw.api.request('POST', '/api/v1/slivers', { name, resources: { memoryMb: 32, cpu: 0.1 } });
      const keep = await running(name);
      await gw.api.request('POST', '/api/v1/forwards-probe').catch(() => undefined);
      await gw.api.request('POST', `/api/v1/slivers/${name}/forwards`, { proto: 'tcp', hostPort: 20000 + Math.floor(Math.random() * 10000), port: 80 });
      await gw.stop();
      await gw.start({ HEARTH_CRASH_POINT: point });
      await gw.api.request('DELETE', `/api/v1/slivers/${name}`).catch(() => undefined);
      assert.equal(await gw.exited(), 'SIGKILL', `the agent died at ${point}`);
      await gw.start();
      await until(`${name} gone`, async () => ((await sliver(name)) === undefined ? true : undefined));
      await assertExactly([]);
      // The address came back: the next sliver gets it again.
      await gw.api.request('POST', '/api/v1/slivers', { name: 'again', resources: { memoryMb: 32, cpu: 0.1 } });
      const again = await running('again');
      assert.equal(again.address, keep.address);
      await gw.api.request('DELETE', '/api/v1/slivers/again');
      await until('again gone', async () => ((await sliver('again')) === undefined ? true : undefined));
      await gw.stop();
    });
  }
});

describe('kill -9 at arbitrary moments', () => {
  test('several slivers in flight survive a kill at any time', async () => {
    for (const delayMs of [0, 40, 120, 250]) {
      await gw.start();
      const names = ['r1', 'r2', 'r3'];
      const { items } = await gw.api.request<{ items: Sliver[] }>('GET', '/api/v1/slivers');
      const requests = names.filter((n) => !items.some((s) => s.name === n))
        .map((name) => gw.api.request('POST', '/api/v1/slivers', { name, resources: { memoryMb: 32, cpu: 0.1 } }).catch(() => undefined));
      // Delete one of those already running, if any, in the same window.
      const victim = items.find((s) => s.observed === 'running');
      if (victim !== undefined) requests.push(gw.api.request('DELETE', `/api/v1/slivers/${victim.name}`).catch(() => undefined));
      await new Promise((r) => setTimeout(r, delayMs));
      await gw.kill9();
      await Promise.all(requests);
      await gw.start();
      const { items: after } = await gw.api.request<{ items: Sliver[] }>('GET', '/api/v1/slivers');
      const expected: Sliver[] = [];
      for (const s of after) {
        if (s.desired === 'gone') await until(`${s.name} gone`, async () => ((await sliver(s.name)) === undefined ? true : undefined));
        else expected.push(await running(s.name));
      }
      await assertExactly(expected);
      await gw.stop();
    }
  });
});
