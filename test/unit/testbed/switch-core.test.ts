import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { setPairLink, uniformLinkMatrix } from '../../../src/testbed/link-matrix.js';
import type { Link } from '../../../src/testbed/link-matrix.js';
import { createSwitchCore } from '../../../src/testbed/switch-core.js';
import type { SwitchCore } from '../../../src/testbed/switch-core.js';
import type { VxlanFrame } from '../../../src/testbed/vxlan-frame.js';

const BROADCAST = 0xffffffffffff;
const mac = (gateway: number): number => 0x026862000000 + gateway;
const frame = (from: number, to: number, innerBytes = 100): VxlanFrame => ({ vni: 42, srcMac: mac(from), dstMac: to, innerBytes });
const ideal: Link = { delayMs: 0, jitterMs: 0, loss: 0, rateBitsPerSecond: 0 };

function switchOf(gateways: number, link: Link = ideal, seed = 1): SwitchCore {
  const core = createSwitchCore({ links: uniformLinkMatrix(gateways, link), seed });
  for (let g = 1; g <= gateways; g++) core.attach(g);
  return core;
}

const targets = (core: SwitchCore, src: number, f: VxlanFrame, now = 0): number[] =>
  core.ingress(src, f, now).map((d) => d.dst).sort((a, b) => a - b);

void describe('switching', () => {
  void test('a broadcast goes to every other registered gateway', () => {
    assert.deepEqual(targets(switchOf(4), 2, frame(2, BROADCAST)), [1, 3, 4]);
  });

  void test('after a gateway has spoken, unicast to its MAC goes to it alone', () => {
    const core = switchOf(4);
    assert.deepEqual(targets(core, 3, frame(3, mac(1))), [1, 2, 4], 'unknown destination floods');
    assert.deepEqual(targets(core, 1, frame(1, mac(3))), [3]);
    assert.deepEqual(targets(core, 3, frame(3, mac(3))), [], 'nothing echoes back to the sender');
  });

  void test('unregistered gateways receive nothing', () => {
    const core = createSwitchCore({ links: uniformLinkMatrix(3, ideal), seed: 1 });
    core.attach(1);
    core.attach(2);
    assert.deepEqual(targets(core, 1, frame(1, BROADCAST)), [2]);
  });
});

void describe('link shaping', () => {
  void test('a pair delivers after its configured delay; other pairs at once', () => {
    const links = uniformLinkMatrix(3, ideal);
    setPairLink(links, 1, 2, { ...ideal, delayMs: 20 });
    const core = createSwitchCore({ links, seed: 1 });
    for (const g of [1, 2, 3]) core.attach(g);
    const at = Object.fromEntries(core.ingress(1, frame(1, BROADCAST), 1000).map((d) => [d.dst, d.deliverAt]));
    assert.deepEqual(at, { 2: 1020, 3: 1000 });
    assert.equal(core.ingress(2, frame(2, mac(1)), 1000)[0]?.deliverAt, 1020, 'the reverse direction too');
  });

  void test('loss 1 drops every frame and loss 0 none; a lossy path drops about its share', () => {
    const dead = switchOf(2, { ...ideal, loss: 1 });
    for (let i = 0; i < 100; i++) assert.deepEqual(dead.ingress(1, frame(1, BROADCAST), i), []);
    assert.equal(dead.counters().droppedLoss, 100);

    const lossy = switchOf(2, { ...ideal, loss: 0.2 }, 7);
    let delivered = 0;
    for (let i = 0; i < 5000; i++) delivered += lossy.ingress(1, frame(1, BROADCAST), i).length;
    assert.ok(delivered > 3800 && delivered < 4200, `delivered ${delivered} of 5000`);
  });

  void test('jitter varies arrival times yet never reorders a path', () => {
    const core = switchOf(2, { ...ideal, delayMs: 30, jitterMs: 10 }, 3);
    const arrivals = Array.from({ length: 200 }, (_, i) => core.ingress(1, frame(1, BROADCAST), i * 0.5)[0]!.deliverAt);
    for (let i = 1; i < arrivals.length; i++) assert.ok(arrivals[i]! >= arrivals[i - 1]!);
    const lateness = arrivals.map((t, i) => t - i * 0.5);
    assert.ok(Math.min(...lateness) >= 20 && Math.max(...lateness) > 35, 'delay spreads within ±jitter');
  });

  void test('the same seed gives the same losses and arrivals', () => {
    const run = (): number[] => {
      const core = switchOf(3, { ...ideal, delayMs: 5, jitterMs: 2, loss: 0.3 }, 99);
      return Array.from({ length: 50 }, (_, i) => core.ingress(1, frame(1, BROADCAST), i).map((d) => d.deliverAt)).flat();
    };
    assert.deepEqual(run(), run());
  });

  void test('a rate-limited path serialises frames and drops once its queue is full', () => {
    // 1 Mbit/s: a 1250-byte frame takes 10 ms; the queue holds 100 ms.
    const core = switchOf(2, { ...ideal, rateBitsPerSecond: 1_000_000 });
    const arrivals = Array.from({ length: 15 }, () => core.ingress(1, frame(1, BROADCAST, 1250), 0)[0]?.deliverAt);
    assert.deepEqual(arrivals.slice(0, 3), [10, 20, 30]);
    assert.equal(arrivals.filter((a) => a === undefined).length, 4);
    assert.equal(core.counters().droppedRate, 4);
    assert.equal(core.ingress(1, frame(1, BROADCAST, 1250), 1000)[0]?.deliverAt, 1010, 'the queue drains over time');
  });
});

void describe('partitions', () => {
  void test('frames cross only within a group; unnamed gateways share one more group', () => {
    const core = switchOf(5);
    core.partition([[1], [2, 3]]);
    assert.deepEqual(targets(core, 1, frame(1, BROADCAST)), []);
    assert.deepEqual(targets(core, 2, frame(2, BROADCAST)), [3]);
    assert.deepEqual(targets(core, 4, frame(4, BROADCAST)), [5]);
    assert.equal(core.counters().droppedPartition, 4 + 3 + 3);
    core.heal();
    assert.deepEqual(targets(core, 1, frame(1, BROADCAST)), [2, 3, 4, 5]);
  });

  void test('a partition also stops frames already in flight', () => {
    const core = switchOf(3, { ...ideal, delayMs: 50 });
    const inFlight = core.ingress(1, frame(1, BROADCAST), 0);
    core.partition([[1], [2, 3]]);
    assert.deepEqual(inFlight.map((d) => core.admit(d.src, d.dst)), [false, false]);
    core.heal();
    assert.equal(core.admit(1, 2), true);
    assert.deepEqual({ forwarded: core.counters().forwarded, droppedPartition: core.counters().droppedPartition }, { forwarded: 1, droppedPartition: 2 });
  });

  void test('a gateway in two groups or outside the community is refused', () => {
    const core = switchOf(3);
    const invalid = (e: unknown): boolean => e instanceof HearthError && e.code === 'invalid_request';
    assert.throws(() => core.partition([[1, 2], [2, 3]]), invalid);
    assert.throws(() => core.partition([[4]]), invalid);
    assert.deepEqual(targets(core, 1, frame(1, BROADCAST)), [2, 3], 'a refused partition changes nothing');
  });
});
