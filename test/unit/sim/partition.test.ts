// The partition scenario, as a transcript: the community splits in two; each
// side declares the other dead and heals the slivers it lost there, so a
// slice with slivers on both sides runs on both; once the network heals, the
// two placements meet, the real `placementWins` picks one, the real
// `extrasOf` names the slivers to remove, and every slice is back to exactly
// N. The same src/cloud cores as the agents' (the testbed's story is
// test/integration/testbed/slices.test.ts, 'a partition with the slice on
// both sides').
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../../src/kit/rng.js';
import { believedAlive, connected, createGateways, DEFAULT_MIX, partitionLearnTimes, type Beliefs, type PartitionBeliefs } from '../../../src/sim/community.js';
import { COMMUNITY_LINK, failureLatestMs, failureSpread, gossipEndMs, LAN_CONFIG, latestLearnMs, spreadCurve, TICK_RACE_APART } from '../../../src/sim/memberlist.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig } from '../../../src/sim/scenario.js';

const MINUTE = 60_000;

void describe('a partition', () => {
  const config = scenarioConfig('partition', { gateways: 200, hours: 1, seed: 3, utilisation: 0.3 });
  const r = runSim(config);
  const p = r.partition;
  const plan = config.partition;

  test('splits the community in two sides of about the planned share, with slices on both', () => {
    assert.ok(p !== null && plan !== null);
    assert.equal(p.sides[0] + p.sides[1], 200);
    assert.ok(p.sides[1] > 70 && p.sides[1] < 130, String(p.sides));
    assert.ok(p.splitSlices > 20, `only ${p.splitSlices} slices on both sides`);
  });

  test('while split, each side heals what it lost, so slices run above N in all and none stays below N on a side', () => {
    assert.ok(p !== null && plan !== null);
    assert.ok(p.healedOnSide[0] > 0 && p.healedOnSide[1] > 0, String(p.healedOnSide));
    const during = r.samples.filter((s) => s.hour * 3_600_000 > plan.atMs + 2 * MINUTE && s.hour * 3_600_000 < plan.atMs + plan.forMs);
    assert.ok(during.length > 0);
    assert.ok(during.every((s) => s.belowN === 0), JSON.stringify(during.map((s) => s.belowN)));
    assert.ok(during.every((s) => s.aboveN > 0));
    // Before the split nothing was above or below N: there is no churn in this scenario.
    assert.ok(r.samples.filter((s) => s.hour * 3_600_000 < plan.atMs).every((s) => s.belowN === 0 && s.aboveN === 0));
  });

  test('once healed, the placements converge and every slice is back to exactly N within seconds', () => {
    assert.ok(p !== null && plan !== null);
    assert.ok(p.merged > 0 && p.extrasRemoved >= p.merged, JSON.stringify(p));
    assert.equal(p.notExactAtEnd, 0);
    assert.equal(p.disagreeingAtEnd, 0);
    const after = r.samples.filter((s) => s.hour * 3_600_000 >= plan.atMs + plan.forMs + MINUTE);
    assert.ok(after.length > 0 && after.every((s) => s.aboveN === 0 && s.belowN === 0));
    // The first reconnect, a member hearing it is believed dead, its refutation reaching a holder, a pull: within the spread's bound twice over.
    const bound = 2 * latestLearnMs(spreadCurve(LAN_CONFIG, COMMUNITY_LINK, 200)) + config.memberlist.reconnectIntervalMs;
    assert.ok(p.exactMedianMs > 0 && p.exactMaxMs <= bound, `${p.exactMedianMs} ms, max ${p.exactMaxMs} ms`);
  });

  test('the same seed tells the same story', () => {
    assert.deepEqual(runSim(config), r);
  });

  test('at a utilisation one side cannot hold, slices stay below N on a side until the network heals, and still end at exactly N', () => {
    const full = runSim(scenarioConfig('partition', { gateways: 200, hours: 1, seed: 3, utilisation: 0.8 }));
    const q = full.partition;
    assert.ok(q !== null && plan !== null);
    const late = full.samples.filter((s) => s.hour * 3_600_000 > plan.atMs + plan.forMs - MINUTE && s.hour * 3_600_000 < plan.atMs + plan.forMs);
    assert.ok(late.some((s) => s.belowN > 0), 'every slice healed on both sides: the test proves nothing');
    assert.ok(full.heal.failedAttempts > 0);
    assert.equal(q.notExactAtEnd, 0);
    assert.equal(q.disagreeingAtEnd, 0);
  });
});

