// The simulator: reproducible from its seed, its memberlist model neither
// reveals a failure before a probe could notice it nor hides it past the
// model's bound, its placements are the real core's, and its yardstick (the
// ideal central scheduler) balances at least as well as the sampled placement.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { placeSlivers, candidatesFrom } from '../../../src/cloud/placement.js';
import { createRng } from '../../../src/kit/rng.js';
import { believedAlive, createGateways, DEFAULT_MIX, viewOf } from '../../../src/sim/community.js';
import { drawDetection, failureCurve, failureLatestMs, failureLearnedAt, failureSpread, LAN_CONFIG, COMMUNITY_LINK, spreadCurve, suspicionTimeoutMs } from '../../../src/sim/memberlist.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig, type SimConfig } from '../../../src/sim/scenario.js';

const small = (over: Partial<SimConfig> = {}): SimConfig => ({ ...scenarioConfig('churn', { gateways: 150, hours: 3, seed: 7 }), ...over });

void describe('a run', () => {
  test('the same seed gives the same figures, another seed other figures', () => {
    const a = runSim(small());
    const b = runSim(small());
    assert.deepEqual(a, b);
    const c = runSim(small({ seed: 8 }));
    assert.notDeepEqual(c, a);
  });

  test("Serf's wan profile sees failures later than lan, as its slower probes and longer suspicion say", () => {
    const lan = runSim(small());
    const wan = runSim(small({ ...scenarioConfig('churn', { gateways: 150, hours: 3, seed: 7, profile: 'wan' }) }));
    assert.equal(lan.profile, 'lan');
    assert.equal(wan.profile, 'wan');
    assert.ok(lan.failures.declared > 0 && wan.failures.declared > 0);
    // lan: 1 s probes, suspicion 4 × log10(150) s; wan: 5 s probes, 6 × log10(150) × 5 s.
    assert.ok(lan.failures.detectionMedianMs > 5_000 && lan.failures.detectionMedianMs < 15_000, String(lan.failures.detectionMedianMs));
    assert.ok(wan.failures.detectionMedianMs > 4 * lan.failures.detectionMedianMs, `${wan.failures.detectionMedianMs} vs ${lan.failures.detectionMedianMs}`);
  });

  test('with no churn and a low utilisation every slice is placed, each with one reserve, one commit, one read-back and three registrations per sliver, and three calls to its homes', () => {
    const r = runSim(scenarioConfig('steady', { gateways: 200, hours: 3, seed: 3, utilisation: 0.3 }));
    assert.ok(r.placement.attempts > 50, `only ${r.placement.attempts} placements`);
    assert.equal(r.placement.placed, r.placement.attempts);
    assert.equal(r.failures.count, 0);
    assert.equal(r.heal.healed, 0);
    // Slices of 1..5 slivers, evenly: 3 on average, so 3 + 6 × 3 = 21 calls when nothing is refused.
    assert.equal(r.placement.refusals, 0);
    assert.ok(r.placement.messagesPerPlacement > 19 && r.placement.messagesPerPlacement < 23, String(r.placement.messagesPerPlacement));
  });

  test('without churn no slice the community placed is ever below its N, even when some slices find no room', () => {
    const r = runSim(scenarioConfig('steady', { gateways: 60, hours: 3, seed: 4, utilisation: 0.95 }));
    assert.ok(r.placement.placed < r.placement.attempts, 'every slice found room: the test proves nothing');
    assert.ok(r.samples.length > 0 && r.samples.every((s) => s.belowN === 0 && s.slices > 0), JSON.stringify(r.samples));
  });

  test('the ideal central scheduler is at least as balanced as sampled placement', () => {
    for (const seed of [1, 2]) {
      const r = runSim(scenarioConfig('steady', { gateways: 200, hours: 3, seed, utilisation: 0.6 }));
      assert.ok(r.imbalance.ideal <= r.imbalance.sampled, JSON.stringify(r.imbalance));
    }
  });

  test('with churn, slivers are healed, never sooner than a failure can be declared', () => {
    const r = runSim(small({ gateways: 300, hours: 4 }));
    assert.ok(r.failures.declared > 0 && r.heal.healed > 0, JSON.stringify({ failures: r.failures, heal: r.heal }));
    const soonest = LAN_CONFIG.probeIntervalMs + suspicionTimeoutMs(LAN_CONFIG, 300);
    assert.ok(r.heal.medianMs >= soonest, `median heal ${r.heal.medianMs} ms before the earliest declaration ${soonest} ms`);
    assert.ok(r.heal.medianMs >= r.failures.detectionMedianMs);
    // A holder acts on what its agent sees, after its Serf learnt it and handed the event on.
    assert.ok(r.failures.seenMedianMs > r.failures.detectionMedianMs, JSON.stringify(r.failures));
  });

  test('a slice the real placement core refuses is refused: more slivers than gateways', () => {
    const r = runSim(small({ gateways: 4, churn: null, sliceSizes: [[5, 1]] }));
    assert.ok(r.placement.attempts > 0);
    assert.equal(r.placement.placed, 0);
    // The same view handed to the core directly: too few gateways, as the simulator found.
    const gateways = createGateways(4, DEFAULT_MIX, createRng(1));
    const view = viewOf({ curve: spreadCurve(LAN_CONFIG, COMMUNITY_LINK, 4), failure: failureSpread(LAN_CONFIG, COMMUNITY_LINK, 4), catchUp: { chance: 0, delayMs: 0 }, seed: 1 }, 0, gateways, 0);
    const spec = small().sliverShapes[0]?.[0];
    assert.ok(spec !== undefined);
    const p = placeSlivers({ spec: { resources: spec, spread: 'gateways', near: null }, indexes: [0, 1, 2, 3, 4], candidates: candidatesFrom(view, { near: null }), holders: [], rng: createRng(1) });
    assert.equal(p.ok, false);
    assert.equal(p.ok ? undefined : p.fault, 'too_few_gateways');
  });
});

