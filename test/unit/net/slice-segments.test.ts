import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floodDiff, segmentLinks, sliceMtus, SLICE_NET_MTU } from '../../../src/net/slice-segments.js';

test('a full slice frame fits the community link in one datagram', () => {
  assert.deepEqual(sliceMtus(1500), { tunnel: 1420, slice: SLICE_NET_MTU }, "WireGuard's usual figures on Ethernet");
  assert.deepEqual(sliceMtus(1450), { tunnel: 1370, slice: 1300 }, 'a VXLAN-carried community link (the testbed)');
  assert.deepEqual(sliceMtus(9000), { tunnel: 1420, slice: 1350 }, 'no bigger than usual on jumbo links');
  assert.deepEqual(sliceMtus(1280), { tunnel: 1280, slice: 1210 }, "the tunnel carries IPv6: never below IPv6's minimum");
});

test('segment links carry the prefix and the network id; a flood list changes by difference', () => {
  assert.deepEqual(segmentLinks('h1a2b', 0xbeef), { vxlan: 'h1a2bx00beef', bridge: 'h1a2bb00beef' });
  assert.deepEqual(floodDiff(['fd00::1', 'fd00::2'], ['fd00::2', 'fd00::3']), { add: ['fd00::3'], remove: ['fd00::1'] });
});
