// `hearth slice events NAME` as a user runs it against a gateway's API
// (in-process, listening on loopback): signed with the user's key, every page
// followed, the moves and the slivers' events in a table or as JSON; another
// user's slice is refused with the gateway's problem.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliEntry } from '../../support/gateway.js';
import { apiHarness, TOKEN, type ApiHarness } from '../../support/api-harness.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';

const run = promisify(execFile);
const alice = generateKeyPairSync('ed25519').privateKey;
const bob = generateKeyPairSync('ed25519').privateKey;
/** More than one page of the API (500). */
const STARTS = 520;
let h: ApiHarness;
let dir: string;
let baseUrl: string;

before(async () => {
  h = await apiHarness(undefined, { alone: true });
  baseUrl = await h.api.listen({ host: '127.0.0.1', port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'hearth-slice-events-'));
  const ana = userKeyOf(alice).id;
  h.store.insertSliver('w0', { name: 'web-0', slice: 'web', template: 'busybox', packages: [], resources: { cpu: 0.1, memoryMb: 32, diskMb: 64, pids: 128, upMbit: 0, downMbit: 0 } }, 'running', { user: ana, index: 0 });
  h.store.appendEvent('w0', 'slice.sliver-hosted', { slice: 'web', user: ana, index: 0, entry: 'gw-a' });
  h.store.appendEvent(null, 'slice.sliver-moved', { slice: 'web', user: ana, index: 1, from: 'gw-b', to: 'gw-c', version: 2 });
  for (let i = 0; i < STARTS; i++) h.store.appendEvent('w0', 'sliver.started', { name: 'web-0' });
});

after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function keyFile(key: KeyObject, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  return file;
}

/** The CLI with no owner token in its data dir: it signs with --key. */
async function hearth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { command, args: base } = cliEntry();
  const { HEARTH_TOKEN: _token, ...rest } = process.env;
  try {
    const { stdout, stderr } = await run(command, [...base, '--data-dir', join(dir, 'none'), ...args], { env: { ...rest, HEARTH_API: baseUrl, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("the user's slice: its move and its sliver's events in a table, every page of them", async () => {
  const out = await hearth(['slice', 'events', 'web', '--key', keyFile(alice, 'alice')]);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.trimEnd().split('\n');
  assert.match(lines[0] ?? '', new RegExp(`^slice web of ${userKeyOf(alice).id.replace(/[+/]/g, '\\$&')}: ${STARTS + 3} events logged by this gateway$`));
  assert.match(lines[1] ?? '', /^SEQ\s+AT\s+SLIVER\s+EVENT\s+WHAT$/);
  assert.match(out.stdout, /\n\d+\s+\S+\s+1\s+slice\.sliver-moved\s+sliver 1 moved from gw-b to gw-c \(placement version 2\)\n/);
  assert.match(out.stdout, /\n\d+\s+\S+\s+0\s+slice\.sliver-hosted\s+sliver 0 hosted here, placed by gw-a\n/);
  // A sliver's own event is told by the index its hosting gave it.
  assert.match(out.stdout, /\n\d+\s+\S+\s+0\s+sliver\.started\s*\n/);
  assert.equal(lines.length, 2 + STARTS + 3);
});

test('--json has every event once, in order; --type picks the moves; the owner token reads it too', async () => {
  const out = await hearth(['slice', 'history', 'web', '--key', keyFile(alice, 'alice'), '--json']);
  assert.equal(out.code, 0, out.stderr);
  const all = JSON.parse(out.stdout) as { slice: string; user: string; items: { seq: number; type: string }[] };
  assert.equal(all.items.length, STARTS + 3);
  assert.deepEqual(all.items.map((e) => e.seq), [...all.items.map((e) => e.seq)].sort((a, b) => a - b));
  assert.equal(new Set(all.items.map((e) => e.seq)).size, all.items.length);
  const moves = await hearth(['slice', 'events', 'web', '--type', 'slice.sliver-moved', '--json'], { HEARTH_TOKEN: TOKEN });
  assert.equal(moves.code, 0, moves.stderr);
  assert.deepEqual((JSON.parse(moves.stdout) as typeof all).items.map((e) => e.type), ['slice.sliver-moved']);
});

test("another user's slice is refused as the gateway refuses it", async () => {
  const out = await hearth(['slice', 'events', 'web', '--key', keyFile(bob, 'bob')]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /\[slice_not_found\]/);
});
