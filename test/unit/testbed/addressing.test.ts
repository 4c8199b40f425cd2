import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import {
  DEFAULT_COMMUNITY,
  DEFAULT_UNDERLAY,
  emulatorUnderlayAddress,
  gatewayCommunityAddress,
  gatewayMac,
  gatewayUnderlayAddress,
  hostAddress,
} from '../../../src/testbed/addressing.js';

void describe('addressing plan', () => {
  void test('the emulator is .1 of the underlay; gateway i follows it, and is .i of the community', () => {
    assert.equal(emulatorUnderlayAddress(DEFAULT_UNDERLAY), '172.30.0.1');
    assert.equal(gatewayUnderlayAddress(DEFAULT_UNDERLAY, 1), '172.30.0.2');
    assert.equal(gatewayUnderlayAddress(DEFAULT_UNDERLAY, 300), '172.30.1.45');
    assert.equal(gatewayCommunityAddress(DEFAULT_COMMUNITY, 1), '10.99.0.1');
    assert.equal(gatewayCommunityAddress(DEFAULT_COMMUNITY, 256), '10.99.1.0');
  });

  void test('addresses outside the subnet, broadcast addresses and non-network bases are refused', () => {
    const invalid = (e: unknown): boolean => e instanceof HearthError && e.code === 'invalid_request';
    const small = { network: '172.31.5.0', prefixLength: 24 };
    assert.equal(hostAddress(small, 254), '172.31.5.254');
    assert.throws(() => hostAddress(small, 255), invalid);
    assert.throws(() => hostAddress(small, 0), invalid);
    assert.throws(() => hostAddress({ network: '172.31.5.7', prefixLength: 24 }, 1), invalid);
    assert.throws(() => hostAddress({ network: '300.1.1.0', prefixLength: 24 }, 1), invalid);
  });

  void test('gateway MACs are locally administered unicast and carry the gateway number', () => {
    assert.equal(gatewayMac(1), '02:68:62:00:00:01');
    assert.equal(gatewayMac(300), '02:68:62:00:01:2c');
  });
});
