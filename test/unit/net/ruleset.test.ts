import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { FORWARDED_MARK, renderRuleset } from '../../../src/net/ruleset.js';
import type { NetworkPlan, SliverNetworkInit, SliverPort } from '../../../src/net/types.js';

const init: SliverNetworkInit = { bridge: 'hbr0', subnet: '10.213.0.0/24', table: 'hearth' };
const a1: SliverPort = { sliverId: 'a1', slice: 'alpha', hostVeth: 'hva1', address: '10.213.0.2' };
const a2: SliverPort = { sliverId: 'a2', slice: 'alpha', hostVeth: 'hva2', address: '10.213.0.3' };
const b1: SliverPort = { sliverId: 'b1', slice: 'beta', hostVeth: 'hvb1', address: '10.213.0.4' };
const plan: NetworkPlan = {
  ports: [a1, a2, b1],
  forwards: [
    { proto: 'tcp', hostPort: 8080, address: '10.213.0.2', port: 80 },
    { proto: 'udp', hostPort: 5353, address: '10.213.0.4', port: 53 },
  ],
};

/** The body of `table <family> <name> { ... }`, or undefined. */
function table(script: string, family: string): string | undefined {
  const start = script.indexOf(`table ${family} hearth {`);
  if (start < 0) return undefined;
  return script.slice(start, script.indexOf('\n}', start) + 2);
}

function chainOf(body: string, name: string): string {
  const start = body.indexOf(`  chain ${name} {`);
  assert.ok(start >= 0, `chain ${name} missing`);
  return body.slice(start, body.indexOf('\n  }', start));
}

/** The chain's rules, one per line, without its hook declaration. */
function rulesOf(body: string, name: string): string[] {
  return chainOf(body, name).split('\n').slice(2).map((l) => l.trim());
}

function code(expected: string) {
  return (err: unknown): boolean => err instanceof HearthError && err.code === expected;
}