void describe('the view across a partition', () => {
  test('a member of the other side is alive until declared, dead while split, alive again once its refutation arrives; the own side never dead', () => {
    const n = 4;
    const gateways = createGateways(n, DEFAULT_MIX, createRng(1));
    const curve = spreadCurve(LAN_CONFIG, COMMUNITY_LINK, n);
    const within = failureSpread(LAN_CONFIG, COMMUNITY_LINK, n, TICK_RACE_APART, 2);
    const b: Beliefs = {
      curve, failure: failureSpread(LAN_CONFIG, COMMUNITY_LINK, n), catchUp: { chance: 0, delayMs: 0 }, seed: 5,
      partition: {
        side: Uint8Array.from([0, 0, 1, 1]), fromMs: 10_000, untilMs: 100_000,
        declaredAt: Float64Array.from([30_000, 30_000, 30_000, 30_000]), aliveAt: Float64Array.from([101_000, 101_000, 101_000, 101_000]), within: [within, within],
        caughtUpAt: new Float64Array(4).fill(Number.POSITIVE_INFINITY),
      },
    };
    const [g0, g1, g2] = gateways as [typeof gateways[0], typeof gateways[0], typeof gateways[0]];
    assert.equal(believedAlive(b, 0, g2, 29_999), true);
    assert.equal(believedAlive(b, 0, g2, 30_000 + failureLatestMs(within)), false);
    assert.equal(believedAlive(b, 0, g2, 101_000 + latestLearnMs(curve)), true);
    for (const t of [0, 50_000, 200_000]) assert.equal(believedAlive(b, 0, g1, t), true);
    assert.equal(believedAlive(b, 2, g0, 60_000), false);
    assert.equal(connected(b, 0, 2, 50_000), false);
    assert.equal(connected(b, 0, 1, 50_000), true);
    assert.equal(connected(b, 0, 2, 100_000), true);
  });

  test('a member the gossip missed a refutation of learns it at its push-pull after the burst, once the member it pulls from has it', () => {
    const n = 4;
    const gateways = createGateways(n, DEFAULT_MIX, createRng(1));
    // A gossip that reaches nobody: every member learns each refutation at memberlist's own push-pull.
    const curve = { ...spreadCurve(LAN_CONFIG, COMMUNITY_LINK, n), reached: 0 };
    const within = failureSpread(LAN_CONFIG, COMMUNITY_LINK, n, TICK_RACE_APART, 2);
    const due = 101_000 + gossipEndMs(curve);
    const p: PartitionBeliefs = {
      side: Uint8Array.from([0, 0, 1, 1]), fromMs: 10_000, untilMs: 100_000,
      declaredAt: Float64Array.from([30_000, 30_000, 30_000, 30_000]), aliveAt: Float64Array.from([101_000, 101_000, 101_000, 101_000]), within: [within, within],
      // Member 0 pulls once the gossip has done all it does; member 1 a moment before, from a member that has it not yet.
      caughtUpAt: Float64Array.from([due, due - 1, due, due]),
    };
    const b: Beliefs = { curve, failure: failureSpread(LAN_CONFIG, COMMUNITY_LINK, n), catchUp: { chance: 0, delayMs: 0 }, seed: 5, partition: p };
    const g2 = gateways[2] as typeof gateways[0];
    assert.equal(partitionLearnTimes(b, p, 0, 2).alive, due);
    assert.equal(believedAlive(b, 0, g2, due - 1), false);
    assert.equal(believedAlive(b, 0, g2, due), true);
    const byGossip = partitionLearnTimes(b, p, 1, 2).alive;
    assert.ok(byGossip > due && byGossip <= due + curve.pushPullMs, String(byGossip));
    assert.equal(believedAlive(b, 1, g2, due), false);
  });
});
