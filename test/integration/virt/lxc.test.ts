// The LXC driver on real LXC: the Driver contract, then what only a real
// container shows (cgroup limits enforced, the id map, networking on a
// bridge, a real TTY, killed commands, unfinished containers). Needs root,
// lxc, busybox-static and root:100000:65536 in /etc/subuid and /etc/subgid.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { cgroupFile } from '../../../src/virt/cgroup.js';
import type { ContainerLimits, ContainerSpec, Driver } from '../../../src/virt/driver.js';
import { unmountAllBelow } from '../../../src/virt/disk.js';
import { createLxcDriver } from '../../../src/virt/lxc.js';
import { CONTRACT_LIMITS, driverContract } from '../../contract/driver.contract.js';

const run = promisify(execFile);
const tag = (): string => randomBytes(3).toString('hex');

async function makeLxcPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-lxc-test-'));
  await chmod(dir, 0o755);
  return dir;
}

/** A plain lxc-create, as something other than the driver would do it. */
async function plainCreate(lxcPath: string, name: string): Promise<void> {
  const conf = join(lxcPath, `.${name}.conf`);
  await writeFile(conf, 'lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\nlxc.net.0.type = empty\n');
  await run('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', conf]);
  await rm(conf);
}

/** Remove every container under lxcPath, whoever made it, then the directory. */
async function wipe(lxcPath: string): Promise<void> {
  for (const name of await readdir(lxcPath).catch(() => [])) {
    if (name.startsWith('.')) continue;
    await run('lxc-stop', ['-P', lxcPath, '-n', name, '-k']).catch(() => undefined);
    await run('lxc-destroy', ['-P', lxcPath, '-n', name]).catch(() => undefined);
  }
  await unmountAllBelow(lxcPath); // the disks of containers a failed test left
  await rm(lxcPath, { recursive: true, force: true });
}

driverContract('lxc', async () => {
  const lxcPath = await makeLxcPath();
  return {
    driver: createLxcDriver({ lxcPath }),
    makeIncomplete: (spec) => plainCreate(lxcPath, spec.name),
    async makeForeign(name) {
      await plainCreate(lxcPath, name);
      return {
        stillThere: async () => (await run('lxc-info', ['-P', lxcPath, '-n', name, '-s', '-H'])).stdout.trim() === 'STOPPED',
      };
    },
    cleanup: () => wipe(lxcPath),
  };
});

