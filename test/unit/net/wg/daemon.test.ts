import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDaemonFor } from '../../../../src/net/wg/daemon.js';

test('wireguard-go is recognised by its command line, with or without -f', () => {
  assert.equal(isDaemonFor(['wireguard-go', 'wg0'], 'wg0'), true);
  assert.equal(isDaemonFor(['/usr/bin/wireguard-go', '-f', 'wg0'], 'wg0'), true);
  assert.equal(isDaemonFor(['wireguard-go', '--foreground', 'wg0'], 'wg0'), true);
});

test('another interface, another program or a zombie is not the daemon', () => {
  assert.equal(isDaemonFor(['wireguard-go', 'wg01'], 'wg0'), false);
  assert.equal(isDaemonFor(['wireguard-go', 'wg0', 'extra'], 'wg0'), false);
  assert.equal(isDaemonFor(['wg', 'show', 'wg0'], 'wg0'), false);
  assert.equal(isDaemonFor(['/opt/not-wireguard-go', 'wg0'], 'wg0'), false);
  assert.equal(isDaemonFor([], 'wg0'), false);
});
