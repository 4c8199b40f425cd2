// The bandwidth shaper's plan: shares of the owner's rate (guarantees first,
// the rest fair), the tc commands, and the reading of class counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_KBIT, parseClassStats, planShaper, shareRates, type ShapedSliver } from '../../../src/net/shaper-plan.js';

const devices = { up: 'h12345u', down: 'h12345d' };
const sliver = (id: string, upMbit = 0, downMbit = 0, veths = [`hv${id}`]): ShapedSliver => ({
  id, upMbit, downMbit, macs: [`06:00:00:00:00:0${id.length}`], veths,
});

test('slivers that ask nothing split the rate evenly', () => {
  assert.deepEqual(shareRates(30, [0, 0, 0]), [10_000, 10_000, 10_000]);
  assert.deepEqual(shareRates(10, [0, 0, 0]), [3333, 3333, 3333], 'rounded down, so the sum stays within the rate');
});

test('a guarantee is given in full and the rest is split among the others', () => {
  assert.deepEqual(shareRates(100, [40, 0, 0]), [40_000, 30_000, 30_000]);
  assert.deepEqual(shareRates(100, [0.5, 0]), [500, 99_500], 'fractions of a Mbit/s');
});

test('guarantees beyond the rate (the owner lowered it) are scaled down alike; the others still trickle', () => {
  assert.deepEqual(shareRates(50, [60, 40, 0]), [30_000, 20_000, MIN_KBIT]);
});

test('every guarantee fits: those asking nothing get no share but the minimum, and borrow', () => {
  assert.deepEqual(shareRates(20, [10, 10, 0]), [10_000, 10_000, MIN_KBIT]);
});

test('no bandwidth given: nothing is shaped, not even a veth', () => {
  const plan = planShaper({ slivers: [sliver('a'), sliver('b')] }, devices);
  assert.deepEqual(plan, { ifbs: [], veths: [], classes: [], batch: [] });
});

test('one direction given: one IFB, one hook a veth', () => {
  const plan = planShaper({ downMbit: 20, slivers: [sliver('b'), sliver('a', 0, 5)] }, devices);
  assert.deepEqual(plan.ifbs, ['h12345d']);
  assert.deepEqual(plan.classes, [
    { sliverId: 'a', direction: 'down', dev: 'h12345d', classid: '1:2', rateKbit: 5000 },
    { sliverId: 'b', direction: 'down', dev: 'h12345d', classid: '1:3', rateKbit: 15_000 },
  ], 'ordered by id, whatever the input order');
  assert.ok(plan.batch.includes('qdisc add dev h12345d root handle 1: htb default ffff'));
  assert.ok(plan.batch.includes('class add dev h12345d parent 1: classid 1:1 htb rate 20000kbit ceil 20000kbit'));
  assert.ok(plan.batch.includes('class add dev h12345d parent 1:1 classid 1:2 htb rate 5000kbit ceil 20000kbit quantum 1514'));
  assert.ok(plan.batch.includes('filter add dev h12345d parent 1: protocol all prio 1 u32 match ether dst 06:00:00:00:00:01 flowid 1:2'));
  assert.ok(plan.batch.includes('filter add dev hva egress protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev h12345d'));
  assert.ok(!plan.batch.some((l) => l.includes(' ingress ')), 'uploads are not redirected');
});

test('both directions: every veth of a sliver (bridge and slice network) is redirected, each MAC classified', () => {
  const s: ShapedSliver = { id: 'a', upMbit: 0, downMbit: 0, macs: ['06:aa:bb:cc:dd:ee', '0a:01:02:03:00:00'], veths: ['hva', 'hsa'] };
  const plan = planShaper({ upMbit: 10, downMbit: 10, slivers: [s] }, devices);
  assert.deepEqual(plan.veths, ['hva', 'hsa']);
  assert.equal(plan.batch.filter((l) => l.startsWith('qdisc add dev hs')).length, 1);
  assert.equal(plan.batch.filter((l) => l.includes('match ether src')).length, 2);
  assert.equal(plan.batch.filter((l) => l.includes('match ether dst')).length, 2);
  assert.ok(plan.batch.includes('filter add dev hsa ingress protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev h12345u'));
});

test('a malformed MAC is never spliced into a command', () => {
  const s: ShapedSliver = { id: 'a', upMbit: 0, downMbit: 0, macs: ['06:aa:bb:cc:dd:ee flowid 1:1'], veths: [] };
  const plan = planShaper({ upMbit: 10, slivers: [s] }, devices);
  assert.ok(!plan.batch.some((l) => l.includes('match ether')));
});

test('class counters are read from tc -s class show', () => {
  const text = [
    'class htb 1:ffff parent 1:1 prio 0 rate 8Kbit ceil 20Mbit burst 1600b cburst 1600b ',
    ' Sent 70 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) ',
    ' backlog 0b 0p requeues 0',
    '',
    'class htb 1:2 parent 1:1 prio 0 rate 10Mbit ceil 20Mbit burst 1600b cburst 1600b ',
    ' Sent 6125362 bytes 4431 pkt (dropped 17, overlimits 309 requeues 0) ',
    ' lended: 6 borrowed: 0 giants: 0',
  ].join('\n');
  assert.deepEqual([...parseClassStats(text)], [['1:ffff', { bytes: 70, drops: 0 }], ['1:2', { bytes: 6_125_362, drops: 17 }]]);
  assert.equal(parseClassStats('garbage\n').size, 0);
});
