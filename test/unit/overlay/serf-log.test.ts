import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSerfLogLine } from '../../../src/overlay/serf-log.js';

test('serf agent output lines become levelled log lines', () => {
  assert.deepEqual(parseSerfLogLine('    2026/11/26 10:10:29 [WARN] agent.ipc: Client sending commands before auth'), {
    level: 'warn',
    text: 'agent.ipc: Client sending commands before auth',
  });
  assert.deepEqual(parseSerfLogLine('2026/11/26 10:10:29 [ERR] serf: Keyring is empty')?.level, 'error');
  assert.deepEqual(parseSerfLogLine('    2026/11/26 10:10:29 [DEBUG] memberlist: TCP connection')?.level, 'debug');
  assert.deepEqual(parseSerfLogLine('==> Serf agent running!'), { level: 'info', text: 'Serf agent running!' });
  assert.equal(parseSerfLogLine('   '), undefined);
});
