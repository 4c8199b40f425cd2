// Shifting a rootfs into the id map: ids go up by the base, setuid and
// setgid survive chown, ids the map cannot hold are refused, links are not
// followed, hard links are shifted once.

import assert from 'node:assert/strict';
import { chmod, link, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HearthError } from '../../../src/model/errors.js';
import { modeToRestore, shiftOwnership, shiftedIds } from '../../../src/virt/idshift.js';

const map = { uid: 100000, gid: 200000, count: 65536 };

test('ids go up by the base; an id the map cannot hold is refused', () => {
  assert.deepEqual(shiftedIds(0, 0, map), { uid: 100000, gid: 200000 });
  assert.deepEqual(shiftedIds(65534, 42, map), { uid: 165534, gid: 200042 });
  assert.throws(() => shiftedIds(65536, 0, map), (e: unknown) => e instanceof HearthError && e.code === 'image_build_failed');
  assert.throws(() => shiftedIds(0, 100000, map), HearthError);
});

test('setuid and setgid bits are put back; plain modes and links are left alone', () => {
  assert.equal(modeToRestore(0o104755, false), 0o4755);
  assert.equal(modeToRestore(0o102755, false), 0o2755);
  assert.equal(modeToRestore(0o100755, false), null);
  assert.equal(modeToRestore(0o120777, true), null);
});

test('a tree is shifted whole: setuid kept, symlinks not followed, hard links once', { skip: process.getuid?.() !== 0 ? 'needs root (chown)' : false }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'hearth-idshift-'));
  const outside = await mkdtemp(join(tmpdir(), 'hearth-idshift-outside-'));
  try {
    await mkdir(join(root, 'usr', 'bin'), { recursive: true });
    await writeFile(join(root, 'usr', 'bin', 'su'), '');
    await chmod(join(root, 'usr', 'bin', 'su'), 0o4755);
    await writeFile(join(root, 'usr', 'bin', 'perl'), '');
    await link(join(root, 'usr', 'bin', 'perl'), join(root, 'usr', 'bin', 'perl5'));
    await symlink(outside, join(root, 'escape'));
    const changed = await shiftOwnership(root, map);
    assert.equal(changed, 6, 'root, usr, bin, su, perl (once), the link');
    for (const p of ['', 'usr', 'usr/bin', 'usr/bin/su', 'usr/bin/perl5', 'escape']) {
      const st = await lstat(join(root, p));
      assert.deepEqual([st.uid, st.gid], [100000, 200000], p);
    }
    assert.equal((await stat(join(root, 'usr', 'bin', 'su'))).mode & 0o7777, 0o4755);
    const out = await stat(outside);
    assert.deepEqual([out.uid, out.gid], [0, 0], 'the symlink target outside is untouched');
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  }
});
