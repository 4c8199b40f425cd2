import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { defaultTableName, hostVethName, isLinkName, sliverMac, validateLinkName, validateTableName } from '../../../src/net/names.js';

describe('hostVethName', () => {
  test('is a valid link name of at most 15 characters, stable for an id', () => {
    for (const id of ['a', '01J9ZKX4N5Q8W2E3R4T5Y6U7I8', 'x'.repeat(200), 'ünïcode/with spaces']) {
      const name = hostVethName(id);
      assert.ok(isLinkName(name), name);
      assert.ok(name.length <= 15);
      assert.equal(hostVethName(id), name);
    }
  });

  test('ids sharing a long prefix get different names', () => {
    assert.notEqual(hostVethName('01J9ZKX4N5Q8W2E3R4T5Y6U7I8'), hostVethName('01J9ZKX4N5Q8W2E3R4T5Y6U7I9'));
  });
});

describe('name validation', () => {
  test('link names: 1-15 safe characters', () => {
    validateLinkName('bridge', 'hearth0');
    validateLinkName('bridge', 'a'.repeat(15));
    for (const bad of ['', 'a'.repeat(16), 'br "x"', 'br;x', '-br', 'br/0']) {
      assert.throws(() => validateLinkName('bridge', bad), (e: unknown) => e instanceof HearthError && e.code === 'invalid_request', bad);
    }
  });

  test('table names: identifiers only', () => {
    validateTableName('hearth');
    validateTableName('hearth_test_1');
    for (const bad of ['', '1hearth', 'hearth-x', 'a b', 'x'.repeat(33)]) {
      assert.throws(() => validateTableName(bad), HearthError, bad);
    }
  });
});

describe('defaultTableName', () => {
  test('the default bridge keeps the historic table; any other bridge gets its own', () => {
    assert.equal(defaultTableName('hearth0'), 'hearth');
    assert.equal(defaultTableName('hearth1'), 'hearth_hearth1');
    assert.equal(defaultTableName('gw-b.lan'), 'hearth_gw_b_lan');
    assert.equal(defaultTableName('0br'), 'hearth_0br');
  });

  test('every valid bridge name gives a valid table name', () => {
    for (const bridge of ['a', 'a'.repeat(15), '9-.-_-.-_-.-_-.', 'Br_0']) {
      const table = defaultTableName(bridge);
      validateTableName(table);
      assert.notEqual(table, 'hearth', bridge);
    }
  });

  test('an invalid bridge is refused rather than mapped', () => {
    for (const bad of ['', 'a'.repeat(16), 'br "x"']) {
      assert.throws(() => defaultTableName(bad), (e: unknown) => e instanceof HearthError && e.code === 'invalid_request', bad);
    }
  });

  test('a sliver\'s eth0 MAC is fixed by its id: unicast, locally administered, apart from slice networks\' 0a…', () => {
    const mac = sliverMac('0123456789ab');
    assert.match(mac, /^06(:[0-9a-f]{2}){5}$/);
    assert.equal(sliverMac('0123456789ab'), mac);
    assert.notEqual(sliverMac('0123456789ac'), mac);
  });
});
