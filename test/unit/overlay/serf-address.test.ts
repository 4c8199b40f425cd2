import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp } from '../../../src/overlay/serf-address.js';

describe('serf addresses', () => {
  test('formats member IPs from Go net.IP bytes', () => {
    assert.equal(formatIp(new Uint8Array([127, 0, 0, 1])), '127.0.0.1');
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 10, 1, 2, 3], 10);
    assert.equal(formatIp(mapped), '10.1.2.3');
    const loopback = new Uint8Array(16);
    loopback[15] = 1;
    assert.equal(formatIp(loopback), '::1');
    assert.equal(formatIp(new Uint8Array(16)), '::');
    assert.equal(formatIp(Uint8Array.from(Buffer.from('fd000000000000000001000000000002', 'hex'))), 'fd00::1:0:0:2');
    assert.equal(formatIp(Uint8Array.from(Buffer.from('20010db8000100020003000400050006', 'hex'))), '2001:db8:1:2:3:4:5:6');
    assert.equal(formatIp(new Uint8Array(5)), undefined);
  });
});
