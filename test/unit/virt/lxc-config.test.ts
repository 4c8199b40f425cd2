// What hearth writes into an LXC config and into a shell line: limits as the
// kernel wants them, and no way for a value to smuggle in a key or a command.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { shellQuote } from '../../../src/virt/attach.js';
import { createKeyedLock } from '../../../src/virt/keyed-lock.js';
import { renderHearthConfig, renderLimitsConfig, renderNetworkConfig } from '../../../src/virt/lxc-config.js';
import { startFailureReason } from '../../../src/virt/lxc.js';

void test('limits become cgroup v1 keys: RAM and RAM+swap equal, CFS quota = cpu × 100 ms', () => {
  assert.deepEqual(renderLimitsConfig({ cpu: 0.25, memoryMb: 32, pids: 16, diskMb: 64 }), [
    'lxc.cgroup.memory.limit_in_bytes = 33554432',
    'lxc.cgroup.memory.memsw.limit_in_bytes = 33554432',
    'lxc.cgroup.pids.max = 16',
    'lxc.cgroup.cpu.cfs_period_us = 100000',
    'lxc.cgroup.cpu.cfs_quota_us = 25000',
  ]);
  // The kernel refuses a quota below 1 ms.
  assert.ok(renderLimitsConfig({ cpu: 0.001, memoryMb: 32, pids: 16, diskMb: 64 }).includes('lxc.cgroup.cpu.cfs_quota_us = 1000'));
});

void test('without a network the container gets an empty network namespace', () => {
  assert.deepEqual(renderNetworkConfig(undefined), ['lxc.net.0.type = empty']);
});

void test('a network value that could inject config lines is refused', () => {
  const net = { bridge: 'br0', hostVeth: 'v1', address: '10.0.0.2/24', gateway: '10.0.0.1' };
  assert.ok(renderNetworkConfig(net).includes('lxc.net.0.ipv4.address = 10.0.0.2/24'));
  assert.ok(!renderNetworkConfig(net).some((l) => l.startsWith('lxc.net.0.hwaddr')), 'no MAC given: the kernel picks one');
  assert.ok(renderNetworkConfig({ ...net, mac: '06:01:02:03:04:05' }).includes('lxc.net.0.hwaddr = 06:01:02:03:04:05'));
  for (const bad of [{ bridge: 'br0\nlxc.apparmor.profile = unconfined' }, { hostVeth: 'a-very-long-veth-name' }, { address: '10.0.0.2' }, { gateway: '10.0.0.1/24' }, { mac: '06:01:02:03:04:05\nlxc.x = y' }]) {
    assert.throws(() => renderNetworkConfig({ ...net, ...bad }), (e) => e instanceof HearthError && e.code === 'invalid_request');
  }
  assert.throws(
    () => renderHearthConfig({ name: 'x', template: 'busybox', limits: { cpu: 1, memoryMb: Number.NaN, pids: 1, diskMb: 1 } }),
    (e) => e instanceof HearthError && e.code === 'invalid_resources',
  );
});

void test('shellQuote keeps any word one word for /bin/sh', () => {
  for (const word of ["it's", '$(touch /tmp/x)', '`id`', 'a b\nc', '', "'\"\\"]) {
    assert.equal(execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(word)}`]).toString(), word);
  }
});

void test('the first LXC start log errors are the reported cause', () => {
  const log = [
    'lxc-start n 20261126101929.944 ERROR    network - ../src/lxc/network.c:netdev_configure_server_veth:711 - No such file or directory - Failed to attach "vethX" to bridge "htb1", bridge interface doesn\'t exist',
    'lxc-start n 20261126101929.966 ERROR    network - ../src/lxc/network.c:lxc_create_network_priv:3427 - Failed to create network device',
    'lxc-start n 20261126101929.966 ERROR    lxc_start - ../src/lxc/tools/lxc_start.c:main:306 - The container failed to start',
  ].join('\n');
  assert.equal(
    startFailureReason(log),
    'No such file or directory - Failed to attach "vethX" to bridge "htb1", bridge interface doesn\'t exist | Failed to create network device',
  );
  assert.equal(startFailureReason(''), undefined);
});

void test('the keyed lock runs one operation per key at a time, keys in parallel', async () => {
  const lock = createKeyedLock();
  const events: string[] = [];
  const op = (key: string, id: string, gate: Promise<void>) =>
    lock(key, async () => {
      events.push(`start ${id}`);
      await gate;
      events.push(`end ${id}`);
    });
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const a1 = op('a', 'a1', gate);
  const a2 = op('a', 'a2', Promise.resolve());
  const b1 = op('b', 'b1', Promise.resolve());
  await b1;
  assert.deepEqual(events, ['start a1', 'start b1', 'end b1']);
  open();
  await Promise.all([a1, a2]);
  assert.deepEqual(events.slice(3), ['end a1', 'start a2', 'end a2']);
  await assert.rejects(lock('a', async () => Promise.reject(new Error('x'))));
  assert.equal(await lock('a', async () => 'after a failure'), 'after a failure');
});
