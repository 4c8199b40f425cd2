// How news reaches the agents in the model: a change is seen once the
// membership has read the record of the member Serf's log named (100 ms of
// gathering) or at the gateway's next member-list reading, whichever is first; a rumor reaches every agent later than one agent, a
// list is pulled a round trip after it is seen, and news travels slower in a
// bigger community and with the `wan` profile's slower gossip.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AFTER_JOINS_QUIET_MS, afterJoinsGapMs } from '../../../src/overlay/catch-up.js';
import {
  agentSeesAt, catchUpAfterJoins, COMMUNITY_LINK, failureSpread, gossipEndMs, joinLearnedAt, joinLearnOffsetMs, LAN_CONFIG, learnedAt, learnOffsetMs, missedJoinSpread, propagation, retransmitLimit, rumorMissChance,
  SERF_AGENT_EVENTS, spreadCurve, STEPS_PER_ROUND, WAN_CONFIG, type SpreadCurve,
} from '../../../src/sim/memberlist.js';
import { BENCH_MACHINES } from '../../../src/sim/machine.js';

void describe('propagation to the agents', () => {
  test('agentSeesAt: the read after the log\'s word, unless the member-list reading comes first', () => {
    const e = SERF_AGENT_EVENTS;
    assert.equal(agentSeesAt(e, 5000, 0.99), 5000 + e.noticeMs);
    assert.equal(agentSeesAt(e, 5000, 0), 5000);
    assert.equal(agentSeesAt(e, 5000, 0.005), 5000 + 0.005 * e.refreshMs);
    for (const u of [0, 0.01, 0.3, 0.999]) {
      const at = agentSeesAt(e, 1000, u);
      assert.ok(at >= 1000 && at <= 1000 + e.noticeMs, String(at));
    }
  });

  test('a rumor misses someone far more often just below 100 members than at 100: memberlist sends it 8 times there, 12 here', () => {
    const loopback = { delayMs: 0, jitterMs: 0, loss: 0 };
    assert.equal(retransmitLimit(WAN_CONFIG, 99), 8);
    assert.equal(retransmitLimit(WAN_CONFIG, 100), 12);
    const missChance = (link: typeof loopback, n: number): number => rumorMissChance(spreadCurve(WAN_CONFIG, link, n), n);
    const at99 = missChance(loopback, 99);
    const at100 = missChance(loopback, 100);
    // With s sends each, a member is missed about e^-s of the time, by one of n - 1 chances.
    assert.ok(at99 > 0.02 && at99 < 0.05, String(at99));
    assert.ok(at100 > 0.0002 && at100 < 0.002, String(at100));
    // Between powers of ten more members mean more chances to miss one; loss means fewer sends arrive.
    assert.ok(missChance(loopback, 50) < at99);
    assert.ok(missChance(COMMUNITY_LINK, 99) > at99);
    assert.equal(missChance(loopback, 1), 0);
    assert.equal(propagation(WAN_CONFIG, loopback, SERF_AGENT_EVENTS, 99, 1).missChance, at99);
  });

  test("a member's push-pull after joins: a quiet wait, the check and the push-pull after its agent saw the last join, before a missed member would wait for memberlist's", () => {
    const wan100 = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    const rtt = 2 * (COMMUNITY_LINK.delayMs + COMMUNITY_LINK.jitterMs / 2);
    // Every member's, where toAll is the last member's seeing: the median lands between one agent and the last seeing it, plus the wait.
    assert.ok(wan100.afterJoins.medianMs > AFTER_JOINS_QUIET_MS.min + 2 * rtt, JSON.stringify(wan100.afterJoins));
    assert.ok(wan100.afterJoins.medianMs < wan100.toAll.medianMs + AFTER_JOINS_QUIET_MS.max + 2 * rtt, JSON.stringify(wan100));
    assert.ok(wan100.afterJoins.p95Ms < WAN_CONFIG.pushPullIntervalMs / 10, JSON.stringify(wan100.afterJoins));
  });

  test('a member that learns a rumor sends it on at its next tick, not at the next round', () => {
    const n = 10_000;
    const g = WAN_CONFIG.gossipNodes;
    const curve = spreadCurve(WAN_CONFIG, { delayMs: 0, jitterMs: 0, loss: 0 }, n);
    assert.equal(curve.stepMs, WAN_CONFIG.gossipIntervalMs / STEPS_PER_ROUND);
    assert.equal(curve.roundMs, WAN_CONFIG.gossipIntervalMs);
    // The source's first tick: it and gossipNodes members hold it.
    assert.ok(Math.abs((curve.cumulative[0] as number) * n - (1 + g)) < 1e-6, String(curve.cumulative[0]));
    // In whole rounds, the next round takes it to those, what each of the first gossipNodes sends, and the source's second round.
    const afterOneRound = (curve.cumulative[STEPS_PER_ROUND] as number) * n;
    assert.ok(afterOneRound > 1 + g + g * g + g, `${afterOneRound} members after one round`);
    // But no faster than every member sending gossipNodes a round from the moment it learns: (1 + g) e^g after one round.
    assert.ok(afterOneRound < (1 + g) * Math.exp(g), `${afterOneRound} members after one round`);
  });

  test('a carrier gossips to distinct members once a round: in a community of four, its first round reaches all three others', () => {
    const clean = { delayMs: 0, jitterMs: 0, loss: 0 };
    const four = spreadCurve(WAN_CONFIG, clean, 4);
    // The source's first tick sends to all three others at once.
    assert.ok((four.cumulative[0] as number) > 1 - 1e-9, String(four.cumulative[0]));
    assert.equal(four.reached, 1);
    // At ten, a carrier's round reaches gossipNodes (4 on wan) of the other nine, each with the chance 4/9.
    const ten = spreadCurve(WAN_CONFIG, clean, 10);
    const share = WAN_CONFIG.gossipNodes / 9;
    assert.ok(Math.abs((ten.cumulative[0] as number) - (0.1 + 0.9 * share)) < 1e-9, String(ten.cumulative[0]));
    // The next step: the five that hold it have their ticks, each with the chance of one step in a round.
    const lacking = 0.9 * (1 - share);
    const perStep = 1 - (1 - share / STEPS_PER_ROUND) ** (0.9 * share * 10);
    assert.ok(Math.abs((ten.cumulative[1] as number) - (1 - lacking * (1 - perStep))) < 1e-9, String(ten.cumulative[1]));
    // Loss takes its share of each round's sends.
    const lossy = spreadCurve(WAN_CONFIG, { ...clean, loss: 0.5 }, 4);
    assert.ok(Math.abs((lossy.cumulative[0] as number) - (0.25 + 0.75 * 0.5)) < 1e-9, String(lossy.cumulative[0]));
  });

  test('to all later than to one; a pull a round trip after; slower when bigger or on wan; the same for a seed', () => {
    const lan20 = propagation(LAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 20, 1);
    assert.ok(lan20.toAll.medianMs > lan20.toOne.medianMs, JSON.stringify(lan20));
    assert.ok(lan20.toAll.medianMs <= lan20.toAll.p95Ms);
    const rtt = 2 * (COMMUNITY_LINK.delayMs + COMMUNITY_LINK.jitterMs / 2);
    assert.equal(lan20.directory.medianMs, lan20.toAll.medianMs + rtt);
    // Nobody sees a change sooner than gossip allows, nor much later than it.
    assert.ok(lan20.toAll.medianMs > SERF_AGENT_EVENTS.noticeMs, JSON.stringify(lan20));
    const lan1000 = propagation(LAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 1000, 1);
    assert.ok(lan1000.toAll.medianMs > lan20.toAll.medianMs, JSON.stringify({ lan20, lan1000 }));
    const wan100 = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    const lan100 = propagation(LAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1);
    assert.ok(wan100.toAll.medianMs > lan100.toAll.medianMs, JSON.stringify({ wan100, lan100 }));
    assert.deepEqual(propagation(LAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1), lan100);
  });

  test("a failure starts with two carriers, and its death spreads faster than its suspicion: each member that heard the suspicion declares it by its own timer", () => {
    const at = (c: SpreadCurve, i: number): number => c.cumulative[Math.min(i, c.cumulative.length - 1)] as number;
    const atLeast = (more: SpreadCurve, less: SpreadCurve, what: string): void => {
      for (let i = 0; i < Math.max(more.cumulative.length, less.cumulative.length); i++) assert.ok(at(more, i) >= at(less, i) - 1e-12, `${what}, step ${i}`);
    };
    const half = (c: SpreadCurve): number => c.cumulative.findIndex((x) => x >= 0.5);
    for (const n of [10, 100, 20_000]) {
      const f = failureSpread(WAN_CONFIG, COMMUNITY_LINK, n);
      for (const s of [0, 1]) {
        for (let e = 0; e <= STEPS_PER_ROUND; e++) {
          const suspicion = f.suspicion[s]?.[e] as SpreadCurve;
          // An earlier tick of the early carrier spreads the suspicion sooner, and so does the prober's tick at once. The
          // carrier brings the median member's turn no later (it does not hold the others up, though a send of the prober's
          // may go to it, who holds it already).
          if (e < STEPS_PER_ROUND - 1) atLeast(suspicion, f.suspicion[s]?.[e + 1] as SpreadCurve, `n ${n}: E's tick ${e} before ${e + 1}`);
          if (e < STEPS_PER_ROUND) assert.ok(half(suspicion) <= half(f.suspicion[s]?.[STEPS_PER_ROUND] as SpreadCurve), `n ${n}: E's tick ${e}, or none`);
          if (s === 1) atLeast(suspicion, f.suspicion[0]?.[e] as SpreadCurve, `n ${n}: P's tick at once, E's ${e}`);
          // At every step at least those whose own timer ran out (the suspicion's spread), and more: the dead message's carriers.
          for (const d of [0, 1]) atLeast(f.death[s]?.[d]?.[e] as SpreadCurve, suspicion, `n ${n}: the death of ${s}/${d}/${e}`);
        }
      }
    }
    // With every message lost, nobody learns but the prober and its early carrier, who hold it from the start (the next
    // probe's ping was lost too, in the model as everything else, but E is counted as holding it).
    const lost = failureSpread(WAN_CONFIG, { ...COMMUNITY_LINK, loss: 1 }, 100);
    assert.ok(Math.abs((lost.death[0]?.[0]?.[3] as SpreadCurve).reached - 2 / 100) < 1e-12);
    assert.ok(Math.abs((lost.death[0]?.[0]?.[STEPS_PER_ROUND] as SpreadCurve).reached - 1 / 100) < 1e-12);
    // Separate boxes (the prober gossips a round after): at 100 on `wan`, from the first agent (the declarer) to the median one.
    const apart = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1).deathSeen;
    assert.ok(apart.toMedian.medianMs > 300 && apart.toMedian.medianMs < 600, JSON.stringify(apart));
    assert.ok(apart.toLast.medianMs > apart.toMedian.medianMs, JSON.stringify(apart));
    // On the EPYC, where the prober's gossip often carries it at once: sooner, as the agents of the bench's 24 failures of
    // runs LL-LP, MA-MD and NA-NC saw it (the median agent 157-676 ms after the first, median 357; the last 500-1,200 ms,
    // median 746).
    const epyc = propagation(WAN_CONFIG, COMMUNITY_LINK, SERF_AGENT_EVENTS, 100, 1, BENCH_MACHINES.epyc).deathSeen;
    assert.ok(epyc.toMedian.medianMs < apart.toMedian.medianMs, JSON.stringify({ epyc, apart }));
    assert.ok(epyc.toMedian.medianMs > 0.75 * 357 && epyc.toMedian.medianMs < 1.25 * 357, JSON.stringify(epyc));
    assert.ok(epyc.toLast.medianMs > 0.75 * 746 && epyc.toLast.medianMs < 1.25 * 746, JSON.stringify(epyc));
  });

  test('a member the gossip missed: another member\'s push-pull after the join picks it about 63% of the time at 100 with rare joins, and seldom at 20,000 with churn, where the bucket rations them', () => {
    const curve100 = spreadCurve(WAN_CONFIG, COMMUNITY_LINK, 100);
    const rare = catchUpAfterJoins(curve100, 100, 0.0015, SERF_AGENT_EVENTS);
    // 99 members push, each picking one of 99: 1 - (1 - 1/99)^(99 · reached), about 1 - 1/e.
    assert.ok(rare.chance > 0.6 && rare.chance < 0.64, String(rare.chance));
    // The mean quiet wait after the join (1.5 s), the agent's notice of it, and two round trips: the check and the push-pull.
    const rtt = 2 * (COMMUNITY_LINK.delayMs + COMMUNITY_LINK.jitterMs / 2);
    assert.ok(Math.abs(rare.delayMs - (1500 + SERF_AGENT_EVENTS.noticeMs + 2 * rtt)) < 5, String(rare.delayMs));
    // At 20,000, 0.3 joins a second: a gap outlasts a wait drawn in 1-2 s with the chance (e^-0.3 - e^-0.6) / 0.3, about 62%,
    // and the bucket grants one push-pull per 200 s.
    const curve20k = spreadCurve(WAN_CONFIG, COMMUNITY_LINK, 20_000);
    const busy = catchUpAfterJoins(curve20k, 20_000, 0.3, SERF_AGENT_EVENTS);
    const p = (Math.exp(-0.3) - Math.exp(-0.6)) / 0.3;
    const share = 1000 / afterJoinsGapMs(20_000) / (0.3 * p);
    assert.ok(Math.abs(busy.chance - (1 - Math.exp(-share * curve20k.reached))) < 0.002, `${busy.chance} vs ${share}`);
    assert.ok(busy.chance < 0.03);
    // Joins close together put the push-pull off to the first quiet spell: (1/p - 1)/0.3 s on average.
    assert.ok(Math.abs(busy.delayMs - ((1 / p - 1) / 0.3 * 1000 + SERF_AGENT_EVENTS.noticeMs + 2 * rtt)) < 5, String(busy.delayMs));
    assert.equal(catchUpAfterJoins(spreadCurve(WAN_CONFIG, COMMUNITY_LINK, 2), 2, 0, SERF_AGENT_EVENTS).chance, 0);
  });

  test('a join\'s learn time: the gossip\'s for a member it reached; for one it missed, the earlier of a pusher\'s push-pull (when picked) and memberlist\'s', () => {
    const curve = spreadCurve(WAN_CONFIG, COMMUNITY_LINK, 100);
    const catchUp = catchUpAfterJoins(curve, 100, 0, SERF_AGENT_EVENTS);
    const none = { chance: 0, delayMs: 0 };
    const reached = curve.reached / 2;
    assert.equal(joinLearnOffsetMs(curve, catchUp, reached, 0.1), learnOffsetMs(curve, reached));
    const missed = curve.reached + (1 - curve.reached) / 2;
    // Not picked, or no catch-up at all: memberlist's push-pull, as before.
    assert.equal(joinLearnOffsetMs(curve, catchUp, missed, 0.9), learnOffsetMs(curve, missed));
    assert.equal(joinLearnOffsetMs(curve, none, missed, 0.1), learnOffsetMs(curve, missed));
    // Picked: a pusher's time on the curve, then the quiet wait and the round trip; long before the push-pull.
    const picked = joinLearnOffsetMs(curve, catchUp, missed, 0.1);
    assert.equal(picked, learnOffsetMs(curve, (0.1 / catchUp.chance) * curve.reached) + catchUp.delayMs);
    assert.ok(picked < curve.endMs + catchUp.delayMs && picked < learnOffsetMs(curve, missed), String(picked));
    // The pure draw: the same arguments, the same time; the gossip's when it reached the member.
    for (let m = 0; m < 200; m++) {
      const at = joinLearnedAt(curve, catchUp, 3, 77, m, 5000);
      assert.equal(at, joinLearnedAt(curve, catchUp, 3, 77, m, 5000));
      assert.ok(at <= learnedAt(curve, 3, 77, m, 5000), `member ${m}`);
    }
    // Missed members: with the catch-up, half of them learn within seconds; without it, within the push-pull interval.
    const withIt = missedJoinSpread(curve, catchUp, 1);
    const without = missedJoinSpread(curve, none, 1);
    assert.ok(withIt.medianMs < gossipEndMs(curve) + catchUp.delayMs, JSON.stringify(withIt));
    assert.ok(without.medianMs > gossipEndMs(curve) + WAN_CONFIG.pushPullIntervalMs / 4, JSON.stringify(without));
    assert.ok(withIt.p95Ms <= without.p95Ms);
  });
});

