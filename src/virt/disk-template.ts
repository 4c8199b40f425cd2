// Sliver disks written from a template instead of formatted one by one:
// every fresh filesystem disk.ts makes for one size and id map is the same
// but for its UUID and times, and `mkfs.ext4` costs a process and tens of ms
// on each create. So the first disk of a (size, id map, mkfs options) is
// formatted by makeDisk in its own container's directory, and before
// anything mounts it, the blocks mkfs wrote (`filefrag` lists them: the
// superblock and its backups, group descriptors, bitmaps, the root and
// lost+found: about 1.1 MiB for 2 GiB, 5 MiB for 64 GiB) are saved as a
// template file in `<lxcPath>/.disks/`. A later disk of that kind is a
// sparse file of the size with those blocks written into it and flushed,
// all in this process.
// Such disks share the template's UUID, which nothing mounts them by.
//
// A template is written atomically (a temporary file, fsync, rename) and
// ends in the sha256 of what precedes it: one a crash cut short or a damaged
// disk changed is never used, but removed and made again from the next
// mkfs; what a process killed while saving one left is removed by the next
// save. Templates are small and kept for the gateway's life (one per disk
// size in use). Failing to save one costs only speed: the disk is formatted.
// Must never: format anything itself, or write a disk from a template it has
// not verified whole.

import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeAbandonedTemporaries, writeFileAtomic } from '../kit/atomic-write.js';
import { silentLogger, type Logger } from '../model/logger.js';
import { diskImageBytes, makeDisk, mkfsArgs } from './disk.js';
import type { IdMap } from './lxc-config.js';
import { runLxc } from './runner.js';

/** Where a driver keeps its templates, in its lxcpath (dot entries are not containers). */
export const TEMPLATES_DIR = '.disks';
const MAGIC = Buffer.from('hearth disk template 1\n');
const HASH_BYTES = 32;
/** A disk whose filesystem metadata is larger than this (many TiB) is formatted each time: its template would not be small. */
export const MAX_TEMPLATE_BYTES = 64 * 1024 * 1024;

/** Bytes `data` at `offset` of an image of `imageBytes`. */
export interface TemplateChunk {
  offset: number;
  data: Buffer;
}

export interface DiskTemplate {
  imageBytes: number;
  chunks: TemplateChunk[];
}

/** The template file's name for a disk: its size, the id map its root is owned by and the mkfs options, hashed. */
export function templateName(diskMb: number, idmap: IdMap): string {
  const options = createHash('sha256').update(JSON.stringify(mkfsArgs(idmap))).digest('hex').slice(0, 12);
  return `ext4-${diskImageBytes(diskMb) / (1024 * 1024)}M-${idmap.uid}-${idmap.gid}-${options}`;
}

/**
 * The byte ranges holding data in `filefrag -e -b512` output, in order;
 * unwritten extents (allocated, read as zeros) are left out. Null when the
 * output is not that table (another tool version): no template then.
 */
export function parseExtents(output: string): Array<{ offset: number; length: number }> | null {
  const lines = output.split('\n');
  const header = lines.findIndex((l) => /^\s*ext:\s+logical_offset:/.test(l));
  if (header < 0) return null;
  const extents: Array<{ offset: number; length: number }> = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '' || /extents? found$/.test(line.trim())) continue;
    // "  3:    67848..   67887:   68962848..  68962887:     40:   69241096: last,unwritten,eof"
    const m = /^\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*\d+\.\.\s*\d+:\s*(\d+):(.*)$/.exec(line);
    if (!m) return null;
    const [first, last, length] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (last - first + 1 !== length) return null;
    if (/\bunwritten\b/.test(m[4] as string)) continue;
    extents.push({ offset: first * 512, length: length * 512 });
  }
  return extents;
}

