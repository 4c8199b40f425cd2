import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { COMMUNITY_MTU, createTestbedNetwork, enterArgs, teardownTestbedNetwork, testbedNames } from '../../../src/testbed/netns.js';
import type { IpRunner } from '../../../src/testbed/netns.js';

// A stand-in for ip that records commands and answers listings from a fixed world.
function recordingRunner(world: { links: string[]; namespaces: string[] }): { run: IpRunner; calls: string[] } {
  const calls: string[] = [];
  const run: IpRunner = async (args) => {
    const line = args.join(' ');
    calls.push(line);
    if (line === '-j link show') return JSON.stringify(world.links.map((ifname) => ({ ifname })));
    if (line === '-j netns list') return JSON.stringify(world.namespaces.map((name) => ({ name })));
    const del = /^(link|netns) del (\S+)$/.exec(line);
    if (del) {
      const list = del[1] === 'link' ? world.links : world.namespaces;
      list.splice(list.indexOf(del[2]!), 1);
    }
    return '';
  };
  return { run, calls };
}

void describe('testbed network plumbing', () => {
  void test('a gateway gets a namespace, an underlay veth on the bridge and a VXLAN device aimed at the emulator', async () => {
    const { run, calls } = recordingRunner({ links: [], namespaces: [] });
    const net = createTestbedNetwork({ prefix: 'ab-', port: 5555, run });
    await net.createUnderlay();
    const g = await net.addGateway(2);
    assert.deepEqual(g, {
      gateway: 2,
      namespace: 'ab-gw2',
      rootVeth: 'ab-tbu2',
      underlayAddress: '172.30.0.3',
      communityAddress: '10.99.0.2',
      endpoint: { host: '172.30.0.3', port: 5555 },
      device: 'vx0',
      mac: '02:68:62:00:00:02',
    });
    assert.deepEqual(net.emulatorEndpoint, { host: '172.30.0.1', port: 5555 });
    assert.ok(calls.includes('addr add 172.30.0.1/16 dev ab-tbbr'));
    assert.ok(calls.includes('link set ab-tbu2 master ab-tbbr up'));
    const vxlan = calls.find((c) => c.includes('type vxlan'));
    assert.equal(
      vxlan,
      `-n ab-gw2 link add vx0 address 02:68:62:00:00:02 mtu ${COMMUNITY_MTU} type vxlan id 42 local 172.30.0.3 remote 172.30.0.1 dstport 5555 dev u0 nolearning remcsumtx remcsumrx`,
    );
    assert.ok(calls.includes('-n ab-gw2 addr add 10.99.0.2/16 dev vx0'));
  });

  void test('teardown removes exactly the namespaces and links of its prefix', async () => {
    const world = {
      links: ['lo', 'eth0', 'ab-tbbr', 'ab-tbu1', 'ab-tbu12', 'abc-tbu1', 'ab-tbux', 'lxcbr0'],
      namespaces: ['ab-gw1', 'ab-gw12', 'ab-gw', 'abc-gw1', 'gw1', 'ab-gw1x'],
    };
    const { run } = recordingRunner(world);
    const removed = await teardownTestbedNetwork('ab-', { run });
    assert.deepEqual(removed, { namespaces: ['ab-gw1', 'ab-gw12'], links: ['ab-tbu1', 'ab-tbu12', 'ab-tbbr'] });
    assert.deepEqual(world.links, ['lo', 'eth0', 'abc-tbu1', 'ab-tbux', 'lxcbr0']);
    assert.deepEqual(world.namespaces, ['ab-gw', 'abc-gw1', 'gw1', 'ab-gw1x']);
  });

  void test('teardown stops the WireGuard daemons of its namespaces by deleting their TUN devices first', async () => {
    const world = { links: [], namespaces: ['ab-gw1', 'ab-gw2'] };
    const recorded = recordingRunner(world);
    const run: IpRunner = async (args, options) =>
      (args.join(' ') === '-n ab-gw1 -j -d link show type tun' ? JSON.stringify([{ ifname: 'hw0123abcd' }]) : recorded.run(args, options));
    await teardownTestbedNetwork('ab-', { run });
    const del = recorded.calls.indexOf('-n ab-gw1 link del hw0123abcd');
    assert.ok(del >= 0, 'the tunnel device is deleted');
    assert.ok(del < recorded.calls.indexOf('netns del ab-gw1'), 'before its namespace');
    assert.ok(!recorded.calls.some((c) => c.startsWith('-n ab-gw2 link del')), 'nothing else is deleted');
  });

  void test('prefixes that could make names too long or ambiguous are refused', () => {
    const invalidName = (e: unknown): boolean => e instanceof HearthError && e.code === 'invalid_name';
    assert.throws(() => testbedNames('toolong'), invalidName);
    assert.throws(() => testbedNames('a b'), invalidName);
    assert.throws(() => testbedNames('a-b'), invalidName);
    assert.equal(testbedNames('').namespace(3), 'gw3');
  });

  void test('entering a namespace uses nsenter on its bind mount, not ip netns exec', () => {
    assert.deepEqual(enterArgs('ab-gw1'), ['nsenter', '--net=/var/run/netns/ab-gw1']);
  });
});
