// hearth init: makes the data dir, config, 0600 owner token, identity and
// subordinate ids once; a second run changes nothing the owner has. Each
// gateway gets an nft table of its own, and a network another gateway on the
// host holds is refused before anything is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir, initialNetwork, loadConfig } from '../../../src/agent/config.js';
import { HearthError } from '../../../src/model/errors.js';
import type { NetworkClaims } from '../../../src/net/claims.js';

// What the host's kernel holds, given rather than read, as subidFiles point elsewhere.
const emptyHost = async (): Promise<NetworkClaims> => ({ tables: [], addresses: [] });

test('init makes everything once, with safe modes, and is idempotent', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const subidFiles = { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
  writeFileSync(subidFiles.subgid, 'someone:200000:65536');
  const dataDir = join(root, 'data');
  const first = await initDataDir({ dataDir, name: 'gw-one', contribution: { slivers: 5 }, subidFiles, networkClaims: emptyHost });
  assert.equal(first.config.name, 'gw-one');
  assert.equal(first.config.contribution.slivers, 5);
  assert.match(first.id, /^[0-9a-f]{64}$/);
  assert.equal(statSync(first.paths.ownerToken).mode & 0o777, 0o600);
  assert.equal(statSync(first.paths.containers).mode & 0o777, 0o755);
  assert.equal(statSync(dataDir).mode & 0o777, 0o711);
  assert.equal(readFileSync(subidFiles.subuid, 'utf8'), 'root:100000:65536\n');
  assert.equal(readFileSync(subidFiles.subgid, 'utf8'), 'someone:200000:65536\nroot:100000:65536\n');
  const token = readFileSync(first.paths.ownerToken, 'utf8');

  const second = await initDataDir({ dataDir, name: 'other-name', contribution: { slivers: 9 }, subidFiles, networkClaims: emptyHost });
  assert.deepEqual(second.created, []);
  assert.equal(second.id, first.id, 'the identity is kept');
  assert.equal(readFileSync(first.paths.ownerToken, 'utf8'), token, 'the token is kept');
  assert.equal((await loadConfig(dataDir)).name, 'gw-one', 'the config is kept');
  assert.equal(readFileSync(subidFiles.subuid, 'utf8'), 'root:100000:65536\n', 'no duplicate range');
});

test('a bad gateway name or an over-promise is refused and no config is written', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const subidFiles = { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
  await assert.rejects(initDataDir({ dataDir: join(root, 'a'), name: 'bad/name', subidFiles, networkClaims: emptyHost }), /gateway name/);
  await assert.rejects(initDataDir({ dataDir: join(root, 'b'), contribution: { cpu: 10_000 }, subidFiles, networkClaims: emptyHost }), /cpu must be in/);
  await assert.rejects(loadConfig(join(root, 'a')), /run "hearth init" first/);
  await assert.rejects(loadConfig(join(root, 'b')), /run "hearth init" first/);
});

test('the nft table: hearth for the default bridge, derived from any other bridge, or the owner\'s choice', () => {
  assert.deepEqual(initialNetwork(), { bridge: 'hearth0', subnet: '10.213.0.0/24', table: 'hearth' });
  assert.deepEqual(initialNetwork({ subnet: '10.50.0.0/24' }), { bridge: 'hearth0', subnet: '10.50.0.0/24', table: 'hearth' });
  assert.deepEqual(initialNetwork({ bridge: 'gw-b', subnet: '10.214.0.0/24' }), { bridge: 'gw-b', subnet: '10.214.0.0/24', table: 'hearth_gw_b' });
  assert.deepEqual(initialNetwork({ bridge: 'gw-b', table: 'mine' }), { bridge: 'gw-b', subnet: '10.213.0.0/24', table: 'mine' });
  const invalid = (e: unknown): boolean => e instanceof HearthError && e.code === 'invalid_request';
  assert.throws(() => initialNetwork({ table: 'hearth-b' }), invalid);
  assert.throws(() => initialNetwork({ bridge: 'a bridge' }), invalid);
  assert.throws(() => initialNetwork({ subnet: '10.214.0.1/24' }), invalid);
});

test('init writes the derived table, and the kernel state is read once, as it is', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const subidFiles = { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
  let reads = 0;
  const host = async (): Promise<NetworkClaims> => {
    reads++;
    return { tables: [{ table: 'hearth', bridge: 'hearth0', subnet: '10.213.0.0/24', gatewayId: 'aaaaaaaaaaaaaaaa' }], addresses: [] };
  };
  const { config } = await initDataDir({ dataDir: join(root, 'b'), network: { bridge: 'hearth-b', subnet: '10.214.0.0/24' }, subidFiles, networkClaims: host });
  assert.deepEqual(config.network, { bridge: 'hearth-b', subnet: '10.214.0.0/24', table: 'hearth_hearth_b' });
  assert.deepEqual((await loadConfig(join(root, 'b'))).network, config.network);
  assert.equal(reads, 1);
  // An existing config is kept as it is: the agent's start checks it against the kernel.
  await initDataDir({ dataDir: join(root, 'b'), subidFiles, networkClaims: host });
  assert.equal(reads, 1);
});

test('init refuses a table, bridge or subnet another gateway on this host holds, and writes no config', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const subidFiles = { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
  const firstGateway = async (): Promise<NetworkClaims> => ({
    tables: [{ table: 'hearth', bridge: 'hearth0', subnet: '10.213.0.0/24', gatewayId: 'aaaaaaaaaaaaaaaa' }],
    addresses: [{ link: 'hearth0', address: '10.213.0.1', prefixLength: 24 }],
  });
  const refused = (code: string, field: string) => (e: unknown): boolean =>
    e instanceof HearthError && e.code === code && e.extra['field'] === field && /another hearth gateway/.test(e.message);
  const cases = [
    { dir: 'defaults', network: {}, code: 'name_taken', field: 'table' },
    { dir: 'table', network: { bridge: 'hearth-b', subnet: '10.214.0.0/24', table: 'hearth' }, code: 'name_taken', field: 'table' },
    { dir: 'bridge', network: { subnet: '10.214.0.0/24', table: 'hearth_b' }, code: 'name_taken', field: 'bridge' },
    { dir: 'subnet', network: { bridge: 'hearth-b', subnet: '10.213.0.128/25' }, code: 'subnet_taken', field: 'subnet' },
  ];
  for (const c of cases) {
    await assert.rejects(initDataDir({ dataDir: join(root, c.dir), network: c.network, subidFiles, networkClaims: firstGateway }), refused(c.code, c.field), c.dir);
    await assert.rejects(loadConfig(join(root, c.dir)), /run "hearth init" first/, c.dir);
  }
});
