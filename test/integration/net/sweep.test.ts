// The test suite's sweep on the real kernel: a test gateway's sliver network
// whose data directory is gone (a run killed, its scratch removed by hand)
// is removed by the bridge its tables name; a network without a test bridge
// name is left alone. Needs root.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSliverNetwork, readNetworkClaims } from '../../../src/net/sliver-net.js';
import { runTool } from '../../../src/net/run.js';
import { sweepTestLeftovers, TEST_BRIDGE } from '../../support/sweep.js';

const isRoot = process.getuid?.() === 0;
const hex = randomBytes(3).toString('hex').slice(0, 5);
const third = randomInt(0, 256);
// A test gateway's network, as support/gateway.ts names it, and one that is no test's.
const leftover = { bridge: `hit${hex}`, table: `hit_${hex}`, subnet: `10.252.${third}.0/24`, gatewayId: randomBytes(32).toString('hex') };
const kept = { bridge: `hsw${hex}`, table: `hsw_${hex}`, subnet: `10.253.${third}.0/24`, gatewayId: randomBytes(32).toString('hex') };

after(async () => {
  for (const network of [leftover, kept]) await createSliverNetwork(network).teardown().catch(() => undefined);
});

async function linkExists(name: string): Promise<boolean> {
  return (await runTool('ip', ['link', 'show', 'dev', name])).exitCode === 0;
}

test('the bridge names of test networks are what the sweep takes, and nothing else', () => {
  for (const name of [`hit${hex}`, 'h2aab12c', 'h2dzz999', 'htnq1w2e']) assert.match(name, TEST_BRIDGE);
  for (const name of ['hearth0', `hsw${hex}`, 'hitxyzab', 'hit12345x', 'h2eab12c', 'tabcgw1']) assert.doesNotMatch(name, TEST_BRIDGE);
});

test("a test gateway's network without its directory is swept; another network is not", { skip: !isRoot && 'needs root' }, async () => {
  for (const network of [leftover, kept]) await createSliverNetwork(network).setup();
  const root = mkdtempSync(join(tmpdir(), 'hearth-sweep-'));
  const report = await sweepTestLeftovers(root);
  assert.ok(report.networks >= 1, `the sweep says it removed the network: ${JSON.stringify(report)}`);
  const tables = (await readNetworkClaims()).tables.map((t) => t.table);
  assert.ok(!tables.includes(leftover.table), 'the test network is gone');
  assert.equal(await linkExists(leftover.bridge), false, 'its bridge is gone');
  assert.ok(tables.includes(kept.table), 'the other network is still there');
  assert.equal(await linkExists(kept.bridge), true, 'its bridge is still there');
});