/** Read a stream until `pattern` shows up; fails the test instead of hanging. */
function waitFor(stream: Readable, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no ${what} in ${JSON.stringify(seen)}`));
    }, 10_000);
    const onData = (c: Buffer): void => {
      seen += c.toString('utf8');
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(m[0]);
      }
    };
    stream.on('data', onData);
  });
}

void describe('LXC driver on a real host', { concurrency: true }, () => {
  let lxcPath: string;
  let d: Driver;
  const runTag = tag();
  let n = 0;
  const spec = (limits: Partial<ContainerLimits> = {}): ContainerSpec => ({
    name: `hl-${runTag}-${++n}`,
    template: 'busybox',
    limits: { ...CONTRACT_LIMITS, ...limits },
  });
  async function running(limits: Partial<ContainerLimits> = {}): Promise<ContainerSpec> {
    const s = spec(limits);
    await d.create(s);
    await d.start(s.name);
    return s;
  }

  before(async () => {
    lxcPath = await makeLxcPath();
    d = createLxcDriver({ lxcPath });
  });
  after(() => wipe(lxcPath));

  void test('containers are unprivileged: root inside is 100000 outside', async () => {
    const s = await running();
    const map = await d.exec(s.name, ['cat', '/proc/self/uid_map']);
    assert.deepEqual(map.stdout.toString().trim().split(/\s+/), ['0', '100000', '65536']);
    await d.destroy(s.name);
  });

  void test("netns names the running container's own network namespace, and none when it is stopped", async () => {
    const s = await running();
    const path = await d.netns(s.name);
    assert.match(path ?? '', /^\/proc\/\d+\/ns\/net$/);
    const [inside, host] = await Promise.all([readlink(path as string), readlink('/proc/self/ns/net')]);
    assert.notEqual(inside, host, 'not the host namespace');
    await d.stop(s.name, { timeoutSec: 0 });
    assert.equal(await d.netns(s.name), null);
    await d.destroy(s.name);
    await assert.rejects(d.netns(s.name), (e: unknown) => e instanceof HearthError && e.code === 'sliver_not_found');
  });

  void test('the memory limit kills a command that allocates past it, and only that command', async () => {
    const s = await running({ memoryMb: 32 });
    const hog = await d.exec(s.name, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
    assert.equal(hog.exitCode, 137, hog.stderr.toString());
    assert.equal(await d.state(s.name), 'running');
    assert.equal((await d.exec(s.name, ['echo', 'alive'])).stdout.toString(), 'alive\n');
    assert.equal(Number(await readFile(cgroupFile('memory', s.name, 'memory.memsw.limit_in_bytes'), 'utf8')), 32 * 1024 * 1024);
    await d.destroy(s.name);
  });

  void test('the pids limit bounds a fork loop, and a full container is still destroyed', async () => {
    const s = await running({ pids: 16 });
    const loop = await d.exec(s.name, ['sh', '-c', 'for i in $(seq 40); do sleep 30 >/dev/null 2>&1 & done; echo started']);
    assert.notEqual(loop.exitCode, 0);
    assert.match(loop.stderr.toString(), /can't fork/);
    assert.ok((await d.stats(s.name)).pids <= 16);
    await d.destroy(s.name);
    assert.equal(await d.state(s.name), 'absent');
  });

  void test('the CPU limit is a CFS quota of cpu × period', async () => {
    const s = await running({ cpu: 0.25 });
    const period = Number(await readFile(cgroupFile('cpu', s.name, 'cpu.cfs_period_us'), 'utf8'));
    const quota = Number(await readFile(cgroupFile('cpu', s.name, 'cpu.cfs_quota_us'), 'utf8'));
    assert.equal(quota, 0.25 * period);
    await d.destroy(s.name);
  });

  void test('on a bridge, the container has its address, reaches the bridge and counts traffic', async (t) => {
    const octet = 1 + randomBytes(1)[0]! % 250;
    const bridge = `htb${tag().slice(0, 5)}`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    t.after(() => run('ip', ['link', 'del', bridge]).then(() => undefined));
    await run('ip', ['addr', 'add', `10.250.${octet}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);

    const s: ContainerSpec = {
      ...spec(),
      network: { bridge, hostVeth: `htv${tag()}`, address: `10.250.${octet}.2/24`, gateway: `10.250.${octet}.1` },
    };
    await d.create(s);
    await d.start(s.name);
    t.after(() => d.destroy(s.name));
    const addr = await d.exec(s.name, ['ip', '-4', 'addr', 'show', 'eth0']);
    assert.match(addr.stdout.toString(), new RegExp(`inet 10\\.250\\.${octet}\\.2/24`));
    const route = await d.exec(s.name, ['ip', 'route']);
    assert.match(route.stdout.toString(), new RegExp(`default via 10\\.250\\.${octet}\\.1`));
    const ping = await d.exec(s.name, ['ping', '-c', '1', '-W', '5', `10.250.${octet}.1`]);
    assert.equal(ping.exitCode, 0, ping.stdout.toString() + ping.stderr.toString());
    const stats = await d.stats(s.name);
    assert.ok(stats.rxBytes > 0 && stats.txBytes > 0, JSON.stringify(stats));
  });

  void test('a start LXC refuses reports the cause, and leaves the container stopped', async () => {
    const s: ContainerSpec = {
      ...spec(),
      network: { bridge: `htbx${tag().slice(0, 5)}`, hostVeth: `htv${tag()}`, address: '10.250.0.2/24', gateway: '10.250.0.1' },
    };
    await d.create(s);
    await assert.rejects(d.start(s.name), (e) => e instanceof HearthError && e.code === 'driver_error' && /bridge/.test(e.message));
    assert.equal(await d.state(s.name), 'stopped');
    await d.destroy(s.name);
  });

  void test('a container started by hand between create and start: start is a no-op, not a failure', async () => {
    const s = spec();
    await d.create(s);
    await run('lxc-start', ['-P', lxcPath, '-n', s.name]);
    await run('lxc-wait', ['-P', lxcPath, '-n', s.name, '-s', 'RUNNING', '-t', '10']);
    await d.start(s.name);
    assert.equal(await d.state(s.name), 'running');
    await d.destroy(s.name);
  });

  void test('a bare directory without the marker is incomplete; create makes it whole, destroy removes it', async () => {
    const s = spec();
    await mkdir(join(lxcPath, s.name));
    assert.equal(await d.state(s.name), 'incomplete');
    await d.create(s);
    assert.equal(await d.state(s.name), 'stopped');
    await d.destroy(s.name);
    await mkdir(join(lxcPath, s.name));
    await d.destroy(s.name);
    assert.equal(await d.state(s.name), 'absent');
  });

  void test('an unknown template is refused, and nothing is left behind', async () => {
    // debian is a real template now (test/integration/virt/debian.test.ts).
    const s = { ...spec(), template: 'windows' } as unknown as ContainerSpec;
    await assert.rejects(d.create(s), (e) => e instanceof HearthError && e.code === 'unknown_template');
    assert.equal(await d.state(s.name), 'absent');
  });

  void test('a TTY session runs on a pseudo-terminal, resizes, and ends with the exit code', async () => {
    const s = await running();
    const session = d.session(s.name, ['sh'], { tty: true, cols: 90, rows: 20 });
    session.stdin.write('tty; stty size\n');
    assert.match(await waitFor(session.stdout, /20 90/, 'initial size'), /20 90/);
    session.resize(120, 40);
    // The resize lands asynchronously: ask until the new size shows.
    let resized = false;
    for (let i = 0; i < 20 && !resized; i++) {
      session.stdin.write('stty size\n');
      resized = await waitFor(session.stdout, /40 120/, 'new size').then(() => true, () => false);
    }
    assert.ok(resized, 'the terminal took the new size');
    session.stdin.write('exit 7\n');
    assert.equal(await session.exited, 7);
    const tty = await d.exec(s.name, ['tty'], { tty: true });
    assert.match(tty.stdout.toString(), /^\/dev\/pts\/\d+/);
    await d.destroy(s.name);
  });

  void test('aborting an exec or killing a session leaves no process in the container', async () => {
    const s = await running();
    const controller = new AbortController();
    const reason = new Error('enough');
    const sleeping = d.exec(s.name, ['sleep', '301'], { signal: controller.signal });
    const session = d.session(s.name, ['sleep', '302'], { tty: true });
    const ps = async (): Promise<string> => (await d.exec(s.name, ['ps'])).stdout.toString();
    for (let i = 0; i < 50 && !/sleep 302/.test(await ps()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(await ps(), /sleep 301/);
    controller.abort(reason);
    await assert.rejects(sleeping, (e) => e === reason);
    session.kill();
    await session.exited;
    let left = await ps();
    for (let i = 0; i < 20 && /sleep 30[12]/.test(left); i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await ps();
    }
    assert.doesNotMatch(left, /sleep 30[12]/);
    await d.destroy(s.name);
  });
});