/** The template as a file: magic, image size, chunk table, the chunks' bytes, and the sha256 of all that. */
export function encodeTemplate(t: DiskTemplate): Buffer {
  const head = Buffer.alloc(8 + 4 + t.chunks.length * 12);
  head.writeBigUInt64LE(BigInt(t.imageBytes), 0);
  head.writeUInt32LE(t.chunks.length, 8);
  t.chunks.forEach((c, i) => {
    head.writeBigUInt64LE(BigInt(c.offset), 12 + i * 12);
    head.writeUInt32LE(c.data.length, 20 + i * 12);
  });
  const body = Buffer.concat([MAGIC, head, ...t.chunks.map((c) => c.data)]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** The template a file holds, or null when it is not one whole and intact (cut short, damaged, another format). */
export function decodeTemplate(file: Buffer): DiskTemplate | null {
  if (file.length < MAGIC.length + 12 + HASH_BYTES || !file.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const body = file.subarray(0, file.length - HASH_BYTES);
  if (!createHash('sha256').update(body).digest().equals(file.subarray(file.length - HASH_BYTES))) return null;
  let at = MAGIC.length;
  const imageBytes = Number(body.readBigUInt64LE(at));
  const count = body.readUInt32LE(at + 8);
  at += 12;
  if (at + count * 12 > body.length) return null;
  const table = Array.from({ length: count }, (_, i) => ({ offset: Number(body.readBigUInt64LE(at + i * 12)), length: body.readUInt32LE(at + i * 12 + 8) }));
  at += count * 12;
  const chunks: TemplateChunk[] = [];
  for (const { offset, length } of table) {
    if (at + length > body.length || offset + length > imageBytes) return null;
    chunks.push({ offset, data: body.subarray(at, at + length) });
    at += length;
  }
  return at === body.length ? { imageBytes, chunks } : null;
}

/** Write `image` from a template: a sparse file of its size with its chunks, flushed before it counts as made. */
export async function writeFromTemplate(image: string, t: DiskTemplate): Promise<void> {
  const file = await open(image, 'w', 0o600);
  try {
    await file.truncate(t.imageBytes);
    for (const c of t.chunks) await file.write(c.data, 0, c.data.length, c.offset);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** What makeDisk's mkfs wrote into `image`, read before anything mounted it; null when filefrag cannot tell or it is too large. */
async function captureTemplate(image: string, imageBytes: number, opts: { signal?: AbortSignal }): Promise<DiskTemplate | null> {
  // -s: flush first, so every block mkfs wrote has its place; -b512: offsets in 512-byte units, finer than any block.
  const extents = parseExtents((await runLxc('filefrag', ['-s', '-e', '-b512', image], opts)).stdout);
  if (extents === null || extents.reduce((n, e) => n + e.length, 0) > MAX_TEMPLATE_BYTES) return null;
  const file = await open(image, 'r');
  try {
    const chunks: TemplateChunk[] = [];
    for (const e of extents) {
      const data = Buffer.alloc(e.length);
      const { bytesRead } = await file.read(data, 0, e.length, e.offset);
      if (bytesRead !== e.length) return null;
      chunks.push({ offset: e.offset, data });
    }
    return { imageBytes, chunks };
  } finally {
    await file.close();
  }
}

export interface DiskMaker {
  /** Make the sparse image `image` of diskMb MiB and its filesystem, its root owned by the container's root; overwrites a half-made one. */
  make(image: string, diskMb: number, opts?: { signal?: AbortSignal }): Promise<void>;
}

export function createDiskMaker(init: { lxcPath: string; idmap: IdMap; log?: Logger }): DiskMaker {
  const dir = join(init.lxcPath, TEMPLATES_DIR);
  const { idmap } = init;
  const log = init.log ?? silentLogger;
  // Templates read and verified once (about 1 MiB for a 2 GiB disk, 5 MiB for 64 GiB), by file name.
  const loaded = new Map<string, DiskTemplate>();

  async function load(path: string, imageBytes: number): Promise<DiskTemplate | null> {
    const known = loaded.get(path);
    if (known !== undefined) return known;
    let file: Buffer;
    try {
      file = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const t = decodeTemplate(file);
    if (t !== null && t.imageBytes === imageBytes) {
      loaded.set(path, t);
      return t;
    }
    log.warn({ template: path }, 'a disk template is damaged or incomplete; removing it, the next disk is formatted');
    await rm(path, { force: true });
    return null;
  }

  return {
    async make(image, diskMb, opts = {}) {
      const imageBytes = diskImageBytes(diskMb);
      const path = join(dir, templateName(diskMb, idmap));
      const template = await load(path, imageBytes);
      opts.signal?.throwIfAborted();
      if (template !== null) return writeFromTemplate(image, template);
      await makeDisk(image, diskMb, idmap, opts);
      try {
        const made = await captureTemplate(image, imageBytes, opts);
        if (made === null) return;
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await removeAbandonedTemporaries(dir);
        await writeFileAtomic(path, encodeTemplate(made), { mode: 0o600 });
        loaded.set(path, made);
        log.debug({ template: path, bytes: made.chunks.reduce((n, c) => n + c.data.length, 0) }, 'disk template saved');
      } catch (e) {
        opts.signal?.throwIfAborted();
        log.warn({ template: path, err: String(e) }, 'no disk template saved; disks of this size are formatted each time');
      }
    },
  };
}
