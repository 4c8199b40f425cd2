// Slice networks on a testbed of three gateways (namespaces, the link
// emulator, real agents, real Serf, real LXC, real wireguard-go), driven with
// the real CLI. The story: a user makes a slice of two from gw1 → its
// slivers, on two gateways, reach each other by name and address, IPv4 and
// IPv6, over the gateways' WireGuard tunnel → a slice of one on the same
// plan reaches none of them, and no gateway reaches them either → the host
// of a sliver is killed: the sliver runs elsewhere with the same address, and
// its slice peer reaches it there again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../support/ports.js';
import { testbedUp } from '../../../src/testbed/controller.js';
import { testbedDown } from '../../../src/testbed/controller-down.js';
import { testbedKill } from '../../../src/testbed/controller-ops.js';
import { runHearth } from '../../../src/testbed/gateway-process.js';
import { enterArgs } from '../../../src/testbed/netns.js';
import { memberOf, type TestbedState } from '../../../src/testbed/state.js';
import type { SliceView } from '../../../src/model/slice.js';

const exec = promisify(execFile);
const prefix = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
const root = mkdtempSync(join(tmpdir(), 'testbed-slicenet-'));
chmodSync(root, 0o755);
const dir = join(root, 'tb');
const keyFile = join(root, 'alice');
let state: TestbedState;
const GATEWAYS = [1, 2, 3];

const gw = (n: number): TestbedState['members'][number] => memberOf(state, n);
const number = (name: string | null): number => Number((name ?? '').replace(/^gw/, ''));

async function show(n: number, slice: string): Promise<SliceView> {
  return JSON.parse(await runHearth(gw(n), ['slice', 'show', slice, '--json'])) as SliceView;
}

/** Whether `ping` from a sliver (through its gateway's CLI) gets an answer from `target`. */
async function pings(n: number, sliver: string, target: string, family: '-4' | '-6' = '-4'): Promise<boolean> {
  try {
    await runHearth(gw(n), ['sliver', 'exec', sliver, '--', 'ping', family, '-c', '1', '-W', '2', target]);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `check` holds, saying what it last saw when it never does. */
async function eventually<T>(what: string, seconds: number, probe: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const deadline = performance.now() + seconds * 1000;
  let last: T | undefined;
  for (;;) {
    last = await probe().catch(() => last);
    if (last !== undefined && check(last)) return last;
    if (performance.now() > deadline) assert.fail(`never ${what} within ${seconds} s; last seen: ${JSON.stringify(last)}`);
    await sleep(1000);
  }
}

void describe(`slice networks on a testbed of three (prefix ${prefix})`, () => {
  let net: SliceView;

  before(async () => {
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const result = await testbedUp({
      gateways: GATEWAYS.length, dir, prefix, seed: 5, port: await freePort(),
      underlay: { network: `172.29.${randomInt(256)}.0`, prefixLength: 24 },
      progress: () => undefined,
    });
    state = result.state;
  });

  after(async () => {
    await testbedDown({ dir });
    rmSync(root, { recursive: true, force: true });
  });

  void test('the slivers of a slice on two gateways reach each other by name and address, IPv4 and IPv6', async () => {
    net = JSON.parse(await runHearth(gw(1), ['slice', 'create', 'net', '--slivers', '2', '--memory', '64', '--key', keyFile, '--json'])) as SliceView;
    assert.equal(net.state, 'running');
    const [a, b] = net.slivers.map((s) => number(s.gateway));
    assert.notEqual(a, b);
    await eventually('net-0 to reach net-1 by name', 60, () => pings(a as number, 'net-0', 'net-1'), (ok) => ok);
    assert.ok(await pings(b as number, 'net-1', 'net-0'), 'net-1 reaches net-0 by name');
    assert.ok(await pings(a as number, 'net-0', 'net-1.net.hearth'), 'and as NAME.SLICE.hearth');
    assert.ok(await pings(a as number, 'net-0', 'net-1', '-6'), 'over IPv6 too');
    const hosts = await runHearth(gw(a as number), ['sliver', 'exec', 'net-0', '--', 'cat', '/etc/hosts']);
    assert.match(hosts, /^100\.72\.0\.3\tnet-1\.net\.hearth net-1$/m);
  });

  void test('another slice on the same plan reaches none of them, and neither do the gateways', async () => {
    const solo = JSON.parse(await runHearth(gw(1), ['slice', 'create', 'solo', '--slivers', '1', '--memory', '64', '--key', keyFile, '--json'])) as SliceView;
    const host = number(solo.slivers[0]?.gateway ?? null);
    // solo-0 has 100.72.0.2 on its own network, as net-0 has on net's; net-1's 100.72.0.3 is not in solo's.
    await eventually('solo-0 to have its slice network', 60, () => runHearth(gw(host), ['sliver', 'exec', 'solo-0', '--', 'cat', '/etc/hosts']), (h) => h.includes('solo-0.solo.hearth'));
    assert.ok(!(await pings(host, 'solo-0', '100.72.0.3')), 'solo-0 does not reach net-1');
    assert.ok(!(await pings(host, 'solo-0', 'fd68:6561:7274:5::3', '-6')), 'nor over IPv6');
    for (const n of GATEWAYS) {
      const ns = gw(n).namespace;
      const [file, ...args] = [...enterArgs(ns), 'ping', '-c', '1', '-W', '2', '100.72.0.3'];
      await assert.rejects(exec(file as string, args), `gw${n} itself does not reach net-1`);
    }
    await runHearth(gw(1), ['slice', 'rm', 'solo', '--key', keyFile]);
  });

  void test('the host of a sliver is killed: it runs elsewhere with the same address, and its peer reaches it again', async () => {
    const victim = number(net.slivers[1]?.gateway ?? null);
    const survivor = number(net.slivers[0]?.gateway ?? null);
    const entry = GATEWAYS.find((n) => n !== victim) as number;
    await testbedKill(`gw${victim}`, { dir });
    await eventually(`net-1 to run without gw${victim}`, 90, () => show(entry, 'net'),
      (v) => v.state === 'running' && !v.slivers.some((s) => s.gateway === `gw${victim}`));
    await eventually('net-0 to reach net-1 at its new gateway', 60, () => pings(survivor, 'net-0', 'net-1'), (ok) => ok);
    const moved = await show(entry, 'net');
    const newHost = number(moved.slivers[1]?.gateway ?? null);
    const addr = await runHearth(gw(newHost), ['sliver', 'exec', 'net-1', '--', 'ip', '-4', 'addr', 'show', 'eth1']);
    assert.match(addr, /inet 100\.72\.0\.3\/24/, 'the same address on its new gateway');
  });
});
