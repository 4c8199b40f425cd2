// One real gateway end to end, driven the way its owner drives it: the
// hearth CLI against a running `hearth agent`, real LXC, real bridge and
// nftables. The story: create slivers, see them, run commands, enforce the
// memory limit without hurting the agent, keep slices apart, forward a
// port, stop, start, delete, and read problems as messages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, runCli, type CliResult, type TestGateway } from '../../support/gateway.js';

let gw: TestGateway;

before(async () => {
  gw = await createTestGateway();
  await gw.start();
});
after(async () => {
  await gw.destroy();
});

function hearth(...args: string[]): Promise<CliResult> {
  return runCli(gw.dataDir, ...args);
}

async function ok(...args: string[]): Promise<string> {
  const r = await hearth(...args);
  assert.equal(r.code, 0, `hearth ${args.join(' ')} failed:\n${r.stderr}\n${gw.log().slice(-1500)}`);
  return r.stdout;
}

test('create shows progress and ends running; ls --json lists it', async () => {
  const r = await hearth('sliver', 'create', 'web', '--memory', '32', '--cpu', '0.2', '--slice', 'shop');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /web: requested/);
  assert.match(r.stderr, /web: running/);
  assert.match(r.stdout, /sliver web running at 10\.\d+\.\d+\.2/);
  await ok('sliver', 'create', 'db', '--memory', '32', '--cpu', '0.2', '--slice', 'shop');
  await ok('sliver', 'create', 'other', '--memory', '32', '--cpu', '0.2');
  const list = JSON.parse(await ok('sliver', 'ls', '--json')) as { name: string; observed: string; slice: string }[];
  assert.deepEqual(list.map((s) => `${s.name}/${s.slice}/${s.observed}`).sort(), ['db/shop/running', 'other/other/running', 'web/shop/running']);
  const human = await ok('sliver', 'ls');
  assert.match(human, /^NAME\s+ID\s+SLICE/m);
});

test('exec passes output and the exit code through', async () => {
  const r = await hearth('sliver', 'exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3');
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  const id = JSON.parse(await ok('sliver', 'exec', 'web', '--json', '--', 'id', '-u')) as { exitCode: number; stdout: string };
  assert.deepEqual(id, { exitCode: 0, stdout: '0\n', stderr: '', truncated: false });
});

