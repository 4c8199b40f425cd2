import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { canSignal, pidExists } from '../../../src/kit/pid.js';

test('this process exists and may be signalled; a finished child does not exist', () => {
  assert.equal(pidExists(process.pid), true);
  assert.equal(canSignal(process.pid), true);
  const done = spawnSync(process.execPath, ['-e', '']);
  assert.equal(done.status, 0);
  // Reaped by spawnSync; its pid is free until the kernel hands it out again, which it does not at once.
  assert.equal(pidExists(done.pid), false);
  assert.equal(canSignal(done.pid), false);
});

test('a process of another user exists but is not ours to signal', { skip: process.getuid?.() === 0 ? 'root may signal every process' : false }, () => {
  // pid 1 is root's init.
  assert.equal(pidExists(1), true);
  assert.equal(canSignal(1), false);
});
