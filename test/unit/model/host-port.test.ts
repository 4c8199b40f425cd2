import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHost, formatHostPort, parseHostPort } from '../../../src/model/host-port.js';

void describe('host:port', () => {
  void test('IPv4, bracketed IPv6 and names parse and format back', () => {
    for (const [text, host, port] of [
      ['127.0.0.1:7373', '127.0.0.1', 7373],
      ['10.1.2.3:7443', '10.1.2.3', 7443],
      ['[::1]:7946', '::1', 7946],
      ['[fd00::10:1]:1', 'fd00::10:1', 1],
      ['[fd00::1]:7443', 'fd00::1', 7443],
      ['[::ffff:10.1.2.3]:7946', '::ffff:10.1.2.3', 7946],
      ['gw-a.local:65535', 'gw-a.local', 65535],
    ] as const) {
      assert.deepEqual(parseHostPort(text), { host, port }, text);
      assert.equal(formatHostPort({ host, port }), text);
    }
  });

  void test('refuses what is not host:port', () => {
    for (const bad of [
      '', '127.0.0.1', '10.1.2.3:', ':80', ':7443', '[::1]', '::1:7946', 'fd00::1:7443',
      'h:0', 'h:65536', '10.1.2.3:0', '10.1.2.3:65536', '[fd00::zz]:7443', '[10.1.2.3]:7443', 'a b:1', 'a/b:1',
    ]) {
      assert.equal(parseHostPort(bad), undefined, bad);
    }
  });

  void test('an IPv6 host is bracketed, others are not', () => {
    assert.equal(formatHost('fd00::2'), '[fd00::2]');
    assert.equal(formatHost('10.0.0.1'), '10.0.0.1');
    assert.equal(formatHostPort({ host: '::1', port: 80 }), '[::1]:80');
  });
});
