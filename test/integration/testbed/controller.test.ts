// `hearth testbed` for real: three gateways in their own namespaces behind
// the link emulator, each a real `hearth agent` with its own Serf, forming a
// community with the real CLI. The story: up → everyone sees everyone →
// exec in a gateway → kill gw3 (the others see it fail) → restart it (back)
// → partition gw1 away (views split) → heal (whole again) → down (nothing
// left). Traffic stays on this test's own bridge and namespaces; a unique
// prefix, subnet, port and dir keep it apart from any other testbed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../support/ports.js';
import { readNodes } from '../../../src/testbed/community.js';
import type { NodesView } from '../../../src/testbed/community.js';
import { testbedUp } from '../../../src/testbed/controller.js';
import { testbedDown } from '../../../src/testbed/controller-down.js';
import { testbedExec, testbedHeal, testbedKill, testbedPartition, testbedRestart, testbedStatus } from '../../../src/testbed/controller-ops.js';
import { pidExists } from '../../../src/kit/pid.js';
import { childrenNamed, isRunning } from '../../../src/testbed/processes.js';
import { runHearth } from '../../../src/testbed/gateway-process.js';
import { runIp } from '../../../src/testbed/netns.js';
import { memberOf, readTestbedState } from '../../../src/testbed/state.js';
import type { TestbedState } from '../../../src/testbed/state.js';

const prefix = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
const dir = join(mkdtempSync(join(tmpdir(), 'testbed-ctl-')), 'tb');
const log: string[] = [];
const progress = (line: string): void => void log.push(line);
let state: TestbedState;

const member = (gateway: number): TestbedState['members'][number] => memberOf(state, gateway);
const view = (gateway: number): Promise<NodesView> => readNodes(member(gateway));
const statusOf = (v: NodesView, name: string): string | undefined => v.items.find((m) => m.name === name)?.status;

/** Polls gateway `gateway`'s own `hearth nodes` until `expected` holds, for up to `seconds`. */
async function eventually(gateway: number, seconds: number, what: string, expected: (v: NodesView) => boolean): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  let last: NodesView | undefined;
  for (;;) {
    try {
      last = await view(gateway);
      if (expected(last)) return;
    } catch {
      // the CLI may fail while the agent restarts; asked again below
    }
    if (performance.now() > deadline) {
      const seen = last?.items.map((m) => `${m.name}=${m.status}`).join(' ') ?? 'no answer';
      assert.fail(`gw${gateway} never saw ${what} within ${seconds} s (last: ${seen})`);
    }
    await sleep(500);
  }
}
const allAlive = (v: NodesView): boolean => v.items.length === 3 && v.items.every((m) => m.status === 'alive');

