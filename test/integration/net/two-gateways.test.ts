// Two gateways on one host, in one network namespace, on the real kernel:
// each keeps its own nft tables, and a gateway configured onto another's
// table, bridge or subnet is refused before it changes anything. Needs root.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTeardown } from '../../support/teardown.js';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir, loadConfig } from '../../../src/agent/config.js';
import { HearthError } from '../../../src/model/errors.js';
import { defaultTableName } from '../../../src/net/names.js';
import { runTool } from '../../../src/net/run.js';
import { createSliverNetwork } from '../../../src/net/sliver-net.js';
import type { NetworkPlan, SliverNetworkInit } from '../../../src/net/types.js';
import { removeLinkIfAny } from './fake-slivers.js';

const isRoot = process.getuid?.() === 0;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const suffix = Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
// Two distinct /24s in 10.210-249.x, clear of the ranges other tests draw from at the same time only by chance.
const second = randomInt(210, 249);
const third = randomInt(0, 256);
const gatewayId = (): string => randomBytes(32).toString('hex');

const bridgeA = `h2a${suffix}`;
const bridgeB = `h2b${suffix}`;
const a: SliverNetworkInit = { bridge: bridgeA, subnet: `10.${second}.${third}.0/24`, table: defaultTableName(bridgeA), gatewayId: gatewayId() };
const b: SliverNetworkInit = { bridge: bridgeB, subnet: `10.${second + 1}.${third}.0/24`, table: defaultTableName(bridgeB), gatewayId: gatewayId() };
// Bridges of the refused gateways: they must never be created.
const refusedBridges = [`h2c${suffix}`, `h2d${suffix}`];

function planFor(init: SliverNetworkInit, hostVeth: string, hostPort: number): NetworkPlan {
  const base = init.subnet.split('.').slice(0, 3).join('.');
  return {
    ports: [{ sliverId: `${hostVeth}-id`, slice: 's', hostVeth, address: `${base}.2` }],
    forwards: [{ proto: 'tcp', hostPort, address: `${base}.2`, port: 80 }],
  };
}
// The veths need not exist: the rules name ports by name.
const planA = planFor(a, `hva${suffix}`, 20001);
const planB = planFor(b, `hvb${suffix}`, 20002);

/** Both of a gateway's tables as nft lists them, or '' when absent. */
async function tablesOf(table: string): Promise<string> {
  const bridge = await runTool('nft', ['list', 'table', 'bridge', table]);
  const inet = await runTool('nft', ['list', 'table', 'inet', table]);
  return (bridge.exitCode === 0 ? bridge.stdout : '') + (inet.exitCode === 0 ? inet.stdout : '');
}

async function leftovers(): Promise<string[]> {
  const tables = (await runTool('nft', ['list', 'tables'])).stdout.split('\n').filter((l) => l.includes(suffix));
  const links = (await runTool('ip', ['-br', 'link'])).stdout.split('\n').filter((l) => l.includes(suffix));
  return [...tables, ...links];
}

function refused(code: string, field: string) {
  return (e: unknown): boolean => e instanceof HearthError && e.code === code && e.extra['field'] === field;
}

