import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHostPort, formatIp, parseHostPort } from '../../../src/overlay/serf-address.js';

describe('serf addresses', () => {
  test('parses IPv4 and bracketed IPv6 host:port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:7373'), { host: '127.0.0.1', port: 7373 });
    assert.deepEqual(parseHostPort('[::1]:7946'), { host: '::1', port: 7946 });
    assert.deepEqual(parseHostPort('[fd00::10:1]:1'), { host: 'fd00::10:1', port: 1 });
  });

  test('refuses addresses without a port, bare IPv6, or a port out of range', () => {
    for (const bad of ['127.0.0.1', '::1:7946', '[::1]', 'h:0', 'h:65536', '', ':80']) {
      assert.equal(parseHostPort(bad), undefined, bad);
    }
  });

  test('formats host and port the way serf reads them', () => {
    assert.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
    assert.equal(formatHostPort('::1', 80), '[::1]:80');
  });

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