describe('renderRuleset', () => {
  test('replaces both tables: each is created then deleted before it is defined', () => {
    const lines = renderRuleset(init, plan).split('\n');
    for (const family of ['inet', 'bridge']) {
      const create = lines.indexOf(`table ${family} hearth`);
      const del = lines.indexOf(`delete table ${family} hearth`);
      const define = lines.indexOf(`table ${family} hearth {`);
      assert.ok(create >= 0 && create < del && del < define, family);
    }
  });

  test('is deterministic whatever the order of the plan', () => {
    const shuffled: NetworkPlan = { ports: [b1, a2, a1], forwards: [...plan.forwards].reverse() };
    assert.equal(renderRuleset(init, shuffled), renderRuleset(init, plan));
  });

  test('bridge table: only same-slice port pairs may exchange frames', () => {
    const bridge = table(renderRuleset(init, plan), 'bridge');
    assert.ok(bridge);
    assert.match(bridge, /"hva1" \. "hva2"/);
    assert.match(bridge, /"hva2" \. "hva1"/);
    assert.doesNotMatch(bridge, /"hva\d" \. "hvb1"|"hvb1" \. "hva\d"/);
    assert.deepEqual(rulesOf(bridge, 'forward'), [
      'iifname . oifname @same_slice_ports accept',
      'meta mark & 0x00001000 == 0x00001000 accept',
      'iifname @ports drop',
      'oifname @ports drop',
    ]);
  });

  test('bridge table: a port may only send from its own address', () => {
    const bridge = table(renderRuleset(init, plan), 'bridge');
    assert.ok(bridge);
    assert.match(bridge, /"hvb1" \. 10\.213\.0\.4/);
    const pre = chainOf(bridge, 'prerouting');
    assert.match(pre, /ip saddr != @port_addrs drop/);
    assert.match(pre, /arp saddr ip != @port_addrs drop/);
  });

  test('inet input: from the bridge only replies and pings reach the host', () => {
    assert.deepEqual(rulesOf(table(renderRuleset(init, plan), 'inet') ?? '', 'input'), [
      'iifname "hbr0" ct state established,related accept',
      'iifname "hbr0" icmp type echo-request accept',
      'iifname "hbr0" drop',
    ]);
  });

  test('inet forward: out from the bridge is fine, in only for replies and forwards, slices stay apart when routed', () => {
    const inet = table(renderRuleset(init, plan), 'inet') ?? '';
    assert.match(inet, /10\.213\.0\.2 \. 10\.213\.0\.3/);
    assert.doesNotMatch(inet, /10\.213\.0\.4 \. |\. 10\.213\.0\.4,/);
    assert.deepEqual(rulesOf(inet, 'forward'), [
      'iifname "hbr0" oifname "hbr0" ip saddr . ip daddr @same_slice_addrs accept',
      'iifname "hbr0" oifname "hbr0" ct status dnat accept',
      'iifname "hbr0" oifname "hbr0" drop',
      'iifname "hbr0" accept',
      'oifname "hbr0" ct state established,related accept',
      'oifname "hbr0" ct status dnat accept',
      'oifname "hbr0" drop',
    ]);
  });

  test('NAT out: the subnet is masqueraded unless it stays on the bridge', () => {
    const post = chainOf(table(renderRuleset(init, plan), 'inet') ?? '', 'postrouting');
    assert.match(post, /type nat hook postrouting/);
    assert.match(post, /ip saddr 10\.213\.0\.0\/24 oifname != "hbr0" masquerade/);
  });

  test('forwards: DNAT from any host address in prerouting and output, hairpin masquerade', () => {
    const inet = table(renderRuleset(init, plan), 'inet') ?? '';
    const pre = chainOf(inet, 'prerouting');
    const out = chainOf(inet, 'output');
    assert.match(pre, /type nat hook prerouting/);
    assert.match(pre, /fib daddr type local tcp dport 8080 dnat ip to 10\.213\.0\.2:80/);
    assert.match(pre, /fib daddr type local udp dport 5353 dnat ip to 10\.213\.0\.4:53/);
    assert.match(out, /type nat hook output/);
    assert.match(out, /ip daddr != 127\.0\.0\.0\/8 fib daddr type local tcp dport 8080 dnat ip to 10\.213\.0\.2:80/);
    assert.match(chainOf(inet, 'postrouting'), /oifname "hbr0" ip saddr 10\.213\.0\.0\/24 ct status dnat masquerade/);
  });

  test('forwarded packets from the bridge carry the mark the bridge table lets through, OR-ed in', () => {
    assert.equal(FORWARDED_MARK, 0x1000);
    assert.deepEqual(rulesOf(table(renderRuleset(init, plan), 'inet') ?? '', 'mark_forwarded'), [
      'iifname "hbr0" ct status dnat meta mark set meta mark | 0x00001000',
    ]);
    assert.match(chainOf(table(renderRuleset(init, plan), 'inet') ?? '', 'mark_forwarded'), /hook prerouting priority -90;/);
  });

  test('a sliver removed from the plan leaves nothing of it behind', () => {
    const without = renderRuleset(init, { ports: [a1, a2], forwards: plan.forwards.filter((f) => f.address !== b1.address) });
    assert.doesNotMatch(without, /hvb1|10\.213\.0\.4\b|5353/);
  });

  test('an empty plan declares empty sets and no forward rules', () => {
    const script = renderRuleset(init, { ports: [], forwards: [] });
    assert.doesNotMatch(script, /elements/);
    assert.doesNotMatch(script, /dnat ip to/);
    assert.ok(script.includes('set same_slice_ports {\n    type ifname . ifname;\n  }'));
  });

  test('a host port forwarded twice is port_taken', () => {
    const twice: NetworkPlan = { ports: [a1], forwards: [plan.forwards[0]!, { ...plan.forwards[0]!, port: 81 }] };
    assert.throws(() => renderRuleset(init, twice), code('port_taken'));
    // Same number, other protocol: fine.
    renderRuleset(init, { ports: [a1], forwards: [plan.forwards[0]!, { ...plan.forwards[0]!, proto: 'udp' }] });
  });

  test('rejects plans that would be unsafe to splice into nft', () => {
    const bad: NetworkPlan[] = [
      { ports: [{ ...a1, hostVeth: 'x" accept' }], forwards: [] },
      { ports: [{ ...a1, address: '10.213.1.2' }], forwards: [] },
      { ports: [{ ...a1, address: '10.213.0.1' }], forwards: [] },
      { ports: [a1, { ...a2, hostVeth: a1.hostVeth }], forwards: [] },
      { ports: [a1, { ...a2, address: a1.address }], forwards: [] },
      { ports: [], forwards: [{ proto: 'tcp', hostPort: 0, address: a1.address, port: 80 }] },
      { ports: [], forwards: [{ proto: 'tcp', hostPort: 80, address: a1.address, port: 65536 }] },
      { ports: [], forwards: [{ proto: 'sctp' as 'tcp', hostPort: 80, address: a1.address, port: 80 }] },
      { ports: [], forwards: [{ proto: 'tcp', hostPort: 80, address: '8.8.8.8', port: 80 }] },
    ];
    for (const p of bad) assert.throws(() => renderRuleset(init, p), code('network_error'), JSON.stringify(p));
  });

  test('both tables carry the marker naming the gateway, bridge and subnet', () => {
    const script = renderRuleset({ ...init, gatewayId: 'ABCDEF0123456789ffff' }, plan);
    for (const family of ['bridge', 'inet']) {
      const body = table(script, family) ?? '';
      assert.equal(body.split('\n')[1], '  comment "hearth gateway=abcdef0123456789 bridge=hbr0 subnet=10.213.0.0/24"', family);
    }
    assert.match(renderRuleset(init, plan), /^ {2}comment "hearth bridge=hbr0 subnet=10\.213\.0\.0\/24"$/m, 'without an id, none is claimed');
    assert.throws(() => renderRuleset({ ...init, gatewayId: 'not hex" ; flush ruleset' }, plan), code('invalid_request'));
  });

  test('rejects a bad bridge, table or subnet', () => {
    assert.throws(() => renderRuleset({ ...init, bridge: 'a-bridge-name-too-long' }, plan), code('invalid_request'));
    assert.throws(() => renderRuleset({ ...init, table: 'hearth; flush ruleset' }, plan), code('invalid_request'));
    assert.throws(() => renderRuleset({ ...init, subnet: '10.213.0.0/30' }, plan), code('invalid_request'));
  });
});

