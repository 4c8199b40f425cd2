// A container's own filesystem, so that its `diskMb` is a hard bound: a
// sparse ext4 image `<container>/disk.img` of exactly diskMb MiB,
// loop-mounted on the directory that holds the overlay's upper (`delta`) and
// work (`work`) directories, which overlayfs needs on one filesystem. A
// sliver that writes past it gets ENOSPC inside; the host and its neighbours
// never see more than diskMb MiB of it, and only what it really wrote (the
// image is sparse and mounted with `discard`, so deleted files give their
// blocks back to the host).
//
// The image is made once by mkfs for each size and id map, and copied from
// a template after that (disk-template.ts).
//
// The mount is not durable (a reboot or an `umount` drops it): the driver
// calls `mountDisk` before every start, which checks the filesystem and
// mounts it again. The image has no journal (a few MiB of a small disk
// otherwise, written in full): after a host crash `e2fsck` repairs it before
// the mount. Loop devices come from `mount -o loop`, which sets autoclear:
// the device is freed with the last unmount.
// Must never: remove or format anything outside the container's directory,
// or let a container start with its upper directory on the host filesystem.

import { chown, mkdir, open, readFile, statfs } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HearthError } from '../model/errors.js';
import { RESOURCE_BOUNDS } from '../model/sliver.js';
import type { IdMap } from './lxc-config.js';
import { runLxc, runLxcStatus, tail } from './runner.js';

export const DISK_IMAGE = 'disk.img';
/** Where the disk is mounted in the container directory: LXC's overlay directory (see overlayDirOf). */
export const OVERLAY_DIR = 'overlay';
const MIB = 1024 * 1024;
/** The smallest disk a sliver may have: ext4 needs room for its metadata and a sliver for its writes. */
export const MIN_DISK_MB = RESOURCE_BOUNDS.diskMb.min;

export interface DiskUsage {
  /** Bytes in use on the sliver's filesystem, as `df` inside it shows. */
  usedBytes: number;
  /** The filesystem's size as `df` shows it: the image less ext4's fixed metadata. */
  totalBytes: number;
}

/** The image's size for a limit, refusing one too small to hold a filesystem. */
export function diskImageBytes(diskMb: number): number {
  if (!Number.isFinite(diskMb) || diskMb < MIN_DISK_MB) {
    throw new HearthError('invalid_resources', `diskMb must be at least ${MIN_DISK_MB}, got ${diskMb}`, { field: 'diskMb' });
  }
  return Math.floor(diskMb) * MIB;
}

/**
 * The directory to mount the disk on: the parent of the overlay's upper
 * directory, which LXC's overlay storage (`lxc-copy -s -B overlayfs`) lays out
 * as `<container>/overlay/{delta,work}`. Refuses another layout rather than
 * guess, since mounting over the container directory would hide its config.
 */
export function overlayDirOf(config: string, containerDir: string): string {
  const line = config.split('\n').map((l) => /^\s*lxc\.rootfs\.path\s*=\s*(.*?)\s*$/.exec(l)).filter((m) => m !== null).at(-1);
  const value = line?.[1] ?? '';
  // overlay:<lower>:<upper> (LXC also accepts the older `overlayfs:` prefix).
  const m = /^overlay(?:fs)?:[^:]+:([^:]+)$/.exec(value);
  const expected = join(containerDir, OVERLAY_DIR);
  if (!m || dirname(m[1] as string) !== expected) {
    throw new HearthError('driver_error', `unexpected rootfs layout ${JSON.stringify(value)}: want an overlay whose upper directory is in ${expected}`, { containerDir });
  }
  return expected;
}

// The ext4 superblock starts 1024 bytes in; its magic and state fields (linux/fs/ext4/ext4.h).
const SUPERBLOCK_OFFSET = 1024;
const SUPERBLOCK_READ = 0x40;
const EXT4_MAGIC = 0xef53;
const STATE_VALID = 0x1;
const STATE_ERRORS = 0x2;

/**
 * Whether a filesystem needs `e2fsck` before its mount, from the start of its
 * superblock: one without a journal is marked not valid while mounted, so a
 * host crash leaves it that way, and the kernel marks errors it met. A clean
 * one needs none, which saves starting e2fsck (tens of ms) on every start.
 */
export function needsCheck(superblock: Buffer): boolean {
  if (superblock.length < SUPERBLOCK_READ || superblock.readUInt16LE(0x38) !== EXT4_MAGIC) return true;
  const state = superblock.readUInt16LE(0x3a);
  return (state & STATE_VALID) === 0 || (state & STATE_ERRORS) !== 0;
}

