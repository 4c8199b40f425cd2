// Base images on real LXC: built once however many ask at once, complete
// or absent (a build abandoned by a dead process is swept, a live one is
// left alone), and every clone an overlay snapshot that runs and writes only
// its own layer. Needs root, lxc, busybox-static and the subordinate ids.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildOwner, createImageStore, imageName } from '../../../src/virt/images.js';
import { DEFAULT_IDMAP } from '../../../src/virt/lxc-config.js';

const run = promisify(execFile);

describe('base images', () => {
  let root: string;
  let imagesDir: string;
  let lxcPath: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-images-test-'));
    await chmod(root, 0o755);
    imagesDir = join(root, 'images');
    lxcPath = join(root, 'containers');
    await mkdir(lxcPath, { mode: 0o755 });
  });

  after(async () => {
    for (const name of await readdir(lxcPath).catch(() => [])) {
      await run('lxc-stop', ['-P', lxcPath, '-n', name, '-k']).catch(() => undefined);
      await run('lxc-destroy', ['-P', lxcPath, '-n', name]).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
  });

  test('build directories are named by the pid that owns them', () => {
    assert.equal(buildOwner('.build-4242-0a1b2c3d'), 4242);
    assert.equal(buildOwner('busybox-100000-100000-65536'), null);
    assert.equal(buildOwner('.build-x-00'), null);
  });

  test('stores that ask at once get one complete image, and an abandoned build is swept', async () => {
    await mkdir(imagesDir, { recursive: true });
    // A build left by a process that no longer exists (pid 2^22 + 1 is above pid_max), and one by a live process.
    const dead = join(imagesDir, '.build-4194305-deadbeef');
    const live = join(imagesDir, `.build-${process.ppid}-cafe0000`);
    await mkdir(join(dead, 'half-made'), { recursive: true });
    await mkdir(live);
    const a = createImageStore({ dir: imagesDir, idmap: DEFAULT_IDMAP });
    const b = createImageStore({ dir: imagesDir, idmap: DEFAULT_IDMAP });
    const names = await Promise.all([a.ensure('busybox'), b.ensure('busybox'), a.ensure('busybox')]);
    const expected = imageName('busybox', DEFAULT_IDMAP);
    assert.deepEqual(names, [expected, expected, expected]);
    const entries = (await readdir(imagesDir)).sort();
    assert.deepEqual(entries, [`.build-${process.ppid}-cafe0000`, expected], 'the dead build is gone, the live one kept, nothing else left');
    const config = await readFile(join(imagesDir, expected, 'config'), 'utf8');
    assert.match(config, new RegExp(`lxc.rootfs.path = dir:${join(imagesDir, expected, 'rootfs')}\\n`));
    assert.doesNotMatch(config, /\.build-/);
    // The image's boot script no longer runs udhcpc (slivers are addressed by hearth).
    assert.doesNotMatch(await readFile(join(imagesDir, expected, 'rootfs', 'etc', 'init.d', 'rcS'), 'utf8'), /udhcpc/);
    await rm(live, { recursive: true });
  });

  test('a clone is an overlay snapshot that runs and writes only its own layer', async () => {
    const store = createImageStore({ dir: imagesDir, idmap: DEFAULT_IDMAP });
    await store.clone('busybox', lxcPath, 'imgclone1');
    await store.clone('busybox', lxcPath, 'imgclone2');
    const config = await readFile(join(lxcPath, 'imgclone1', 'config'), 'utf8');
    assert.match(config, new RegExp(`lxc.rootfs.path = overlay:${join(imagesDir, imageName('busybox', DEFAULT_IDMAP), 'rootfs')}:`));
    await run('lxc-start', ['-P', lxcPath, '-n', 'imgclone1']);
    await run('lxc-wait', ['-P', lxcPath, '-n', 'imgclone1', '-s', 'RUNNING', '-t', '10']);
    await run('lxc-attach', ['-P', lxcPath, '-n', 'imgclone1', '--', '/bin/sh', '-c', 'echo mine > /root/note']);
    const delta = join(lxcPath, 'imgclone1', 'overlay', 'delta', 'root', 'note');
    assert.equal(await readFile(delta, 'utf8'), 'mine\n');
    const inImage = join(imagesDir, imageName('busybox', DEFAULT_IDMAP), 'rootfs', 'root', 'note');
    await assert.rejects(stat(inImage), { code: 'ENOENT' }, 'the image is unchanged');
    await assert.rejects(stat(join(lxcPath, 'imgclone2', 'overlay', 'delta', 'root', 'note')), { code: 'ENOENT' }, 'the other clone is unchanged');
    await run('lxc-stop', ['-P', lxcPath, '-n', 'imgclone1', '-k']);
  });
});
