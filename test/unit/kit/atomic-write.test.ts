import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeAbandonedTemporaries, writeFileAtomic, writeFileAtomicSync } from '../../../src/kit/atomic-write.js';
import { spawnSync } from 'node:child_process';

const variants = [
  ['async', (path: string, data: string, mode: number) => writeFileAtomic(path, data, { mode })],
  ['sync', async (path: string, data: string, mode: number) => writeFileAtomicSync(path, data, { mode })],
] as const;

for (const [name, write] of variants) {
  void describe(`atomic write (${name})`, () => {
    const scratch = (t: { after: (fn: () => void) => void }): string => {
      const dir = mkdtempSync(join(tmpdir(), 'hearth-atomic-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    };

    void test('writes the content with exactly the mode asked, whatever the umask', async (t) => {
      const dir = scratch(t);
      const old = process.umask(0o077);
      try {
        await write(join(dir, 'cert.pem'), 'certificate\n', 0o644);
      } finally {
        process.umask(old);
      }
      assert.equal(readFileSync(join(dir, 'cert.pem'), 'utf8'), 'certificate\n');
      assert.equal(statSync(join(dir, 'cert.pem')).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(dir), ['cert.pem'], 'no temporary file left');
    });

    void test('replaces an existing file whole, mode included', async (t) => {
      const dir = scratch(t);
      const path = join(dir, 'config.json');
      writeFileSync(path, 'a much longer old content that must not show through\n', { mode: 0o644 });
      // A reader that opened the old file keeps reading the old file: it is replaced, not written in place.
      linkSync(path, join(dir, 'reader'));
      await write(path, '{}\n', 0o600);
      assert.equal(readFileSync(path, 'utf8'), '{}\n');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(dir, 'reader'), 'utf8'), 'a much longer old content that must not show through\n');
      assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'reader']);
    });

    void test('a failed write leaves no temporary file behind', async (t) => {
      const dir = scratch(t);
      // A directory in the target's place: the rename fails after the temporary file was written.
      mkdirSync(join(dir, 'taken'));
      await assert.rejects(write(join(dir, 'taken'), 'x', 0o600), { code: 'EISDIR' });
      assert.deepEqual(readdirSync(dir), ['taken']);
      await assert.rejects(write(join(dir, 'no-such-dir', 'file'), 'x', 0o600), { code: 'ENOENT' });
    });
  });
}

void test('an aborted signal writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const why = new Error('stopped');
  await assert.rejects(writeFileAtomic(join(dir, 'f'), 'x', { mode: 0o600, signal: AbortSignal.abort(why) }), (err) => err === why);
  assert.deepEqual(readdirSync(dir), []);
});

void describe('removeAbandonedTemporaries', () => {
  test('removes the temporary files of dead processes only: a live process\'s and other files stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-abandoned-'));
    try {
      const dead = spawnSync('true').pid as number;
      for (const name of [`.a.tmp-${dead}-0badc0de`, `.b.tmp-${process.pid}-00ff00ff`, `.c.tmp-1-deadbeef`, 'd', `.e.tmp-${dead}`]) writeFileSync(join(dir, name), 'x');
      await removeAbandonedTemporaries(dir);
      assert.deepEqual(readdirSync(dir).sort(), [`.b.tmp-${process.pid}-00ff00ff`, `.c.tmp-1-deadbeef`, 'd', `.e.tmp-${dead}`].sort());
      await removeAbandonedTemporaries(join(dir, 'absent'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
