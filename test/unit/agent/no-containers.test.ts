// A gateway without containers (config virt.driver none): chosen by the
// config, refused when the config names a driver this build does not know,
// said loudly in the log and in GET /api/v1/node, and still admitting and
// recording slivers, with nothing made in the kernel for them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createAgent } from '../../../src/agent/agent.js';
import { dataPaths, initDataDir, loadConfig, NO_CONTAINERS_NOTE } from '../../../src/agent/config.js';
import { HearthError } from '../../../src/model/errors.js';
import type { NetworkClaims } from '../../../src/net/claims.js';
import { until } from '../../support/until.js';

const emptyHost = async (): Promise<NetworkClaims> => ({ tables: [], addresses: [] });

function scratch(t: { after(fn: () => void): void }): { root: string; subidFiles: { subuid: string; subgid: string } } {
  const root = mkdtempSync(join(tmpdir(), 'hearth-virt-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return { root, subidFiles: { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') } };
}

test('virt.driver: lxc unless init is told none; an older config without it is lxc; an unknown one is refused', async (t) => {
  const { root, subidFiles } = scratch(t);
  const real = await initDataDir({ dataDir: join(root, 'real'), name: 'real', subidFiles, networkClaims: emptyHost });
  assert.deepEqual(real.config.virt, { driver: 'lxc' });

  // A gateway without containers makes no bridge or table, so the host's are not even read.
  const noKernel = async (): Promise<NetworkClaims> => {
    throw new Error('the network claims were read');
  };
  const none = await initDataDir({ dataDir: join(root, 'none'), name: 'none', virt: { driver: 'none' }, subidFiles, networkClaims: noKernel });
  assert.deepEqual(none.config.virt, { driver: 'none' });
  assert.deepEqual((await loadConfig(join(root, 'none'))).virt, { driver: 'none' });

  const file = dataPaths(join(root, 'real')).config;
  const { virt: _virt, ...older } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify(older));
  assert.deepEqual((await loadConfig(join(root, 'real'))).virt, { driver: 'lxc' });

  writeFileSync(file, JSON.stringify({ ...older, virt: { driver: 'docker' } }));
  await assert.rejects(loadConfig(join(root, 'real')), (e: unknown) => e instanceof HearthError && e.code === 'invalid_request'
    && e.message.includes(file) && e.message.includes('"docker"'));
  await assert.rejects(initDataDir({ dataDir: join(root, 'bad'), virt: { driver: 'kvm' as 'lxc' }, subidFiles, networkClaims: emptyHost }), /virt.driver must be one of lxc, none/);
  assert.equal(existsSync(dataPaths(join(root, 'bad')).config), false, 'nothing written for a bad driver');
});

test('an agent without containers says so, in its log and its node view, and admits slivers that are only records', async (t) => {
  const { root, subidFiles } = scratch(t);
  const dataDir = join(root, 'gw');
  // A bridge name no gateway uses: it must not appear in the kernel.
  const bridge = `scv${process.pid % 100000}`;
  await initDataDir({
    dataDir, name: 'sim-gw', apiPort: 0, virt: { driver: 'none' }, subidFiles, networkClaims: emptyHost,
    network: { bridge, subnet: '10.250.7.0/24' }, sliceNet: { enabled: false },
    contribution: { cpu: 1, memoryMb: 1024, diskMb: 4096, slivers: 2 },
  });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const agent = await createAgent({ dataDir, log, reconcileIntervalMs: 100 });
  await agent.start();
  t.after(() => agent.stop());
  assert.ok(lines.some((l) => l['level'] === 40 && l['msg'] === NO_CONTAINERS_NOTE), 'a warning says no container runs');
  assert.ok(lines.some((l) => l['msg'] === 'agent started' && l['virt'] === 'none'));

  const token = readFileSync(dataPaths(dataDir).ownerToken, 'utf8').trim();
  const auth = { authorization: `Bearer ${token}` };
  const node = (await agent.api.inject({ method: 'GET', url: '/api/v1/node', headers: auth })).json<{ virt: unknown }>();
  assert.deepEqual(node.virt, { driver: 'none', note: NO_CONTAINERS_NOTE });

  // Admission is the real one: two slots contributed, a third sliver is refused.
  for (const name of ['a', 'b']) {
    const res = await agent.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: auth, payload: { name, resources: { memoryMb: 128 } } });
    assert.equal(res.statusCode, 202, res.body);
  }
  const third = await agent.api.inject({ method: 'POST', url: '/api/v1/slivers', headers: auth, payload: { name: 'c', resources: { memoryMb: 128 } } });
  assert.equal(third.statusCode, 409);
  assert.equal(third.json<{ code: string }>().code, 'insufficient_resources');
  const running = await until('both slivers run', async () => {
    const list = (await agent.api.inject({ method: 'GET', url: '/api/v1/slivers', headers: auth })).json<{ items: { observed: string; address: string | null }[] }>();
    return list.items.every((s) => s.observed === 'running') ? list.items : undefined;
  });
  assert.equal(running.length, 2);
  assert.ok(running.every((s) => s.address?.startsWith('10.250.7.')), 'addresses come from the subnet, as on a real gateway');
  assert.equal(existsSync(`/sys/class/net/${bridge}`), false, 'no bridge was made');
});
