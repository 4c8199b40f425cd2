// mtuOfAddress reads the namespace's links with the real `ip`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ETHERNET_MTU, mtuOfAddress } from '../../../src/net/mtu.js';

test('the MTU of the link holding an address; Ethernet\'s for a wildcard or an address on no link', async () => {
  assert.equal(await mtuOfAddress('127.0.0.1'), 65536, 'loopback');
  assert.equal(await mtuOfAddress('0.0.0.0'), ETHERNET_MTU);
  assert.equal(await mtuOfAddress('192.0.2.77'), ETHERNET_MTU);
  assert.equal(await mtuOfAddress('not an address'), ETHERNET_MTU);
});
