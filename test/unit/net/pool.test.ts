import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { allocateAddress, gatewayAddress, isSliverAddress, parseIPv4, parseSubnet } from '../../../src/net/pool.js';

function invalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof HearthError && err.code === 'invalid_request');
}

describe('parseSubnet', () => {
  test('a /24 gives its network, prefix and broadcast', () => {
    const s = parseSubnet('10.213.0.0/24');
    assert.equal(s.cidr, '10.213.0.0/24');
    assert.equal(s.prefixLength, 24);
    assert.equal(s.broadcast - s.network, 255);
  });

  test('accepts the prefix bounds /16 and /29', () => {
    assert.equal(parseSubnet('10.200.0.0/16').prefixLength, 16);
    assert.equal(parseSubnet('192.168.7.8/29').prefixLength, 29);
  });

  test('rejects what is not an IPv4 CIDR', () => {
    for (const bad of ['', '10.213.0.0', '10.213.0/24', '10.213.0.256/24', '10.213.00.0/24', '10.213.0.0/x', '10.213.0.0/24/1', 'fd00::/64', ' 10.0.0.0/24']) {
      invalid(() => parseSubnet(bad));
    }
  });

  test('rejects prefixes outside /16../29', () => {
    invalid(() => parseSubnet('10.0.0.0/15'));
    invalid(() => parseSubnet('10.0.0.0/30'));
    invalid(() => parseSubnet('10.0.0.0/32'));
  });

  test('rejects host bits and suggests the network', () => {
    assert.throws(() => parseSubnet('10.213.0.5/24'), /did you mean 10\.213\.0\.0\/24/);
  });
});

describe('parseIPv4', () => {
  test('parses dotted quads and nothing else', () => {
    assert.equal(parseIPv4('0.0.0.0'), 0);
    assert.equal(parseIPv4('255.255.255.255'), 2 ** 32 - 1);
    assert.equal(parseIPv4('1.2.3'), undefined);
    assert.equal(parseIPv4('1.2.3.4.5'), undefined);
    assert.equal(parseIPv4('01.2.3.4'), undefined);
  });
});

describe('gatewayAddress', () => {
  test('is the first host address', () => {
    assert.equal(gatewayAddress('10.213.0.0/24'), '10.213.0.1');
    assert.equal(gatewayAddress('172.16.0.0/16'), '172.16.0.1');
    assert.equal(gatewayAddress('192.168.7.8/29'), '192.168.7.9');
  });
});

describe('allocateAddress', () => {
  test('the first sliver gets .2, after the gateway', () => {
    assert.equal(allocateAddress('10.213.0.0/24', new Set()), '10.213.0.2');
  });

  test('gives the lowest free address, reusing holes', () => {
    assert.equal(allocateAddress('10.213.0.0/24', new Set(['10.213.0.2', '10.213.0.4'])), '10.213.0.3');
    assert.equal(allocateAddress('10.213.0.0/24', new Set(['10.213.0.2', '10.213.0.3'])), '10.213.0.4');
  });

  test('crosses octet boundaries in larger subnets', () => {
    const used = new Set<string>();
    for (let i = 2; i <= 255; i++) used.add(`10.200.0.${i}`);
    assert.equal(allocateAddress('10.200.0.0/16', used), '10.200.1.0');
  });

  test('never hands out the network, gateway or broadcast address; exhaustion is undefined', () => {
    const subnet = '192.168.7.8/29';
    const got: string[] = [];
    const used = new Set<string>();
    for (;;) {
      const a = allocateAddress(subnet, used);
      if (a === undefined) break;
      got.push(a);
      used.add(a);
    }
    assert.deepEqual(got, ['192.168.7.10', '192.168.7.11', '192.168.7.12', '192.168.7.13', '192.168.7.14']);
  });

  test('ignores used entries that are not addresses', () => {
    assert.equal(allocateAddress('10.213.0.0/24', new Set(['nonsense', '10.213.0.2'])), '10.213.0.3');
  });

  test('rejects a bad subnet', () => {
    invalid(() => allocateAddress('10.213.0.0/8', new Set()));
  });
});

describe('isSliverAddress', () => {
  test('only host addresses other than the gateway', () => {
    assert.equal(isSliverAddress('10.213.0.0/24', '10.213.0.2'), true);
    assert.equal(isSliverAddress('10.213.0.0/24', '10.213.0.254'), true);
    for (const no of ['10.213.0.0', '10.213.0.1', '10.213.0.255', '10.213.1.2', 'x']) {
      assert.equal(isSliverAddress('10.213.0.0/24', no), false, no);
    }
  });
});
