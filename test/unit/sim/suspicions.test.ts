// False suspicions: a live member whose probe's every packet is lost is
// suspected, refutes when it hears it (by gossip, or piggybacked on the next
// probe of it: Lifeguard's buddy system), and is declared dead only if a
// member's unconfirmed suspicion times out before the refutation reaches it;
// then the holders of its slices heal them elsewhere, though it never failed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMUNITY_LINK, falseSuspicionChance, LAN_CONFIG } from '../../../src/sim/memberlist.js';
import { runSim } from '../../../src/sim/run.js';
import { scenarioConfig, type SimConfig } from '../../../src/sim/scenario.js';

const lossy = (loss: number, over: Partial<SimConfig> = {}): SimConfig => {
  const base = scenarioConfig('steady', { gateways: 200, hours: 2, seed: 2, utilisation: 0.4 });
  return { ...base, link: { ...base.link, loss }, ...over };
};

void describe('false suspicions', () => {
  test('a probe is falsely failed only if the direct, indirect and TCP probes all lose a packet', () => {
    assert.equal(falseSuspicionChance(LAN_CONFIG, { ...COMMUNITY_LINK, loss: 0 }), 0);
    const at = (loss: number): number => falseSuspicionChance(LAN_CONFIG, { ...COMMUNITY_LINK, loss });
    assert.ok(at(0.01) < 1e-7 && at(0.01) > 0, String(at(0.01)));
    assert.ok(at(0.1) > 100 * at(0.01));
    // Fewer indirect checks, more false suspicions.
    assert.ok(falseSuspicionChance({ ...LAN_CONFIG, indirectChecks: 1 }, { ...COMMUNITY_LINK, loss: 0.1 }) > at(0.1));
  });

  test('with no loss nobody is suspected falsely', () => {
    const r = runSim(lossy(0));
    assert.equal(r.suspicions.falseSuspicions, 0);
  });

  test('under 10% loss live members are suspected at the rate probes fail, all refute in time, and nothing is healed', () => {
    const config = lossy(0.1);
    const r = runSim(config);
    const probes = (config.gateways * (config.hours * 3_600_000 - config.warmupMs)) / config.memberlist.probeIntervalMs;
    const expected = probes * falseSuspicionChance(config.memberlist, config.link);
    assert.ok(Math.abs(r.suspicions.falseSuspicions - expected) < 0.1 * expected, `${r.suspicions.falseSuspicions} vs ${expected}`);
    assert.equal(r.suspicions.falseDeaths, 0);
    assert.equal(r.heal.slivers, 0);
    assert.equal(r.failures.count, 0);
    // Refuted within about a probe interval: the buddy system's piggybacked suspicion, or the gossip.
    assert.ok(r.suspicions.refuteMedianMs < config.memberlist.probeIntervalMs, String(r.suspicions.refuteMedianMs));
    assert.ok(r.samples.every((s) => s.belowN === 0));
  });

  test('a suspicion timeout shorter than a refutation can take: live members are declared dead and their slivers healed elsewhere', () => {
    const r = runSim(lossy(0.1, { memberlist: { ...LAN_CONFIG, suspicionMaxTimeoutMult: 0.25 } }));
    assert.equal(r.failures.count, 0);
    assert.ok(r.suspicions.falseDeaths > 0, JSON.stringify(r.suspicions));
    assert.ok(r.suspicions.falseDeaths < r.suspicions.falseSuspicions);
    assert.ok(r.heal.slivers > 0, JSON.stringify(r.heal));
    // Healed, not lost: the falsely declared member ran on, so no slice was below N.
    assert.ok(r.samples.every((s) => s.belowN === 0));
  });
});
