// A sliver's disk is bounded for real (issue 9): on real LXC and real loop
// mounts, a sliver that fills its disk gets "No space left on device" inside
// while its neighbour still writes and the host holds no more than its
// diskMb; the bound and the data survive a stop, a start and an unmount
// behind the driver's back; a crash mid-create is repaired; destroy leaves
// no mount and no loop device. Needs root, lxc, busybox-static, e2fsprogs.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { DISK_IMAGE, OVERLAY_DIR, parseMountPoints, unmountAllBelow } from '../../../src/virt/disk.js';
import type { ContainerSpec, Driver } from '../../../src/virt/driver.js';
import { createLxcDriver } from '../../../src/virt/lxc.js';
import { MARKER_FILE } from '../../../src/virt/marker.js';
import { CONTRACT_LIMITS } from '../../contract/driver.contract.js';
import { until } from '../../support/until.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;

async function mountsBelow(root: string): Promise<string[]> {
  return parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).filter((p) => p.startsWith(`${root}/`));
}

/** Loop devices whose backing file is below `root` (deleted ones included: losetup shows them with "(deleted)"). */
async function loopsBelow(root: string): Promise<string[]> {
  const { stdout } = await run('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout.split('\n').filter((l) => l.includes(`${root}/`));
}

/** Host bytes the image really takes (it is sparse). */
async function allocatedBytes(path: string): Promise<number> {
  await run('sync', []);
  return (await stat(path)).blocks * 512;
}

void describe('a sliver disk on real LXC', { concurrency: true }, () => {
  let lxcPath: string;
  let d: Driver;
  const runTag = randomBytes(3).toString('hex');
  let n = 0;
  const spec = (diskMb: number): ContainerSpec => ({ name: `hd-${runTag}-${++n}`, template: 'busybox', limits: { ...CONTRACT_LIMITS, diskMb } });
  const sh = async (name: string, script: string): Promise<{ exitCode: number; out: string }> => {
    const r = await d.exec(name, ['sh', '-c', script]);
    return { exitCode: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  const overlayOf = (name: string): string => join(lxcPath, name, OVERLAY_DIR);

  before(async () => {
    lxcPath = await mkdtemp(join(tmpdir(), 'hearth-disk-test-'));
    await chmod(lxcPath, 0o755);
    d = createLxcDriver({ lxcPath });
  });
  after(async () => {
    for (const c of await d.list().catch(() => [])) await d.destroy(c.name).catch(() => undefined);
    await unmountAllBelow(lxcPath);
    await rm(lxcPath, { recursive: true, force: true });
  });

  void test('a sliver that fills its disk gets ENOSPC; its neighbour still writes; the host holds at most diskMb', async () => {
    const full = spec(16);
    const neighbour = spec(16);
    for (const s of [full, neighbour]) {
      await d.create(s);
      await d.start(s.name);
    }
    const dd = await sh(full.name, 'dd if=/dev/zero of=/big bs=1M count=64');
    assert.notEqual(dd.exitCode, 0);
    assert.match(dd.out, /No space left on device/);
    assert.equal((await sh(neighbour.name, 'dd if=/dev/zero of=/mine bs=1M count=8 && echo wrote')).out.match(/wrote/)?.[0], 'wrote');

    // What the host gives the full sliver is its image's allocated blocks: never past diskMb.
    const image = join(lxcPath, full.name, DISK_IMAGE);
    const held = await allocatedBytes(image);
    assert.ok(held <= 16 * MIB && held > 8 * MIB, `image holds ${held} bytes`);
    const stats = await d.stats(full.name);
    assert.ok(stats.diskLimitBytes <= 16 * MIB && stats.diskBytes > 0.9 * stats.diskLimitBytes, JSON.stringify(stats));

    // Deleting gives the space back, inside and (discard) to the host.
    const again = await sh(full.name, 'rm /big && dd if=/dev/zero of=/small bs=1M count=4 && echo wrote');
    assert.match(again.out, /wrote/);
    assert.ok((await allocatedBytes(image)) < held, 'the deleted blocks went back to the host');
    for (const s of [full, neighbour]) await d.destroy(s.name);
  });

  void test('the data and the bound survive stop, start and an unmount behind the driver\'s back', async () => {
    const s = spec(16);
    await d.create(s);
    await d.start(s.name);
    assert.equal((await sh(s.name, 'echo kept > /keep')).exitCode, 0);
    await d.stop(s.name, { timeoutSec: 0 });
    await d.start(s.name);
    assert.equal((await sh(s.name, 'cat /keep')).out, 'kept\n');

    // As after a reboot: stopped, the disk not mounted. The next start mounts it again.
    await d.stop(s.name, { timeoutSec: 0 });
    await run('umount', [overlayOf(s.name)]);
    assert.deepEqual(await mountsBelow(join(lxcPath, s.name)), []);
    assert.equal(await d.state(s.name), 'stopped');
    await d.start(s.name);
    assert.deepEqual(await mountsBelow(join(lxcPath, s.name)), [overlayOf(s.name)]);
    assert.equal((await sh(s.name, 'cat /keep')).out, 'kept\n');
    assert.match((await sh(s.name, 'dd if=/dev/zero of=/big bs=1M count=64')).out, /No space left on device/);
    await d.destroy(s.name);
  });

  void test('a disk a host crash left marked with errors is repaired by e2fsck before the next start', async () => {
    const s = spec(16);
    await d.create(s);
    await d.start(s.name);
    assert.equal((await sh(s.name, 'echo kept > /keep')).exitCode, 0);
    await d.stop(s.name, { timeoutSec: 0 });
    await run('umount', [overlayOf(s.name)]);
    const image = join(lxcPath, s.name, DISK_IMAGE);
    const read = async (): Promise<string> => /^Filesystem state:\s*(.*)$/m.exec((await run('dumpe2fs', ['-h', image])).stdout)?.[1] ?? '';
    // Once the killed container's mount namespace is gone, the last unmount writes the superblock: until then it reads "not clean".
    const state = (): Promise<string> => until(`${s.name}'s filesystem to be unmounted everywhere`, async () => {
      const now = await read();
      return now === 'not clean' ? undefined : now;
    }, 10_000, 100);
    assert.equal(await state(), 'clean');
    await run('tune2fs', ['-E', 'force_fsck', image]); // what the kernel does when it meets an error
    assert.match(await state(), /with errors/);
    await d.start(s.name);
    assert.equal((await sh(s.name, 'cat /keep')).out, 'kept\n');
    await d.stop(s.name, { timeoutSec: 0 });
    await run('umount', [overlayOf(s.name)]);
    assert.equal(await state(), 'clean', 'checked and repaired before the mount');
    await d.destroy(s.name);
  });

  void test('a crash mid-create, before or after the mount, is repaired by the next create', async () => {
    for (const mounted of [false, true]) {
      const s = spec(16);
      await d.create(s);
      // What a kill -9 between mkfs and the marker leaves: the image, mounted or not, and no marker.
      if (!mounted) await run('umount', [overlayOf(s.name)]);
      await unlink(join(lxcPath, s.name, MARKER_FILE));
      assert.equal(await d.state(s.name), 'incomplete');
      await d.create(s);
      assert.equal(await d.state(s.name), 'stopped');
      assert.deepEqual(await mountsBelow(join(lxcPath, s.name)), [overlayOf(s.name)], 'mounted exactly once');
      assert.equal((await loopsBelow(join(lxcPath, s.name))).length, 1, 'one loop device');
      await d.start(s.name);
      assert.match((await sh(s.name, 'dd if=/dev/zero of=/big bs=1M count=64')).out, /No space left on device/);
      await d.destroy(s.name);
    }
  });

  void test('destroy leaves no mount and no loop device, also for a running sliver', async () => {
    const stopped = spec(16);
    const running = spec(32);
    await d.create(stopped);
    await d.create(running);
    await d.start(running.name);
    assert.equal((await loopsBelow(lxcPath)).filter((l) => l.includes(stopped.name) || l.includes(running.name)).length, 2);
    for (const s of [stopped, running]) await d.destroy(s.name);
    for (const s of [stopped, running]) {
      assert.deepEqual(await mountsBelow(join(lxcPath, s.name)), []);
      assert.deepEqual(await loopsBelow(join(lxcPath, s.name)), []);
      assert.equal(await d.state(s.name), 'absent');
    }
  });

  void test('a disk too small for a filesystem is refused as a request fault, and nothing is made', async () => {
    const s = spec(8);
    await assert.rejects(d.create(s), (e) => e instanceof HearthError && e.code === 'invalid_resources');
    assert.equal(await d.state(s.name), 'absent');
  });
});
