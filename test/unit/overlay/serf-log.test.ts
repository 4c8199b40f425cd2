import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberNewsIn, parseSerfLogLine, type MemberNews } from '../../../src/overlay/serf-log.js';

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

test('the member a Serf log line has news of, as Serf 0.8 prints it, with the status a failure or a leave gives it', () => {
  const news = (line: string): MemberNews | undefined => memberNewsIn(parseSerfLogLine(line)?.text ?? '');
  assert.deepEqual(news('    2026/12/03 05:27:26 [INFO] serf: EventMemberJoin: x2 127.0.0.1'), { member: 'x2' });
  assert.deepEqual(news('    2026/12/03 05:27:27 [INFO] serf: EventMemberUpdate: x2'), { member: 'x2' });
  assert.deepEqual(news('    2026/12/03 05:27:35 [INFO] serf: EventMemberFailed: gw-7 10.0.0.7'), { member: 'gw-7', status: 'failed' });
  assert.deepEqual(news('    2026/12/03 05:27:35 [INFO] serf: EventMemberLeave: gw-7 10.0.0.7'), { member: 'gw-7', status: 'left' });
  assert.deepEqual(news('    2026/12/03 05:27:35 [INFO] serf: EventMemberReap: gw-7'), { member: 'gw-7' });
  assert.equal(news('    2026/12/03 05:27:37 [WARN] serf: Shutdown without a Leave'), undefined);
  assert.equal(news('    2026/12/03 05:27:37 [INFO] agent: Received event: member-join'), undefined);
});