test('a sliver cannot use more memory than its limit, and the agent stays healthy', async () => {
  const r = await hearth('sliver', 'exec', 'web', '--', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1');
  assert.equal(r.code, 137, 'the allocation is OOM-killed inside the sliver');
  const small = await hearth('sliver', 'exec', 'web', '--', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=4M', 'count=1');
  assert.equal(small.code, 0, 'the sliver still works under its limit');
  const status = JSON.parse(await ok('status', '--json')) as { slivers: Record<string, number> };
  assert.equal(status.slivers['running'], 3);
  const show = JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { stats: { memoryLimitBytes: number; pids: number } };
  assert.equal(show.stats.memoryLimitBytes, 32 * 1024 * 1024);
  assert.ok(show.stats.pids >= 1);
});

test('slivers of one slice reach each other; of another slice, never', async () => {
  const list = JSON.parse(await ok('sliver', 'ls', '--json')) as { name: string; address: string }[];
  const addr = (n: string): string => list.find((s) => s.name === n)?.address as string;
  const same = await hearth('sliver', 'exec', 'web', '--', 'ping', '-c', '1', '-W', '2', addr('db'));
  assert.equal(same.code, 0, `web → db (same slice): ${same.stdout}${same.stderr}`);
  const cross = await hearth('sliver', 'exec', 'web', '--', 'ping', '-c', '1', '-W', '2', addr('other'));
  assert.notEqual(cross.code, 0, 'web → other (another slice) must fail');
  const gatewayPing = await hearth('sliver', 'exec', 'other', '--', 'ping', '-c', '1', '-W', '2', addr('web').replace(/\.\d+$/, '.1'));
  assert.equal(gatewayPing.code, 0, 'a sliver may ping its gateway');
});

test('a port forward reaches a service in the sliver from the gateway address', async () => {
  await ok('sliver', 'exec', 'web', '--', 'sh', '-c', 'mkdir -p /www && echo hello-forward > /www/index.html && httpd -p 80 -h /www');
  const port = String(20000 + Math.floor(Math.random() * 20000));
  await ok('sliver', 'forward', 'add', 'web', port, '80');
  const show = JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { address: string; forwards: unknown[] };
  assert.deepEqual(show.forwards, [{ proto: 'tcp', hostPort: Number(port), port: 80 }]);
  const gatewayAddr = show.address.replace(/\.\d+$/, '.1');
  let body = '';
  for (let i = 0; i < 50 && body === ''; i++) {
    body = await fetch(`http://${gatewayAddr}:${port}/`).then((r) => r.text()).catch(() => '');
    if (body === '') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body.trim(), 'hello-forward');
  await ok('sliver', 'forward', 'rm', 'web', port);
  const closed = await fetch(`http://${gatewayAddr}:${port}/`, { signal: AbortSignal.timeout(2000) }).then(() => 'open', () => 'closed');
  assert.equal(closed, 'closed');
});

test('the owner gives bandwidth: slivers are shaped, and show and /metrics count their traffic', async () => {
  assert.match(await ok('node', 'bandwidth', '--up', '50', '--down', '40'), /^up\s+50 Mbit\/s\ndown\s+40 Mbit\/s$/m);
  const gatewayAddr = (JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { address: string }).address.replace(/\.\d+$/, '.1');
  type Shaped = { up?: { bytes: number; drops: number }; down?: { bytes: number; drops: number } };
  let shaped: Shaped | undefined;
  // The shaper follows within a round (3 s); then a few pings cross it each way.
  for (let i = 0; i < 40 && shaped?.up === undefined; i++) {
    await new Promise((r) => setTimeout(r, 250));
    shaped = (JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { stats: { shaped?: Shaped } }).stats.shaped;
  }
  // ping succeeds when any reply comes back: count what crossed, by its own tally (busybox: "3 packets received").
  // The counters are the kernel's htb classes': once in CI (session 22) three pings crossed and two were counted
  // each way, the shaper's classes being made again under the first. So a second burst is asked when the
  // first falls short; the counters must then hold at least what that burst alone sent.
  let counted = '';
  for (let burst = 0; burst < 2 && counted === ''; burst++) {
    const pinged = await ok('sliver', 'exec', 'web', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', gatewayAddr);
    const received = Number(/(\d+) packets received/.exec(pinged)?.[1] ?? 0);
    assert.ok(received >= 1, pinged);
    const { up, down } = (JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { stats: { shaped: Required<Shaped> } }).stats.shaped;
    if (up.bytes >= received * 98 && down.bytes >= received * 98) counted = `${received} pings: ${JSON.stringify({ up, down })}`;
    else if (burst === 1) assert.fail(`${received} pings, fewer bytes counted: ${JSON.stringify({ up, down })}`);
  }
  const show = JSON.parse(await ok('sliver', 'show', 'web', '--json')) as { stats: { shaped: Required<Shaped> } };
  assert.equal(show.stats.shaped.up.drops, 0);
  assert.match(await ok('sliver', 'show', 'web'), /^shaped\s+up \d+ B, 0 dropped$/m);
  const metrics = await (await fetch(`http://127.0.0.1:${gw.config.api.port}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } })).text();
  assert.match(metrics, /^hearth_sliver_network_bytes_total\{sliver="web",direction="down"\} [1-9]\d*$/m);
  assert.match(metrics, /^hearth_sliver_network_drops_total\{sliver="web",direction="up"\} 0$/m);
  assert.match(await ok('status'), /^bandwidth: up 50 Mbit\/s \(0 guaranteed\), down 40 Mbit\/s \(0 guaranteed\)$/m);
  assert.match(await ok('node', 'bandwidth', '--up', 'none', '--down', 'none'), /^up\s+not shaped$/m);
});

test('stop and start wait for the state and keep the address', async () => {
  const before = JSON.parse(await ok('sliver', 'show', 'db', '--json')) as { address: string };
  assert.match(await ok('sliver', 'stop', 'db'), /sliver db stopped/);
  const exec = await hearth('sliver', 'exec', 'db', '--', 'true');
  assert.notEqual(exec.code, 0);
  assert.match(exec.stderr, /hearth: the sliver is stopped, not running \[invalid_state\]/);
  assert.match(await ok('sliver', 'start', 'db'), /sliver db running/);
  const after = JSON.parse(await ok('sliver', 'show', 'db', '--json')) as { address: string };
  assert.equal(after.address, before.address);
});

test('problems print their message and code and exit non-zero', async () => {
  const bad = await hearth('sliver', 'create', 'Bad/Name');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^hearth: sliver name "Bad\/Name" must be .* \[invalid_name\]$/m);
  const missing = await hearth('sliver', 'show', 'nope');
  assert.match(missing.stderr, /\[sliver_not_found\]/);
  const big = await hearth('sliver', 'create', 'huge', '--memory', '999999', '--cpu', '0.1');
  assert.match(big.stderr, /cannot fit the sliver \(memoryMb: asked 999999 MB, \d+ free\) \[insufficient_resources\]/);
  const notNumber = await hearth('sliver', 'create', 'x', '--memory', 'lots');
  assert.match(notNumber.stderr, /--memory must be a number/);
});

test('rm removes every sliver and leaves the gateway empty', async () => {
  for (const name of ['web', 'db', 'other']) assert.match(await ok('sliver', 'rm', name), new RegExp(`sliver ${name} deleted`));
  assert.deepEqual(JSON.parse(await ok('sliver', 'ls', '--json')), []);
  const events = await gw.api.request<{ items: { type: string }[] }>('GET', '/api/v1/events?limit=1000');
  assert.equal(events.items.filter((e) => e.type === 'sliver.deleted').length, 3);
});
