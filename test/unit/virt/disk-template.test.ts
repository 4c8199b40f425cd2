// The pure parts of disk templates (disk-template.ts): reading filefrag's
// extents, the template file and its checks, the names templates go by,
// and a disk written from one.

import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeTemplate, encodeTemplate, parseExtents, templateName, writeFromTemplate, type DiskTemplate } from '../../../src/virt/disk-template.js';

// `filefrag -s -e -b512` of a fresh 16 MiB sliver disk (e2fsprogs 1.47), shortened.
const FILEFRAG = `Filesystem type is: ef53
File size of disk.img is 16777216 (32768 blocks of 512 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..    2063:   69173248..  69175311:   2064:            
   1:     2176..    2191:   69175424..  69175439:     16:            
   2:    67848..   67887:   68962848..  68962887:     40:   69241096:
   3:    32640..   32767:    8619856..   8619983:    128:    8888304: last,unwritten,eof
disk.img: 4 extents found
`;

const MAP = { uid: 100000, gid: 100000, count: 65536 };

void test('the extents holding data are read from filefrag, in bytes; unwritten ones (zeros) are left out', () => {
  assert.deepEqual(parseExtents(FILEFRAG), [
    { offset: 0, length: 2064 * 512 },
    { offset: 2176 * 512, length: 16 * 512 },
    { offset: 67848 * 512, length: 40 * 512 },
  ]);
  assert.deepEqual(parseExtents('File size of x is 0\n ext:     logical_offset:        physical_offset: length:   expected: flags:\nx: 0 extents found\n'), []);
});

void test('output that is not the extent table, or does not add up, gives no extents rather than a wrong template', () => {
  assert.equal(parseExtents('filefrag: FIEMAP not supported\nx: 5 extents found\n'), null);
  assert.equal(parseExtents(FILEFRAG.replace('2064:', '2065:')), null, 'a length that disagrees with its range');
  assert.equal(parseExtents(FILEFRAG.replace('   1:     2176..', '   1:     garbled')), null);
});

const sample = (): DiskTemplate => ({
  imageBytes: 16 * 1024 * 1024,
  chunks: [
    { offset: 0, data: Buffer.alloc(4096, 0xab) },
    { offset: 1024 * 1024, data: Buffer.from('superblock backup') },
    { offset: 16 * 1024 * 1024 - 512, data: Buffer.alloc(512, 1) },
  ],
});

void test('a template file reads back as written', () => {
  const t = sample();
  assert.deepEqual(decodeTemplate(encodeTemplate(t)), t);
  assert.deepEqual(decodeTemplate(encodeTemplate({ imageBytes: 1 << 20, chunks: [] })), { imageBytes: 1 << 20, chunks: [] });
});

void test('a template cut short, with a changed byte, or of another format is not used', () => {
  const file = encodeTemplate(sample());
  for (const cut of [0, 10, 40, file.length - 33, file.length - 1]) assert.equal(decodeTemplate(file.subarray(0, cut)), null, `cut at ${cut}`);
  for (const at of [0, 30, 60, file.length - 100, file.length - 1]) {
    const changed = Buffer.from(file);
    changed[at] = (changed[at] as number) ^ 0x40;
    assert.equal(decodeTemplate(changed), null, `byte ${at} changed`);
  }
  assert.equal(decodeTemplate(Buffer.concat([file, Buffer.alloc(8)])), null, 'trailing bytes');
});

void test('templates are told apart by size, id map and mkfs options, and their names are stable', () => {
  const name = templateName(256, MAP);
  assert.match(name, /^ext4-256M-100000-100000-[0-9a-f]{12}$/);
  assert.equal(templateName(256, { ...MAP }), name);
  assert.notEqual(templateName(512, MAP), name);
  assert.notEqual(templateName(256, { ...MAP, uid: 200000 }), name);
  assert.notEqual(templateName(256, { ...MAP, gid: 200000 }), name);
});

void test('a disk written from a template is sparse, of the full size, with each chunk in its place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-disk-template-'));
  try {
    const image = join(dir, 'disk.img');
    // Over a half-made earlier disk, as a redone create does.
    const old = await open(image, 'w');
    await old.write(Buffer.alloc(64 * 1024, 0xff), 0, 64 * 1024, 8 * 1024 * 1024);
    await old.close();
    const t = sample();
    await writeFromTemplate(image, t);
    const st = await stat(image);
    assert.equal(st.size, t.imageBytes);
    assert.ok(st.blocks * 512 <= 64 * 1024, `sparse: ${st.blocks * 512} bytes held`);
    const bytes = await readFile(image);
    for (const c of t.chunks) assert.ok(bytes.subarray(c.offset, c.offset + c.data.length).equals(c.data));
    assert.ok(bytes.subarray(8 * 1024 * 1024, 8 * 1024 * 1024 + 64 * 1024).equals(Buffer.alloc(64 * 1024)), 'nothing of the old disk is left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

