// The Driver contract: one suite every implementation must pass (the LXC
// driver in test/integration/virt, the memory fake in test/unit/virt). It
// states what the reconciler may rely on, in terms a user would notice.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { HearthError } from '../../src/model/errors.js';
import type { ErrorCode } from '../../src/model/errors.js';
import type { ContainerSpec, Driver } from '../../src/virt/driver.js';

export interface DriverHarness {
  driver: Driver;
  /** Leave `spec` as a crash in the middle of `create` would. */
  makeIncomplete(spec: ContainerSpec): Promise<void>;
  /** Make, beside the driver's containers, one it did not create (omit if the notion does not apply). */
  makeForeign?(name: string): Promise<{ stillThere(): Promise<boolean> }>;
  /**
   * A Debian package beyond the base that a debian container may be made
   * with. Omit where building that image is too slow for the suite (LXC:
   * test/integration/virt/debian.test.ts makes one instead).
   */
  extraPackage?: string;
  /** Remove everything the suite made. */
  cleanup(): Promise<void>;
}

export const CONTRACT_LIMITS = { cpu: 0.5, memoryMb: 64, pids: 64, diskMb: 64 } as const;

function rejectsWith(code: ErrorCode): (e: unknown) => boolean {
  return (e) => e instanceof HearthError && e.code === code;
}

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function driverContract(label: string, makeHarness: () => Promise<DriverHarness>): void {
  void describe(`Driver contract: ${label}`, { concurrency: true }, () => {
    let h: DriverHarness;
    let d: Driver;
    // Container names are global on a machine: a random run tag keeps concurrent runs apart.
    const run = randomBytes(3).toString('hex');
    let n = 0;
    const spec = (): ContainerSpec => ({ name: `hc-${run}-${++n}`, template: 'busybox', limits: { ...CONTRACT_LIMITS } });

    before(async () => {
      h = await makeHarness();
      d = h.driver;
    });
    after(async () => {
      await h.cleanup();
    });

    void test('a container goes from created to running to gone, and runs commands meanwhile', async () => {
      const s = spec();
      assert.equal(await d.state(s.name), 'absent');
      await d.create(s);
      assert.equal(await d.state(s.name), 'stopped');
      await d.start(s.name);
      assert.equal(await d.state(s.name), 'running');

      const hi = await d.exec(s.name, ['echo', 'hi']);
      assert.deepEqual({ exitCode: hi.exitCode, stdout: hi.stdout.toString(), truncated: hi.truncated }, { exitCode: 0, stdout: 'hi\n', truncated: false });

      const stats = await d.stats(s.name);
      assert.ok(stats.cpuNs > 0, `cpuNs ${stats.cpuNs}`);
      assert.ok(stats.memoryBytes > 0, `memoryBytes ${stats.memoryBytes}`);
      assert.equal(stats.memoryLimitBytes, s.limits.memoryMb * 1024 * 1024);
      assert.ok(stats.pids >= 1);

      await d.stop(s.name, { timeoutSec: 1 });
      assert.equal(await d.state(s.name), 'stopped');
      await d.destroy(s.name);
      assert.equal(await d.state(s.name), 'absent');
    });

    void test('every operation is idempotent', async () => {
      const s = spec();
      await d.create(s);
      await d.create(s);
      assert.equal(await d.state(s.name), 'stopped');
      await d.stop(s.name, { timeoutSec: 1 }); // stopping a stopped container
      await d.start(s.name);
      await d.start(s.name);
      assert.equal(await d.state(s.name), 'running');
      await d.create(s); // a complete container is left as it is, running
      assert.equal(await d.state(s.name), 'running');
      await d.stop(s.name, { timeoutSec: 1 });
      await d.stop(s.name, { timeoutSec: 1 });
      assert.equal(await d.state(s.name), 'stopped');
      await d.destroy(s.name);
      await d.destroy(s.name);
      assert.equal(await d.state(s.name), 'absent');
    });

    void test('destroy removes a running container', async () => {
      const s = spec();
      await d.create(s);
      await d.start(s.name);
      await d.destroy(s.name);
      assert.equal(await d.state(s.name), 'absent');
      assert.ok(!(await d.list()).some((c) => c.name === s.name));
    });

    void test('list shows the containers this driver made, in their state, and nothing else', async () => {
      const a = spec();
      const b = spec();
      const foreignName = `hf-${run}-${++n}`;
      const foreign = h.makeForeign ? await h.makeForeign(foreignName) : undefined;
      await d.create(a);
      await d.create(b);
      await d.start(b.name);
      const listed = await d.list();
      assert.deepEqual(listed.filter((c) => c.name === a.name || c.name === b.name), [
        { name: a.name, state: 'stopped' },
        { name: b.name, state: 'running' },
      ]);
      assert.ok(!listed.some((c) => c.name === foreignName), 'a container the driver did not make is not listed');
      await d.destroy(a.name);
      await d.destroy(b.name);
      assert.ok(!(await d.list()).some((c) => c.name === a.name || c.name === b.name));
      if (foreign) assert.ok(await foreign.stillThere(), 'the foreign container is left alone');
    });

    void test('exec returns the command exit code, feeds stdin and bounds output', async () => {
      const s = spec();
      await d.create(s);
      await d.start(s.name);
      const failed = await d.exec(s.name, ['sh', '-c', 'exit 3']);
      assert.equal(failed.exitCode, 3);
      const cat = await d.exec(s.name, ['cat'], { stdin: 'from stdin' });
      assert.equal(cat.stdout.toString(), 'from stdin');
      const long = await d.exec(s.name, ['echo', 'hello-world'], { maxOutputBytes: 5 });
      assert.equal(long.stdout.toString(), 'hello');
      assert.equal(long.truncated, true);
      await d.destroy(s.name);
    });

    void test('exec on a stopped or absent container fails with exec_failed', async () => {
      const s = spec();
      await d.create(s);
      await assert.rejects(d.exec(s.name, ['echo', 'hi']), rejectsWith('exec_failed'));
      await d.destroy(s.name);
      await assert.rejects(d.exec(s.name, ['echo', 'hi']), rejectsWith('exec_failed'));
    });

    void test('operations on an absent container say it does not exist', async () => {
      const { name } = spec();
      await assert.rejects(d.start(name), rejectsWith('sliver_not_found'));
      await assert.rejects(d.stop(name), rejectsWith('sliver_not_found'));
      await assert.rejects(d.stats(name), rejectsWith('sliver_not_found'));
      await d.destroy(name);
    });

    void test('stats of a stopped container are zero but keep the limits, and its disk', async () => {
      const s = spec();
      await d.create(s);
      const { diskBytes, diskLimitBytes, ...stats } = await d.stats(s.name);
      assert.deepEqual(stats, { cpuNs: 0, memoryBytes: 0, memoryLimitBytes: s.limits.memoryMb * 1024 * 1024, pids: 0, rxBytes: 0, txBytes: 0 });
      // The filesystem's own metadata takes a little of the disk, never more than a tenth.
      assert.ok(diskLimitBytes <= s.limits.diskMb * 1024 * 1024 && diskLimitBytes >= 0.9 * s.limits.diskMb * 1024 * 1024, `diskLimitBytes ${diskLimitBytes}`);
      assert.ok(diskBytes >= 0 && diskBytes < diskLimitBytes / 10, `diskBytes ${diskBytes}`);
      await d.destroy(s.name);
    });

    void test('a container left unfinished by a crash is incomplete, unlisted, and create redoes it', async () => {
      const s = spec();
      await h.makeIncomplete(s);
      assert.equal(await d.state(s.name), 'incomplete');
      assert.ok(!(await d.list()).some((c) => c.name === s.name));
      await assert.rejects(d.start(s.name), rejectsWith('invalid_state'));
      await d.create(s);
      assert.equal(await d.state(s.name), 'stopped');
      await d.start(s.name);
      assert.equal((await d.exec(s.name, ['echo', 'ok'])).stdout.toString(), 'ok\n');
      await d.destroy(s.name);
    });

    void test('destroy removes an unfinished container', async () => {
      const s = spec();
      await h.makeIncomplete(s);
      await d.destroy(s.name);
      assert.equal(await d.state(s.name), 'absent');
    });

    void test('a session streams a command output and its exit code', async () => {
      const s = spec();
      await d.create(s);
      await d.start(s.name);
      const session = d.session(s.name, ['echo', 'from-session']);
      session.stdin.end();
      const [out, code] = await Promise.all([collect(session.stdout), session.exited]);
      assert.equal(code, 0);
      assert.equal(out, 'from-session\n');
      await d.destroy(s.name);
    });

    void test('invalid names are refused before anything is done', async () => {
      await assert.rejects(d.state('../etc'), rejectsWith('invalid_name'));
      await assert.rejects(d.create({ ...spec(), name: 'Bad_Name' }), rejectsWith('invalid_name'));
      await assert.rejects(d.destroy('a/b'), rejectsWith('invalid_name'));
    });

    void test('a debian container with packages is cloned from the image of that set; one without lacks them', async (t) => {
      const pkg = h.extraPackage;
      if (pkg === undefined) {
        t.skip('this harness builds no package image');
        return;
      }
      const withPkg: ContainerSpec = { ...spec(), template: 'debian', packages: [pkg] };
      const base: ContainerSpec = { ...spec(), template: 'debian' };
      for (const s of [withPkg, base]) {
        await d.create(s);
        await d.start(s.name);
      }
      assert.equal((await d.exec(withPkg.name, ['dpkg-query', '-W', pkg])).exitCode, 0, `${pkg} is installed`);
      assert.notEqual((await d.exec(base.name, ['dpkg-query', '-W', pkg])).exitCode, 0, `${pkg} is not in the base image`);
      await d.destroy(withPkg.name);
      await d.destroy(base.name);
    });

    void test('packages for a template that takes none are refused with invalid_packages before anything is made', async () => {
      const s: ContainerSpec = { ...spec(), packages: ['nginx'] };
      await assert.rejects(d.create(s), rejectsWith('invalid_packages'));
      assert.equal(await d.state(s.name), 'absent');
      await assert.rejects(d.create({ ...spec(), template: 'debian', packages: ['--force-yes'] }), rejectsWith('invalid_packages'));
    });

    void test('an aborted signal rejects the operation with its reason', async () => {
      const s = spec();
      const reason = new Error('caller gave up');
      const signal = AbortSignal.abort(reason);
      await assert.rejects(d.create(s, { signal }), (e) => e === reason);
      assert.equal(await d.state(s.name), 'absent');
    });
  });
}
