// The pure parts of a sliver's own disk: its size, where LXC's overlay keeps
// the upper directory, and reading mount points the kernel lists.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { diskImageBytes, MIN_DISK_MB, needsCheck, overlayDirOf, parseMountPoints } from '../../../src/virt/disk.js';

void test('the image is exactly diskMb MiB, and a disk too small for a filesystem is a request fault', () => {
  assert.equal(diskImageBytes(16), 16 * 1024 * 1024);
  assert.equal(diskImageBytes(256), 256 * 1024 * 1024);
  for (const bad of [MIN_DISK_MB - 1, 0, -5, Number.NaN]) {
    assert.throws(() => diskImageBytes(bad), (e) => e instanceof HearthError && e.code === 'invalid_resources' && e.status === 400);
  }
});

void test("the disk is mounted on the overlay directory holding the clone's upper and work directories", () => {
  const config = [
    'lxc.idmap = u 0 100000 65536',
    'lxc.rootfs.path = overlay:/var/lib/hearth/images/busybox-100000-100000-65536/rootfs:/d/containers/hearth-1/overlay/delta',
    'lxc.uts.name = hearth-1',
  ].join('\n');
  assert.equal(overlayDirOf(config, '/d/containers/hearth-1'), '/d/containers/hearth-1/overlay');
  assert.equal(overlayDirOf('lxc.rootfs.path=overlayfs:/img/rootfs:/c/x/overlay/delta\n', '/c/x'), '/c/x/overlay');
});

void test('a rootfs that is not an overlay with its upper directory in <container>/overlay is refused, not guessed', () => {
  for (const config of [
    'lxc.rootfs.path = dir:/c/x/rootfs',
    // Older LXC put delta0 in the container directory itself: mounting there would hide the config.
    'lxc.rootfs.path = overlay:/img/rootfs:/c/x/delta0',
    'lxc.rootfs.path = overlay:/img/rootfs:/c/other/overlay/delta',
    '',
  ]) {
    assert.throws(() => overlayDirOf(config, '/c/x'), (e) => e instanceof HearthError && e.code === 'driver_error', config);
  }
});

void test('mount points come out of mountinfo unescaped, a path mounted twice twice', () => {
  const mountinfo = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '301 22 7:3 / /data/containers/hearth-1/overlay rw,relatime shared:160 - ext4 /dev/loop3 rw,discard',
    '302 22 7:4 / /data/my\\040dir/overlay rw,relatime shared:161 - ext4 /dev/loop4 rw',
    '303 301 7:5 / /data/containers/hearth-1/overlay rw,relatime shared:162 - ext4 /dev/loop5 rw',
    '',
  ].join('\n');
  assert.deepEqual(parseMountPoints(mountinfo), ['/', '/data/containers/hearth-1/overlay', '/data/my dir/overlay', '/data/containers/hearth-1/overlay']);
});

void test('only a filesystem marked clean and without errors skips e2fsck before its mount', () => {
  const superblock = (magic: number, state: number): Buffer => {
    const b = Buffer.alloc(0x40);
    b.writeUInt16LE(magic, 0x38);
    b.writeUInt16LE(state, 0x3a);
    return b;
  };
  assert.equal(needsCheck(superblock(0xef53, 1)), false, 'clean');
  assert.equal(needsCheck(superblock(0xef53, 0)), true, 'left mounted by a crash (no journal)');
  assert.equal(needsCheck(superblock(0xef53, 3)), true, 'errors seen by the kernel');
  assert.equal(needsCheck(superblock(0x1234, 1)), true, 'not ext4: let e2fsck say so');
  assert.equal(needsCheck(Buffer.alloc(10)), true, 'a short image');
});