describe('two gateways on one host', { skip: isRoot ? false : 'needs root' }, () => {
  const netA = createSliverNetwork(a);
  const netB = createSliverNetwork(b);
  const scratch = mkdtempSync(join(tmpdir(), 'hearth-two-gw-'));

  before(async () => {
    assert.notEqual(a.table, b.table);
    await netA.setup();
    await netA.apply(planA);
  });

  after(async () => {
    // Every step runs even if an earlier one failed; the first failure is reported.
    const { attempt, finish } = createTeardown();
    await attempt(() => netB.teardown());
    await attempt(() => netA.teardown());
    // Only links: a refused gateway's table name is another's, torn down above.
    for (const bridge of refusedBridges) await attempt(() => removeLinkIfAny(bridge));
    rmSync(scratch, { recursive: true, force: true });
    await attempt(async () => assert.deepEqual(await leftovers(), [], 'no table or link may be left behind'));
    finish();
  });

  test('each gateway has its own tables, marked with its bridge and subnet', async () => {
    assert.equal(a.table, `hearth_h2a${suffix}`);
    assert.match(await tablesOf(a.table), new RegExp(`comment "hearth gateway=${a.gatewayId?.slice(0, 16)} bridge=${bridgeA} subnet=${a.subnet.replaceAll('.', '\\.')}"`));
  });

  test("the second gateway's setup and ruleset leave the first's tables exactly as they were", async () => {
    const before = await tablesOf(a.table);
    assert.match(before, new RegExp(`hva${suffix}`));
    await netB.setup();
    await netB.apply(planB);
    assert.equal(await tablesOf(a.table), before);
    assert.match(await tablesOf(b.table), new RegExp(`hvb${suffix}`));
    assert.doesNotMatch(await tablesOf(b.table), new RegExp(`hva${suffix}`));
    // And the first applying again leaves the second's alone.
    const beforeB = await tablesOf(b.table);
    await netA.apply(planA);
    assert.equal(await tablesOf(b.table), beforeB);
  });

  test('a gateway restarting finds its own tables and bridge, and goes on', async () => {
    const before = await tablesOf(a.table);
    await createSliverNetwork(a).setup();
    // setup applied the empty plan over the same tables; put the port back and compare.
    await netA.apply(planA);
    assert.equal(await tablesOf(a.table), before);
  });

  test("a gateway configured with the first one's table but another bridge is refused, and changes nothing", async () => {
    const before = await tablesOf(a.table);
    const clashing = createSliverNetwork({ bridge: refusedBridges[0] as string, subnet: `10.${second + 2}.${third}.0/24`, table: a.table, gatewayId: gatewayId() });
    await assert.rejects(clashing.setup(), (e: unknown) => refused('name_taken', 'table')(e) && /another hearth gateway/.test((e as Error).message));
    assert.equal(await tablesOf(a.table), before);
    assert.notEqual((await runTool('ip', ['link', 'show', 'dev', refusedBridges[0] as string])).exitCode, 0, 'its bridge was not created');
  });

  test("a gateway configured exactly like the first (another data dir) is refused on the first's table", async () => {
    await assert.rejects(createSliverNetwork({ ...a, gatewayId: gatewayId() }).setup(), refused('name_taken', 'table'));
  });

  test("another bridge on the first's bridge or subnet is refused", async () => {
    const table = `hearth_x_${suffix}`;
    await assert.rejects(createSliverNetwork({ ...a, table, gatewayId: gatewayId() }).setup(), refused('name_taken', 'bridge'));
    const overlapping = { bridge: refusedBridges[1] as string, subnet: a.subnet.replace(/\.0\/24$/, '.128/25'), table, gatewayId: gatewayId() };
    await assert.rejects(createSliverNetwork(overlapping).setup(), refused('subnet_taken', 'subnet'));
    assert.equal((await runTool('nft', ['list', 'table', 'inet', table])).exitCode === 0, false, 'no table was made');
  });

  test("hearth init refuses the first gateway's table, reading this host's kernel", async () => {
    const subidFiles = { subuid: join(scratch, 'subuid'), subgid: join(scratch, 'subgid') };
    const dataDir = join(scratch, 'data');
    const network = { bridge: refusedBridges[1] as string, subnet: `10.${second + 2}.${third}.0/24`, table: a.table };
    await assert.rejects(initDataDir({ dataDir, name: 'gw-c', network, subidFiles }), refused('name_taken', 'table'));
    await assert.rejects(loadConfig(dataDir), /run "hearth init" first/);
    // With the table derived from its own bridge, the same gateway is fine.
    const { config } = await initDataDir({ dataDir, name: 'gw-c', network: { bridge: network.bridge, subnet: network.subnet }, subidFiles });
    assert.equal(config.network.table, `hearth_h2d${suffix}`);
  });
});
