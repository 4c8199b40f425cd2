import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayRef, parsePartition } from '../../../src/testbed/gateway-ref.js';
import { mapBounded } from '../../../src/testbed/map-bounded.js';

void test('a gateway is named gwN, N, or by its namespace name', () => {
  assert.equal(parseGatewayRef('gw3', 5, ''), 3);
  assert.equal(parseGatewayRef('4', 5, ''), 4);
  assert.equal(parseGatewayRef('tab-gw2', 5, 'tab-'), 2);
  assert.equal(parseGatewayRef('gw2', 5, 'tab-'), 2);
});

void test('a gateway outside the testbed is refused with the names that exist', () => {
  for (const ref of ['gw0', 'gw6', 'gw', 'router1', '1.5', 'othergw2']) {
    assert.throws(() => parseGatewayRef(ref, 5, 'tab'), (e: Error & { code?: string }) => e.code === 'invalid_request' && /gw1\.\.gw5/.test(e.message), ref);
  }
});

void test('a partition is groups of gateways separated by /', () => {
  assert.deepEqual(parsePartition('gw1,gw2/gw3,4', 4, ''), [[1, 2], [3, 4]]);
  assert.deepEqual(parsePartition('gw1', 3, ''), [[1]], 'one group cuts it off from the rest');
});

void test('a partition that names a gateway twice, has an empty group or cuts nothing is refused', () => {
  for (const spec of ['gw1/gw1', 'gw1//gw2', '/gw2', 'gw1,gw2,gw3', '']) {
    assert.throws(() => parsePartition(spec, 3, ''), (e: Error & { code?: string }) => e.code === 'invalid_request', spec);
  }
});

void test('mapBounded keeps order, never runs more than the limit at once, and reports a failure', async () => {
  let running = 0;
  let most = 0;
  const out = await mapBounded([5, 1, 4, 2, 3], 2, async (n) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, n));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(most, 2);
  await assert.rejects(mapBounded([1, 2, 3], 2, async (n) => {
    if (n === 2) throw new Error('two failed');
    return n;
  }), /two failed/);
});
