// How news reaches the agents in the model: a change is seen once the
// membership has read the record of the member Serf's log named (100 ms of
// gathering) or at the gateway's next member-list reading, whichever is first; a rumor reaches every agent later than one agent, a
// list is pulled a round trip after it is seen, and news travels slower in a
// bigger community and with the `wan` profile's slower gossip.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentSeesAt, COMMUNITY_LINK, LAN_CONFIG, propagation, SERF_AGENT_EVENTS, WAN_CONFIG } from '../../../src/sim/memberlist.js';

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
});