async function readSuperblock(image: string): Promise<Buffer> {
  let file: FileHandle | undefined;
  try {
    file = await open(image, 'r').catch((e: unknown) => {
      throw new HearthError('driver_error', `the disk image ${image} cannot be opened: ${String(e)}`, { image }, { cause: e });
    });
    const buf = Buffer.alloc(SUPERBLOCK_READ);
    const { bytesRead } = await file.read(buf, 0, SUPERBLOCK_READ, SUPERBLOCK_OFFSET);
    return buf.subarray(0, bytesRead);
  } finally {
    await file?.close();
  }
}

/** Undo the octal escapes (`\040` for a space) of /proc/*\/mountinfo paths. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mount points listed in a /proc/<pid>/mountinfo text, in order (a path mounted twice appears twice). */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo.split('\n').flatMap((line) => {
    const field = line.split(' ')[4];
    return field === undefined ? [] : [unescapeMountPath(field)];
  });
}

async function mountCount(path: string): Promise<number> {
  return parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).filter((p) => p === path).length;
}

export function isMounted(path: string): Promise<boolean> {
  return mountCount(path).then((n) => n > 0);
}

/** mkfs.ext4's options for a sliver's disk (the image path follows them); disk-template.ts names its templates by them. */
export function mkfsArgs(idmap: IdMap): string[] {
  // -m 0: no blocks kept for root, the sliver's root is the only user. No journal (see the top).
  return ['-q', '-F', '-m', '0', '-O', '^has_journal', '-E', `root_owner=${idmap.uid}:${idmap.gid}`];
}

/**
 * Make the sparse image `image` and its filesystem, its root owned by the
 * container's root. Overwrites a half-made one. The driver calls it through
 * disk-template.ts, which formats only the first disk of a size.
 */
export async function makeDisk(image: string, diskMb: number, idmap: IdMap, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const bytes = diskImageBytes(diskMb);
  const file = await open(image, 'w', 0o600);
  try {
    await file.truncate(bytes);
  } finally {
    await file.close();
  }
  await runLxc('mkfs.ext4', [...mkfsArgs(idmap), image], opts);
}

/**
 * Mount the container's disk on its overlay directory unless it is mounted,
 * repairing the filesystem first (after a host crash), and make sure the
 * upper and work directories exist on it, owned by the container's root.
 */
export async function mountDisk(containerDir: string, overlayDir: string, idmap: IdMap, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const image = join(containerDir, DISK_IMAGE);
  if (!(await isMounted(overlayDir))) {
    if (needsCheck(await readSuperblock(image))) {
      // -p repairs what is safe to repair without asking; 1 and 2 mean it did.
      let checked = await runLxcStatus('e2fsck', ['-p', image], opts);
      if (checked.code > 2) checked = await runLxcStatus('e2fsck', ['-y', image], opts);
      if (checked.code > 2) {
        throw new HearthError('driver_error', `the disk of ${containerDir} is damaged beyond repair: ${tail(checked.stdout + checked.stderr)}`, { tool: 'e2fsck', exitCode: checked.code });
      }
    }
    await runLxc('mount', ['-t', 'ext4', '-o', 'loop,discard', image, overlayDir], opts);
  }
  for (const sub of ['delta', 'work']) {
    const path = join(overlayDir, sub);
    await mkdir(path, { mode: 0o755, recursive: true });
    await chown(path, idmap.uid, idmap.gid);
  }
}

/** Unmount the disk, lazily if something holds it (the loop device goes with the last user). Idempotent. */
export async function unmountDisk(overlayDir: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
  // A path mounted twice (by hand, or a lost race) needs one umount per mount.
  for (let n = await mountCount(overlayDir); n > 0; n--) {
    const plain = await runLxcStatus('umount', [overlayDir], opts);
    if (plain.code !== 0) await runLxc('umount', ['-l', overlayDir], opts);
  }
}

/**
 * Lazily unmount everything mounted below `root`, deepest first: for whoever
 * removes a whole data directory whose slivers were not destroyed one by one
 * (the testbed's down, test sweeps), so that the delete neither fails on a
 * mount point nor reaches into a filesystem. Returns how many it unmounted.
 */
export async function unmountAllBelow(root: string): Promise<number> {
  const below = parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).filter((p) => p.startsWith(`${root}/`));
  for (const path of below.sort((a, b) => b.length - a.length)) await runLxcStatus('umount', ['-l', path]);
  return below.length;
}

/** What the mounted disk holds; null when it is not mounted (after a reboot, before the next start). */
export async function readDiskUsage(overlayDir: string): Promise<DiskUsage | null> {
  if (!(await isMounted(overlayDir))) return null;
  const fs = await statfs(overlayDir);
  return { usedBytes: (fs.blocks - fs.bfree) * fs.bsize, totalBytes: fs.blocks * fs.bsize };
}
