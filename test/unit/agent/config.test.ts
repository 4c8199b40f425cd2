// hearth init: makes the data dir, config, 0600 owner token, identity and
// subordinate ids once; a second run changes nothing the owner has.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDataDir, loadConfig } from '../../../src/agent/config.js';

test('init makes everything once, with safe modes, and is idempotent', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const subidFiles = { subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
  writeFileSync(subidFiles.subgid, 'someone:200000:65536');
  const dataDir = join(root, 'data');
  const first = await initDataDir({ dataDir, name: 'gw-one', contribution: { slivers: 5 }, subidFiles });
  assert.equal(first.config.name, 'gw-one');
  assert.equal(first.config.contribution.slivers, 5);
  assert.match(first.id, /^[0-9a-f]{64}$/);
  assert.equal(statSync(first.paths.ownerToken).mode & 0o777, 0o600);
  assert.equal(statSync(first.paths.containers).mode & 0o777, 0o755);
  assert.equal(statSync(dataDir).mode & 0o777, 0o711);
  assert.equal(readFileSync(subidFiles.subuid, 'utf8'), 'root:100000:65536\n');
  assert.equal(readFileSync(subidFiles.subgid, 'utf8'), 'someone:200000:65536\nroot:100000:65536\n');
  const token = readFileSync(first.paths.ownerToken, 'utf8');

  const second = await initDataDir({ dataDir, name: 'other-name', contribution: { slivers: 9 }, subidFiles });
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
  await assert.rejects(initDataDir({ dataDir: join(root, 'a'), name: 'bad/name', subidFiles }), /gateway name/);
  await assert.rejects(initDataDir({ dataDir: join(root, 'b'), contribution: { cpu: 10_000 }, subidFiles }), /cpu must be in/);
  await assert.rejects(loadConfig(join(root, 'a')), /run "hearth init" first/);
  await assert.rejects(loadConfig(join(root, 'b')), /run "hearth init" first/);
});