void describe(`hearth testbed (prefix ${prefix})`, () => {
  before(async () => {
    const result = await testbedUp({
      gateways: 3, dir, prefix, seed: 7,
      port: await freePort(),
      underlay: { network: `172.29.${randomInt(256)}.0`, prefixLength: 24 },
      progress,
    });
    state = result.state;
    console.log(`up with 3 gateways: ${(result.timings.total / 1000).toFixed(1)} s, full view ${(result.timings.fullView / 1000).toFixed(1)} s after the last agent started`);
  });

  after(async () => {
    await testbedDown({ dir });
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  void test('up: every gateway lists all three alive with their contributed resources', async () => {
    assert.ok(log.some((line) => /sees 3\/3 alive/.test(line)), log.join('\n'));
    for (const g of [1, 2, 3]) {
      const v = await view(g);
      assert.equal(v.self, `gw${g}`);
      assert.equal(v.community, 'testbed');
      assert.deepEqual(v.items.map((m) => [m.name, m.status]).sort(), [['gw1', 'alive'], ['gw2', 'alive'], ['gw3', 'alive']]);
      for (const m of v.items) assert.equal(m.contributed?.['memoryMb'], 1024, `${m.name} as seen by gw${g}`);
    }
    const status = await testbedStatus({ dir });
    assert.ok(status.emulator.running);
    assert.deepEqual(status.gateways.map((g) => [g.name, g.running, g.view?.alive]), [['gw1', true, 3], ['gw2', true, 3], ['gw3', true, 3]]);
  });

  void test('up refuses a second testbed in the same dir, leaving the first untouched', async () => {
    await assert.rejects(testbedUp({ gateways: 2, dir, prefix }), (e: Error & { code?: string }) => e.code === 'name_taken' && e.message.includes('already up'));
    assert.ok(pidExists(member(1).pid!), 'gw1 still runs');
  });

  void test("exec runs in the gateway's namespace with its data dir, and passes the exit code", async () => {
    const out = join(dir, 'exec.out');
    const code = await testbedExec('gw2', ['sh', '-c', `{ echo "$HEARTH_DATA_DIR"; ip -o -4 addr show vx0; } > ${out}; exit 7`], { dir });
    assert.equal(code, 7);
    const [dataDir, address] = readFileSync(out, 'utf8').split('\n');
    assert.equal(dataDir, member(2).dataDir);
    assert.match(address ?? '', /inet 10\.99\.0\.2\//);
    rmSync(out);
    assert.equal(await testbedExec('gw1', ['hearth', 'sliver', 'show', 'no-such-sliver'], { dir }), 1, "this hearth asks gw1's API, and its failure comes back");
    await assert.rejects(testbedExec('gw9', ['true'], { dir }), /no gateway "gw9".*gw1\.\.gw3/);
  });

  void test('kill gw3: its agent and serf are gone, and gw1 and gw2 see it failed', async () => {
    const pid = member(3).pid!;
    const serfs = childrenNamed(pid, 'serf');
    assert.equal(serfs.length, 1, 'gw3 runs one serf');
    const result = await testbedKill('gw3', { dir });
    assert.deepEqual(result, { gateway: 'gw3', killed: true, pid });
    assert.ok(!pidExists(pid), 'the agent is gone');
    assert.ok(!isRunning(serfs[0]!), 'its serf died with it');
    assert.equal(readTestbedState(dir)?.members[2]?.pid, null);
    await eventually(1, 30, 'gw3 failed', (v) => statusOf(v, 'gw3') === 'failed');
    await eventually(2, 30, 'gw3 failed', (v) => statusOf(v, 'gw3') === 'failed');
  });

  void test('restart gw3: it answers again and all three see each other alive', async () => {
    const { pid } = await testbedRestart('gw3', { dir });
    assert.ok(pidExists(pid));
    state = readTestbedState(dir)!;
    for (const g of [1, 2, 3]) await eventually(g, 30, 'all three alive', allAlive);
  });

  void test('partition gw1 / gw2,gw3: each side sees the other failed; heal makes the community whole', async () => {
    assert.deepEqual(await testbedPartition('gw1/gw2,gw3', { dir }), { groups: [['gw1'], ['gw2', 'gw3']] });
    await eventually(1, 40, 'gw2 and gw3 failed', (v) => statusOf(v, 'gw2') === 'failed' && statusOf(v, 'gw3') === 'failed' && statusOf(v, 'gw1') === 'alive');
    await eventually(2, 40, 'gw1 failed and gw3 alive', (v) => statusOf(v, 'gw1') === 'failed' && statusOf(v, 'gw3') === 'alive');
    await testbedHeal({ dir });
    for (const g of [1, 2, 3]) await eventually(g, 40, 'all three alive', allAlive);
  });

  void test('revoke gw3: every member cuts its gossip, the key rotation leaves it out, and it cannot come back', async () => {
    const keyring = (g: number): string[] => JSON.parse(readFileSync(join(member(g).dataDir, 'serf', 'keyring.json'), 'utf8')) as string[];
    const oldKey = keyring(1)[0];
    assert.equal(await runHearth(member(1), ['community', 'revoke', 'gw3', '--json']).then((out) => (JSON.parse(out) as { name: string }).name), 'gw3');
    // gw3 is still running, but gw1 and gw2 drop its gossip at their firewalls.
    // (It was force-left, so its fall from the gossip shows as 'left'.)
    const out = (status: string | undefined): boolean => status === 'failed' || status === 'left';
    for (const g of [1, 2]) await eventually(g, 40, 'gw3 out of the gossip', (v) => out(statusOf(v, 'gw3')) && statusOf(v, g === 1 ? 'gw2' : 'gw1') === 'alive');
    await runHearth(member(1), ['community', 'rotate-key']);
    for (const g of [1, 2]) {
      const deadline = performance.now() + 20_000;
      while (keyring(g).length !== 1 || keyring(g)[0] === oldKey) {
        assert.ok(performance.now() < deadline, `gw${g} never dropped the old key`);
        await sleep(500);
      }
    }
    assert.equal(keyring(3)[0], oldKey, 'the revoked gateway never got the new key');
    // It heard of its revocation and took itself out; a restart keeps it out
    // and says so (and should it gossip again, the old key keeps it out).
    await testbedRestart('gw3', { dir });
    const gw3 = JSON.parse(await runHearth(member(3), ['community', 'status', '--json'])) as { state: string; fix: string | null };
    assert.equal(gw3.state, 'revoked');
    assert.match(gw3.fix ?? '', /community leave/);
    await sleep(8000);
    for (const g of [1, 2]) {
      const v = await view(g);
      assert.notEqual(statusOf(v, 'gw3'), 'alive', `gw${g} must not see revoked gw3 alive`);
    }
  });

  void test('down removes every namespace, link, process and file of the testbed; a second down has nothing to do', async () => {
    const pids = [...state.members.map((m) => m.pid!), state.emulator.pid!];
    const result = await testbedDown({ dir, progress });
    assert.equal(result.wasUp, true);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.namespaces.sort(), [`${prefix}gw1`, `${prefix}gw2`, `${prefix}gw3`]);
    for (const pid of pids) assert.ok(!pidExists(pid), `pid ${pid} is gone`);
    assert.ok(!(await runIp(['netns', 'list'])).includes(prefix));
    assert.ok(!(await runIp(['link', 'show'])).includes(prefix));
    assert.ok(!existsSync(dir), `${dir} is removed`);
    assert.equal((await testbedDown({ dir })).wasUp, false);
  });
});

void describe('an interrupted up', () => {
  const prefix2 = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
  const dir2 = join(mkdtempSync(join(tmpdir(), 'testbed-ctl-')), 'tb');

  after(async () => {
    await testbedDown({ dir: dir2 });
    rmSync(join(dir2, '..'), { recursive: true, force: true });
  });

  void test('removes everything it had built once its first agent answered', async () => {
    const abort = new AbortController();
    const pids: number[] = [];
    const up = testbedUp({
      gateways: 2, dir: dir2, prefix: prefix2,
      port: await freePort(),
      underlay: { network: `172.29.${randomInt(256)}.0`, prefixLength: 24 },
      signal: abort.signal,
      progress: (line) => {
        const pid = /pid (\d+)/.exec(line)?.[1];
        if (pid !== undefined) pids.push(Number(pid));
        if (/agent answers/.test(line)) abort.abort(new Error('stop here'));
      },
    });
    await assert.rejects(up, /stop here/);
    assert.ok(pids.length >= 2, 'the emulator and at least one agent had started');
    for (const pid of pids) assert.ok(!pidExists(pid), `pid ${pid} is gone`);
    assert.ok(!(await runIp(['netns', 'list'])).includes(prefix2));
    assert.ok(!(await runIp(['link', 'show'])).includes(prefix2));
    assert.ok(!existsSync(dir2));
    assert.equal((await testbedDown({ dir: dir2 })).wasUp, false);
  });
});
