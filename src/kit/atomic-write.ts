// Replacing a file whole: written to a temporary file beside it with its
// mode, flushed to disk, renamed over the target, and the directory flushed,
// so neither a crash nor a power cut (home gateways get unplugged) leaves a
// truncated or half-written file, and a reader sees the old content or the
// new, never a mix. The sync variant is for callers that are synchronous
// throughout (the testbed's state file).
// A process killed mid-write does leave its temporary file: whoever writes
// into a directory can have those removed (removeAbandonedTemporaries).
// Must never: leave its temporary file behind when it fails, or write the
// target in place.

import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { pidExists } from './pid.js';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, set exactly (the umask does not narrow it). */
  mode: number;
  /** Checked before anything is written; once the write began it completes. */
  signal?: AbortSignal;
}

// Unique per call: two writers of one target in this process (two containers
// created at once write the same idmap file) must not share a temporary file.
function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Removes from `dir` the temporary files of writes whose process was killed
 * mid-write (a live process's, this one's included, are left alone).
 */
export async function removeAbandonedTemporaries(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/^\..*\.tmp-(\d+)-[0-9a-f]+$/.exec(entry)?.[1] ?? Number.NaN);
    if (pid > 0 && pid !== process.pid && !pidExists(pid)) await rm(join(dir, entry), { force: true });
  }
}

/** Replaces `path` with `data`, durably and all at once. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  options.signal?.throwIfAborted();
  const tmp = temporaryPath(path);
  try {
    const file = await open(tmp, 'wx', options.mode);
    try {
      await file.chmod(options.mode);
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  const parent = await open(dirname(path), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}

/** `writeFileAtomic` for synchronous callers. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: Pick<AtomicWriteOptions, 'mode'>): void {
  const tmp = temporaryPath(path);
  try {
    const fd = openSync(tmp, 'wx', options.mode);
    try {
      fchmodSync(fd, options.mode);
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const parent = openSync(dirname(path), 'r');
  try {
    fsyncSync(parent);
  } finally {
    closeSync(parent);
  }
}
