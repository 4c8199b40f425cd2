// `hearth user keygen|show` as a user runs them: a key pair in 0600/0644
// files, never overwritten by accident, readable back, and an ssh-keygen
// key shown with the same id ssh-keygen prints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliEntry } from '../../support/gateway.js';

const run = promisify(execFile);

async function hearth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { command, args: base } = cliEntry();
  try {
    const { stdout, stderr } = await run(command, [...base, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('keygen writes a private key only its owner reads, and show reads it back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-user-cli-'));
  try {
    const file = join(dir, 'keys', 'me');
    const made = await hearth(['user', 'keygen', '--out', file, '--comment', 'me@home', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const key = JSON.parse(made.stdout) as { id: string; publicKey: string };
    assert.match(key.id, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(key.publicKey, /^ssh-ed25519 AAAA\S+ me@home$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(`${file}.pub`, 'utf8'), `${key.publicKey}\n`);
    // The environment names the default key file.
    const shown = await hearth(['user', 'show', '--json'], { HEARTH_USER_KEY: file });
    assert.deepEqual(JSON.parse(shown.stdout), { id: key.id, publicKey: key.publicKey, comment: 'me@home', file });
    const again = await hearth(['user', 'keygen', '--out', file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a key.*\[file_exists\]/);
    assert.equal((await hearth(['user', 'keygen', '--out', file, '--force', '--json'])).code, 0);
    const missing = await hearth(['user', 'show', '--key', join(dir, 'none')]);
    assert.match(missing.stderr, /no key at .*hearth user keygen.*\[not_found\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an existing ssh-ed25519 key is shown with the id ssh-keygen prints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-user-cli-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bob@home', '-f', join(dir, 'id')]);
    const printed = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'id.pub')], { encoding: 'utf8' }).split(' ')[1];
    for (const file of [join(dir, 'id'), join(dir, 'id.pub')]) {
      const shown = JSON.parse((await hearth(['user', 'show', '--key', file, '--json'])).stdout) as { id: string; comment: string };
      assert.equal(shown.id, printed);
      assert.equal(shown.comment, 'bob@home');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
