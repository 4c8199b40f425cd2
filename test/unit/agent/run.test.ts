import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEntry } from '../../support/gateway.js';

test('`hearth agent` with a mistyped HEARTH_SLOW_PEER_MS stops at once, naming it, and starts nothing', async (t) => {
  const { command, args } = cliEntry();
  const parent = mkdtempSync(join(tmpdir(), 'hearth-run-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const dataDir = join(parent, 'gw');
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = execFile(command, [...args, 'agent', '--data-dir', dataDir], {
      env: { ...process.env, HEARTH_SLOW_PEER_MS: '100ms' }, timeout: 30_000,
    }, (_err, _stdout, err) => done({ code: child.exitCode, stderr: err }));
  });
  assert.notEqual(code, 0);
  assert.match(stderr, /HEARTH_SLOW_PEER_MS must be a positive whole number of ms, not "100ms"/);
  assert.equal(existsSync(dataDir), false, 'no data dir was made');
});