void describe('the memberlist model', () => {
  test('a failure is learned by every member after it could be declared and within the bound', () => {
    const n = 2000;
    const failure = failureSpread(LAN_CONFIG, COMMUNITY_LINK, n);
    const rng = createRng(5);
    const gateways = createGateways(n, DEFAULT_MIX, rng);
    const failed = gateways[17];
    assert.ok(failed !== undefined);
    const failedAt = 60_000;
    const detection = drawDetection(LAN_CONFIG, n, rng);
    // No member hears of it before the probe interval (direct and indirect probes) and the suspicion timeout have passed.
    assert.ok(detection.declaredMs >= LAN_CONFIG.probeIntervalMs + suspicionTimeoutMs(LAN_CONFIG, n));
    failed.up = false;
    failed.rumor = { id: 1, kind: 'dead', at: failedAt + detection.declaredMs };
    const beliefs = { curve: spreadCurve(LAN_CONFIG, COMMUNITY_LINK, n), failure, catchUp: { chance: 0, delayMs: 0 }, seed: 9 };
    const gossipEnd = failureCurve(failure, beliefs.seed, 1, true).endMs;
    let byGossip = 0;
    for (const g of gateways) {
      if (g === failed) continue;
      const at = failureLearnedAt(failure, beliefs.seed, 1, g.index, failed.rumor.at);
      assert.ok(at >= failed.rumor.at && at <= failed.rumor.at + failureLatestMs(failure), `member ${g.index} learns at ${at}`);
      assert.equal(believedAlive(beliefs, g.index, failed, at - 1), true);
      assert.equal(believedAlive(beliefs, g.index, failed, at), false);
      if (at <= failed.rumor.at + gossipEnd) byGossip++;
    }
    // Gossip, not push-pull, carries it to nearly everyone.
    assert.ok(byGossip >= 0.99 * (n - 1), `${byGossip} of ${n - 1} by gossip`);
  });

  test('a rumor takes more gossip steps in a larger community', () => {
    const steps = (n: number): number => spreadCurve(LAN_CONFIG, COMMUNITY_LINK, n).cumulative.findIndex((f) => f >= 0.5);
    assert.ok(steps(20_000) > steps(100), `${steps(20_000)} vs ${steps(100)}`);
  });
});
