// Addresses and prefixes compare equal however they were written, and as
// `wg` and `ip` print them back.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, canonicalInterfaceAddress, canonicalPrefix } from '../../../../src/net/wg/cidr.js';

describe('canonicalAddress', () => {
  test('IPv4 stays dotted; IPv6 is lower case with the longest zero run compressed', () => {
    assert.equal(canonicalAddress('10.252.0.1'), '10.252.0.1');
    assert.equal(canonicalAddress('FD52:0:0:0:0:0:0:1'), 'fd52::1');
    assert.equal(canonicalAddress('fd52:0:0:1:0:0:0:1'), 'fd52:0:0:1::1');
    assert.equal(canonicalAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(canonicalAddress('::'), '::');
    assert.equal(canonicalAddress('::1'), '::1');
    assert.equal(canonicalAddress('fe80::'), 'fe80::');
    assert.equal(canonicalAddress('0:0:1:0:0:1:0:0'), '::1:0:0:1:0:0');
  });

  test('an embedded IPv4 tail is read as two groups', () => {
    assert.equal(canonicalAddress('::ffff:10.1.2.3'), '::ffff:a01:203');
    assert.equal(canonicalAddress('::ffff:a01:203'), '::ffff:a01:203');
  });

  test('refuses names, scope ids and malformed text', () => {
    for (const bad of ['', 'gw.example', 'fe80::1%eth0', '10.0.0.256', '10.0.0', '1:2:3:4:5:6:7:8:9', ':::1', '10.0.0.1/32']) {
      assert.equal(canonicalAddress(bad), undefined, bad);
    }
  });
});

describe('canonicalPrefix', () => {
  test('clears host bits, as WireGuard stores allowed IPs', () => {
    assert.equal(canonicalPrefix('10.9.0.5/24'), '10.9.0.0/24');
    assert.equal(canonicalPrefix('10.9.0.5/23'), '10.9.0.0/23');
    assert.equal(canonicalPrefix('10.9.255.5/17'), '10.9.128.0/17');
    assert.equal(canonicalPrefix('FD52:0::1/64'), 'fd52::/64');
    assert.equal(canonicalPrefix('fd52:1234:5678:9abc::1/60'), 'fd52:1234:5678:9ab0::/60');
    assert.equal(canonicalPrefix('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(canonicalPrefix('::/0'), '::/0');
  });

  test('a bare address is a host prefix', () => {
    assert.equal(canonicalPrefix('10.252.0.2'), '10.252.0.2/32');
    assert.equal(canonicalPrefix('fd52::2'), 'fd52::2/128');
  });

  test('refuses a length beyond the address or not a plain number', () => {
    for (const bad of ['10.0.0.0/33', 'fd52::/129', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/24/1', 'x/24']) {
      assert.equal(canonicalPrefix(bad), undefined, bad);
    }
  });
});

describe('canonicalInterfaceAddress', () => {
  test('keeps host bits and needs a length', () => {
    assert.equal(canonicalInterfaceAddress('10.252.0.1/24'), '10.252.0.1/24');
    assert.equal(canonicalInterfaceAddress('FD52::0:1/64'), 'fd52::1/64');
    assert.equal(canonicalInterfaceAddress('10.252.0.1'), undefined);
  });
});