void describe('revoked gateways', () => {
  const init = { bridge: 'hx0', subnet: '10.9.0.0/24', table: 'hx' };
  void test('what they send to the gossip is dropped, IPv4 and IPv6; no rule without them', () => {
    const text = renderRuleset(init, { ports: [], forwards: [], blocked: [
      { address: '10.99.0.3', port: 7946, localPort: 7000 }, { address: 'fd00::3', port: 7947, localPort: 7000 },
    ] });
    assert.match(text, /ip saddr 10\.99\.0\.3 meta l4proto \{ tcp, udp \} th sport 7946 drop/);
    assert.match(text, /ip saddr 10\.99\.0\.3 meta l4proto \{ tcp, udp \} th dport 7000 drop/);
    assert.doesNotMatch(text, /daddr 10\.99\.0\.3/, 'outgoing probes must fail by silence, not by EPERM');
    assert.match(text, /ip6 saddr fd00::3 meta l4proto \{ tcp, udp \} th sport 7947 drop/);
    const none = renderRuleset(init, { ports: [], forwards: [] });
    assert.doesNotMatch(none, / th (sport|dport) /);
  });
  void test('a blocked peer that is not an address and two ports is refused', () => {
    for (const bad of [{ address: 'gw3', port: 7946, localPort: 7946 }, { address: '10.0.0.1', port: 0, localPort: 7946 }, { address: '10.0.0.1; flush ruleset', port: 1, localPort: 1 }]) {
      assert.throws(() => renderRuleset(init, { ports: [], forwards: [], blocked: [bad] }), /network_error|not an address/);
    }
  });
});
