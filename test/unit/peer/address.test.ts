import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPeerAddress, parsePeerAddress } from '../../../src/peer/address.js';

void describe('peer addresses', () => {
  void test('IPv4, bracketed IPv6 and names parse and format back', () => {
    for (const [text, host, port] of [
      ['10.1.2.3:7443', '10.1.2.3', 7443],
      ['[fd00::1]:7443', 'fd00::1', 7443],
      ['[::1]:1', '::1', 1],
      ['gw-a.local:65535', 'gw-a.local', 65535],
    ] as const) {
      assert.deepEqual(parsePeerAddress(text), { host, port }, text);
      assert.equal(formatPeerAddress({ host, port }), text);
    }
  });

  void test('rejects what is not host:port', () => {
    for (const bad of ['', '10.1.2.3', '10.1.2.3:', ':7443', '10.1.2.3:0', '10.1.2.3:65536', 'fd00::1:7443', '[fd00::zz]:7443', '[10.1.2.3]:7443', 'a b:1', 'a/b:1']) {
      assert.equal(parsePeerAddress(bad), undefined, bad);
    }
  });
});
