// The bandwidth shaper on the real kernel: a gateway namespace (bwtgw) with
// a bridge, and two "slivers" (namespaces bwts1, bwts2, each a veth on the
// bridge with the MAC and veth name hearth gives the sliver). A capped
// direction stays under its cap while the other runs free; two slivers
// sending at once share the cap by their shares; the counters count what
// went through, across a rebuild; an empty plan leaves nothing. Rates are
// asserted with wide margins (other tests share the machine). Needs root.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTeardown } from '../../support/teardown.js';
import { shaperBed } from '../../support/shaper-bed.js';
import { measure, send, startReceiver } from '../../support/tcp-rate.js';
import { inNs } from './fake-slivers.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root';
const bed = shaperBed('bwt');
const { shaper, devices, shaped, apply, gw: GW, gwAddress: GW_ADDRESS } = bed;
const [one, two] = bed.slivers;
const SECONDS = 2;

before(async () => {
  if (isRoot) await bed.setup();
});

after(async () => {
  if (!isRoot) return;
  const teardown = createTeardown();
  await teardown.attempt(() => apply({ slivers: [] }));
  await teardown.attempt(bed.remove);
  teardown.finish();
});

void test('a capped upload stays under its cap, the uncapped download does not', { skip }, async () => {
  await apply({ upMbit: 20, slivers: shaped() });
  const up = await measure(one.ns, GW, GW_ADDRESS, 5301, SECONDS);
  assert.ok(up.mbit < 20 * 1.3, `upload ${up.mbit.toFixed(1)} Mbit/s under a 20 Mbit/s cap`);
  assert.ok(up.mbit > 20 * 0.3, `upload ${up.mbit.toFixed(1)} Mbit/s still flows`);
  const down = await measure(GW, one.ns, one.address, 5302, SECONDS);
  assert.ok(down.mbit > 20 * 3, `download ${down.mbit.toFixed(1)} Mbit/s is not shaped`);
  const traffic = (await shaper.traffic()).get(one.id);
  assert.ok(traffic?.up !== undefined && traffic.up.bytes >= up.bytes * 0.9, 'the upload is counted');
  assert.equal(traffic.down, undefined, 'an unshaped direction has no counter');
});

void test('two slivers sending at once share the cap by their shares; counters survive a rebuild', { skip }, async () => {
  // One is guaranteed 15 of 20 Mbit/s; the other gets the 5 left.
  await apply({ upMbit: 20, downMbit: 20, slivers: shaped(15) });
  const receivers = await Promise.all([startReceiver(GW, 5303), startReceiver(GW, 5304)]);
  await Promise.all([send(one.ns, GW_ADDRESS, 5303, SECONDS), send(two.ns, GW_ADDRESS, 5304, SECONDS)]);
  const [a, b] = await Promise.all(receivers.map((r) => r.result));
  assert.ok(a !== undefined && b !== undefined);
  const sum = ((a.bytes + b.bytes) * 8) / (Math.max(a.ms, b.ms) * 1000);
  assert.ok(sum < 20 * 1.3, `together ${sum.toFixed(1)} Mbit/s under the 20 Mbit/s cap`);
  assert.ok(a.bytes > b.bytes * 1.5, `the guaranteed sliver sent more: ${a.mbit.toFixed(1)} vs ${b.mbit.toFixed(1)} Mbit/s`);

  const down = await measure(GW, two.ns, two.address, 5305, SECONDS);
  assert.ok(down.mbit < 20 * 1.3, `download ${down.mbit.toFixed(1)} Mbit/s under a 20 Mbit/s cap`);

  const before = await shaper.traffic();
  assert.ok((before.get(two.id)?.down?.bytes ?? 0) >= down.bytes * 0.9, 'the download is counted');
  for (const t of before.values()) assert.ok(t.up !== undefined && t.up.drops >= 0);
  // A count asked while the rebuild runs (the agent's /metrics during a shaping round) waits for it, and keeps them too.
  const rebuilding = apply({ upMbit: 30, downMbit: 20, slivers: shaped(15) });
  const during = await shaper.traffic();
  await rebuilding;
  const rebuilt = await shaper.traffic();
  for (const counted of [during, rebuilt]) {
    assert.ok((counted.get(one.id)?.up?.bytes ?? 0) >= (before.get(one.id)?.up?.bytes ?? Infinity), 'a rebuild keeps the counts');
  }
});

void test('an empty plan leaves no IFB and no qdisc on the veths; the slivers still reach the gateway', { skip }, async () => {
  await apply({ upMbit: 20, downMbit: 20, slivers: shaped() });
  await apply({ slivers: shaped() });
  const links = await shaper.links();
  assert.ok(!links.has(devices.up) && !links.has(devices.down));
  const qdiscs = (await inNs(GW, ['tc', 'qdisc', 'show'])).stdout;
  assert.doesNotMatch(qdiscs, /clsact|htb/);
  const up = await measure(one.ns, GW, GW_ADDRESS, 5306, 1);
  assert.ok(up.mbit > 20 * 3, `upload ${up.mbit.toFixed(1)} Mbit/s is free again`);
});
