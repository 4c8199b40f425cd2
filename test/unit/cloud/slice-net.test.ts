// Slice networks without a coordinator: a slice's network id is the same on
// every gateway and never 0; every index of a slice has its own addresses and
// MAC, the same wherever it runs; gateways' tunnel addresses differ; the
// hosts file names every sliver; and a gateway's plan has a segment for
// exactly the slices it hosts, flooding only to their other reachable
// gateways, with a tunnel to each of those and to no one else.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_SLICE_NET_INDEX, gatewayTunnelAddress, planSliceNets, sliceHostsFile, sliceVni, sliverNetAddresses, type SliceNetInput,
} from '../../../src/cloud/slice-net.js';
import { MAX_SLICE_SLIVERS } from '../../../src/model/slice.js';

describe('slice network addresses', () => {
  test('the network id is a function of user, name and incarnation, within 1..2^24-1', () => {
    fc.assert(fc.property(fc.string(), fc.string(), fc.string(), (user, name, inc) => {
      const vni = sliceVni(user, name, inc);
      assert.equal(vni, sliceVni(user, name, inc));
      assert.ok(Number.isInteger(vni) && vni >= 1 && vni < 2 ** 24);
    }));
    assert.notEqual(sliceVni('ann', 'web', 'n1'), sliceVni('ann', 'web', 'n2'), 'a slice made again is another network');
    assert.notEqual(sliceVni('ann', 'web', 'n1'), sliceVni('bob', 'web', 'n1'));
  });

  test('every index of a slice has its own addresses and MAC, inside the slice prefixes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 24 - 1 }), (vni) => {
      const all = Array.from({ length: MAX_SLICE_SLIVERS }, (_, i) => sliverNetAddresses(vni, i));
      for (const key of ['ipv4', 'ipv6', 'mac'] as const) assert.equal(new Set(all.map((a) => a[key])).size, all.length, `distinct ${key}`);
      for (const a of all) {
        assert.match(a.ipv4, /^100\.72\.0\.(\d+)$/);
        assert.match(a.ipv6, /^fd68:6561:7274:5::[0-9a-f]+$/);
        // Locally administered, unicast: the second-lowest bit of the first byte set, the lowest clear.
        assert.equal(Number.parseInt(a.mac.slice(0, 2), 16) & 0b11, 0b10);
      }
    }), { numRuns: 50 });
    assert.deepEqual(sliverNetAddresses(0x123456, 0), { ipv4: '100.72.0.2', ipv6: 'fd68:6561:7274:5::2', mac: '0a:12:34:56:00:00' });
    assert.deepEqual(sliverNetAddresses(1, 14), { ipv4: '100.72.0.16', ipv6: 'fd68:6561:7274:5::10', mac: '0a:00:00:01:00:0e' });
  });

  test('an index or network id out of range is refused, not wrapped', () => {
    assert.throws(() => sliverNetAddresses(1, MAX_SLICE_NET_INDEX + 1), RangeError);
    assert.throws(() => sliverNetAddresses(1, -1), RangeError);
    assert.throws(() => sliverNetAddresses(0, 1), RangeError);
    assert.throws(() => sliverNetAddresses(2 ** 24, 1), RangeError);
  });

  test('gateways get distinct tunnel addresses in their /64', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `SHA256:gateway-${i}`);
    const addrs = ids.map(gatewayTunnelAddress);
    assert.equal(new Set(addrs).size, ids.length);
    for (const a of addrs) assert.match(a, /^fd68:6561:7274:ffff(:[0-9a-f]{1,4}){4}$/);
    assert.equal(gatewayTunnelAddress('SHA256:x'), gatewayTunnelAddress('SHA256:x'));
  });

  test('the hosts file names every sliver by its name and under the slice domain', () => {
    const file = sliceHostsFile('web', 7, 2);
    assert.equal(file, [
      '127.0.0.1\tlocalhost', '::1\tlocalhost',
      '100.72.0.2\tweb-0.web.hearth web-0', 'fd68:6561:7274:5::2\tweb-0.web.hearth web-0',
      '100.72.0.3\tweb-1.web.hearth web-1', 'fd68:6561:7274:5::3\tweb-1.web.hearth web-1', '',
    ].join('\n'));
  });
});

describe('a gateway plan of slice networks', () => {
  const slices: SliceNetInput[] = [
    { vni: 30, placement: { 0: 'a', 1: 'b', 2: 'c' } },
    { vni: 10, placement: { 0: 'a', 1: 'd' } },
    { vni: 20, placement: { 0: 'b', 1: 'c' } },
  ];

  test('a segment per slice it hosts, flooding to the slice\'s other reachable gateways', () => {
    const plan = planSliceNets('a', slices, (m) => m !== 'c');
    assert.deepEqual(plan, {
      segments: [{ vni: 10, remotes: ['d'] }, { vni: 30, remotes: ['b'] }],
      tunnels: ['b', 'd'],
    });
    assert.deepEqual(planSliceNets('e', slices, () => true), { segments: [], tunnels: [] }, 'a gateway of no slice has no segment and no tunnel');
  });

  test('tunnels go exactly to the gateways that share a slice and are reachable', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const arbSlices = fc.array(fc.record({
      vni: fc.integer({ min: 1, max: 2 ** 24 - 1 }),
      placement: fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 4 }).map((gs) => Object.fromEntries(gs.map((g, i) => [String(i), g]))),
    }), { maxLength: 6 });
    fc.assert(fc.property(fc.constantFrom(...names), arbSlices, fc.subarray(names), (self, input, reachableList) => {
      const reachable = new Set(reachableList);
      const plan = planSliceNets(self, input, (m) => reachable.has(m));
      const shared = new Set(input.filter((s) => Object.values(s.placement).includes(self)).flatMap((s) => Object.values(s.placement)));
      const expected = [...shared].filter((g) => g !== self && reachable.has(g)).sort();
      assert.deepEqual(plan.tunnels, expected);
      assert.equal(plan.segments.length, input.filter((s) => Object.values(s.placement).includes(self)).length);
      for (const seg of plan.segments) assert.ok(!seg.remotes.includes(self));
    }));
  });
});
