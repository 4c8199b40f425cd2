import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sliverNetAddresses } from '../../../src/cloud/slice-net.js';
import { HearthError } from '../../../src/model/errors.js';
import { ipv6Hex, renderSliceFirewall, type SlicePort } from '../../../src/net/slice-firewall.js';

const init = { table: 'hearth_sn_h1a2b3', tunnel: 'hw0badcafe', vxlanPrefix: 'h1a2b3x' };
const port = (veth: string, vni: number, index: number): SlicePort => ({ hostVeth: veth, ...sliverNetAddresses(vni, index) });
const p0 = port('hs0000000000001', 0x00beef, 0);
const p1 = port('hs0000000000002', 0x00f00d, 1);

test('the script replaces both of its tables, and only those', () => {
  const script = renderSliceFirewall(init, [p0], []);
  const lines = script.split('\n');
  assert.deepEqual(lines.slice(1, 5), ['table bridge hearth_sn_h1a2b3', 'delete table bridge hearth_sn_h1a2b3', 'table inet hearth_sn_h1a2b3', 'delete table inet hearth_sn_h1a2b3']);
  assert.ok(!/policy drop/.test(script), 'base chains keep policy accept');
  assert.equal(renderSliceFirewall(init, [p1, p0], []), renderSliceFirewall(init, [p0, p1], []), 'ports in any order give one script');
});

test('every port is bound to its MAC, its IPv4, its IPv6 and its neighbour-discovery target', () => {
  const script = renderSliceFirewall(init, [p0, p1], []);
  assert.match(script, /"hs0000000000001" \. 0a:00:be:ef:00:00/);
  assert.match(script, /"hs0000000000002" \. 100\.72\.0\.3/);
  assert.match(script, /"hs0000000000002" \. fd68:6561:7274:5::3/);
  assert.match(script, /"hs0000000000002" \. 0xfd686561727400050000000000000003/);
  assert.match(script, /iifname @ports ether type != \{ ip, ip6, arp \} drop/);
  assert.match(script, /iifname @ports icmpv6 type nd-neighbor-advert .* != @port_nd drop/);
});

test('nothing from a slice bridge reaches the gateway, and VXLAN comes only through the tunnel from a segment\'s gateways', () => {
  const script = renderSliceFirewall(init, [], [{ address: 'fd68:6561:7274:ffff::1', vni: 0x00beef }, { address: 'fd68:6561:7274:ffff::1', vni: 0x00beef }]);
  assert.match(script, /hook input[^}]*iifname @ports drop\n\s+iifname "h1a2b3x\*" drop/);
  assert.match(script, /udp dport 4789 iifname != "hw0badcafe" drop/);
  assert.equal(script.match(/fd68:6561:7274:ffff::1 \. 0x00beef/g)?.length, 1, 'a peer of a segment once');
  assert.match(renderSliceFirewall(init, [], []), /set segment_peers \{\n\s+typeof ip6 saddr \. @th,96,24;\n\s+\}/, 'no peer: every segment datagram is dropped');
});

test('a bad table, tunnel, prefix, port or peer is refused before anything is applied', () => {
  const bad: [string, () => string][] = [
    ['table', () => renderSliceFirewall({ ...init, table: 'a;b' }, [], [])],
    ['tunnel', () => renderSliceFirewall({ ...init, tunnel: 'x y' }, [], [])],
    ['prefix', () => renderSliceFirewall({ ...init, vxlanPrefix: 'H*' }, [], [])],
    ['mac', () => renderSliceFirewall(init, [{ ...p0, mac: '0A:00:00:00:00:00' }], [])],
    ['address', () => renderSliceFirewall(init, [{ ...p0, ipv4: '100.72.0' }], [])],
    ['twice', () => renderSliceFirewall(init, [p0, p0], [])],
    ['peer', () => renderSliceFirewall(init, [], [{ address: '10.0.0.1', vni: 5 }])],
    ['vni', () => renderSliceFirewall(init, [], [{ address: 'fd00::1', vni: 0 }])],
  ];
  for (const [what, render] of bad) assert.throws(render, HearthError, what);
});

test('IPv6 addresses become the raw integers nft compares payload with', () => {
  assert.equal(ipv6Hex('fd68:6561:7274:5::2'), '0xfd686561727400050000000000000002');
  assert.equal(ipv6Hex('::1'), '0x00000000000000000000000000000001');
  assert.equal(ipv6Hex('fe80::'), '0xfe800000000000000000000000000000');
  assert.equal(ipv6Hex('1:2:3:4:5:6:7:8'), '0x00010002000300040005000600070008');
});
