// Disk templates on real e2fsprogs and a real loop mount (issue 9): the first
// disk of a size is formatted and saved as a template; the next one is that
// template, byte for byte, a clean filesystem owned by the container's root
// and still a hard bound; a half-made or damaged template is never used but
// made again; a template of another size or id map is not taken. Needs root
// and e2fsprogs.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { decodeTemplate, createDiskMaker, TEMPLATES_DIR, templateName } from '../../../src/virt/disk-template.js';
import { unmountAllBelow } from '../../../src/virt/disk.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const MAP = { uid: 100000, gid: 100000, count: 65536 };

const uuidOf = async (image: string): Promise<string> => /^Filesystem UUID:\s*(\S+)$/m.exec((await run('dumpe2fs', ['-h', image])).stdout)?.[1] ?? '';

void describe('disk templates', () => {
  let lxcPath: string;
  let n = 0;
  /** A container directory's disk path, as the driver makes it. */
  const disk = async (): Promise<string> => {
    const dir = join(lxcPath, `c${++n}`);
    await mkdir(dir);
    return join(dir, 'disk.img');
  };
  const templatePath = (diskMb: number, map = MAP): string => join(lxcPath, TEMPLATES_DIR, templateName(diskMb, map));

  before(async () => {
    lxcPath = await mkdtemp(join(tmpdir(), 'hearth-disk-template-test-'));
  });
  after(async () => {
    await unmountAllBelow(lxcPath);
    await rm(lxcPath, { recursive: true, force: true });
  });

  void test('the first disk of a size is formatted and saved; the next is the template, byte for byte, and a hard bound', async () => {
    const maker = createDiskMaker({ lxcPath, idmap: MAP });
    const first = await disk();
    await maker.make(first, 24);
    const template = decodeTemplate(await readFile(templatePath(24)));
    assert.ok(template !== null && template.imageBytes === 24 * MIB);
    const held = template.chunks.reduce((s, c) => s + c.data.length, 0);
    assert.ok(held > 0 && held < 4 * MIB, `the template holds ${held} bytes`);

    const second = await disk();
    await maker.make(second, 24);
    assert.ok((await readFile(first)).equals(await readFile(second)), 'the same bytes as the formatted one');
    assert.equal((await stat(second)).size, 24 * MIB);
    // A clean filesystem (-f: checked even so), the root owned by the container's root.
    await run('e2fsck', ['-fn', second]);
    assert.match((await run('debugfs', ['-R', 'stat /', second])).stdout, /User:\s+100000\s+Group:\s+100000/);

    // Still a hard bound: writing past it fails inside, and the host holds at most its size.
    const mnt = join(lxcPath, 'mnt');
    await mkdir(mnt);
    await run('mount', ['-t', 'ext4', '-o', 'loop,discard', second, mnt]);
    try {
      await assert.rejects(run('dd', ['if=/dev/zero', `of=${join(mnt, 'big')}`, 'bs=1M', 'count=48']), /No space left on device/);
    } finally {
      await run('umount', [mnt]);
    }
    await run('sync', []);
    assert.ok((await stat(second)).blocks * 512 <= 24 * MIB);
  });

  void test('a half-made or damaged template is not used: the disk is formatted and the template made again', async () => {
    const maker = createDiskMaker({ lxcPath, idmap: MAP });
    const first = await disk();
    await maker.make(first, 20);
    const whole = await readFile(templatePath(20));
    // The temporary file of a save whose process was killed (its pid is gone now).
    const dead = spawn('true');
    await once(dead, 'exit');
    const abandoned = join(lxcPath, TEMPLATES_DIR, `.${templateName(20, MAP)}.tmp-${dead.pid}-0badc0de`);
    await writeFile(abandoned, whole.subarray(0, 100));
    for (const damage of [
      () => truncate(templatePath(20), Math.floor(whole.length / 2)), // what a crash mid-write would leave without the rename
      async () => {
        const changed = Buffer.from(whole);
        changed[100] = (changed[100] as number) ^ 1;
        await writeFile(templatePath(20), changed);
      },
    ]) {
      await damage();
      // As after a crash: a gateway started again reads the template anew (a running one keeps what it verified).
      const next = await disk();
      await createDiskMaker({ lxcPath, idmap: MAP }).make(next, 20);
      assert.notEqual(await uuidOf(next), await uuidOf(first), 'formatted, not copied');
      await run('e2fsck', ['-fn', next]);
      const remade = decodeTemplate(await readFile(templatePath(20)));
      assert.ok(remade !== null && remade.imageBytes === 20 * MIB, 'a whole template again');
      await writeFile(templatePath(20), whole);
    }
    // Neither the temporary files of the atomic writes nor what a save killed half way left stays beside the templates.
    assert.deepEqual((await readdir(join(lxcPath, TEMPLATES_DIR))).filter((f) => f.startsWith('.')), []);
  });

  void test('a template of another size or id map is not taken', async () => {
    const maker = createDiskMaker({ lxcPath, idmap: MAP });
    const a = await disk();
    await maker.make(a, 28);
    const b = await disk();
    await maker.make(b, 32);
    assert.notEqual(await uuidOf(a), await uuidOf(b));
    assert.equal((await stat(b)).size, 32 * MIB);
    const other = { uid: 300000, gid: 300000, count: 65536 };
    const c = await disk();
    await createDiskMaker({ lxcPath, idmap: other }).make(c, 28);
    assert.notEqual(await uuidOf(c), await uuidOf(a));
    assert.match((await run('debugfs', ['-R', 'stat /', c])).stdout, /User:\s+300000\s+Group:\s+300000/);
    await run('e2fsck', ['-fn', c]);
  });
});
