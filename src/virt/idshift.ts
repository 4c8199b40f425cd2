// Moves a root filesystem made by host root (debootstrap) into a container's
// id map: every file's owner and group go up by the map's base, so the
// container's root owns what host root owned. chown clears setuid and setgid
// bits, so those are put back. Hard links are shifted once (by inode).
// Must never: follow a symbolic link (lchown only, lstat only), or shift an
// id the map cannot hold (that would hand a file to a host user).
// Not kept: file capabilities (security.capability), which chown also drops;
// minbase with openssh-server has none.

import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../model/errors.js';
import type { IdMap } from './lxc-config.js';

/** The host ids a file owned by (uid, gid) inside the container has. */
export function shiftedIds(uid: number, gid: number, map: IdMap): { uid: number; gid: number } {
  if (uid >= map.count || gid >= map.count) {
    throw new HearthError('image_build_failed', `an id (${uid}:${gid}) is outside the container's id map of ${map.count}`, { uid, gid });
  }
  return { uid: map.uid + uid, gid: map.gid + gid };
}

/** The mode to write back after chown (it cleared setuid/setgid), or null when there is none to restore. */
export function modeToRestore(mode: number, isSymlink: boolean): number | null {
  return !isSymlink && (mode & 0o6000) !== 0 ? mode & 0o7777 : null;
}

const BATCH = 64;

/** Shift every entry under `root` (itself included); returns how many were changed. */
export async function shiftOwnership(root: string, map: IdMap, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const seen = new Set<string>();
  let changed = 0;
  const shiftOne = async (path: string): Promise<boolean> => {
    const st = await lstat(path);
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return false;
      seen.add(key);
    }
    const ids = shiftedIds(st.uid, st.gid, map);
    await lchown(path, ids.uid, ids.gid);
    const mode = modeToRestore(st.mode, st.isSymbolicLink());
    if (mode !== null) await chmod(path, mode);
    changed++;
    return st.isDirectory();
  };
  await shiftOne(root);
  const dirs = [root];
  while (dirs.length > 0) {
    opts.signal?.throwIfAborted();
    const dir = dirs.pop() as string;
    const entries = (await readdir(dir)).map((e) => join(dir, e));
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const isDir = await Promise.all(batch.map(shiftOne));
      batch.forEach((p, j) => {
        if (isDir[j]) dirs.push(p);
      });
    }
  }
  return changed;
}
