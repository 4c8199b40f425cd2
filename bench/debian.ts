// Benchmark of debian slivers (src/virt/images.ts, templates.ts):
//  - the base image's build: first (the image removed before, unless
//    --keep) and cached (ensure on an image that exists; median of --runs);
//  - a debian sliver from clone to running through the LXC driver (create +
//    start, no network) against plain `lxc-copy -s -B overlayfs` +
//    `lxc-start` + `lxc-wait -s RUNNING` of the same image in the same run,
//    interleaved run by run, each first every other run; medians and their
//    ratio (goal ≤ 1.3).
// Run as root after `npm run build` (the image must not be in use by a sliver
// unless --keep):
//   node dist/bench/debian.js [--runs 7] [--keep] [--prefix debbench]
// (--prefix names its containers and temporary lxcpath, for benches run side by side)

import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { createImageStore } from '../src/virt/images.js';
import { DEFAULT_IDMAP } from '../src/virt/lxc-config.js';
import { createLxcDriver } from '../src/virt/lxc.js';
import { machineLine, median } from './lib.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, keep: { type: 'boolean', default: false }, prefix: { type: 'string', default: 'debbench' } } });
const prefix = values.prefix;
const runs = Number(values.runs);
const limits = { cpu: 1, memoryMb: 256, pids: 256, diskMb: 2048 };
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

async function main(): Promise<void> {
  console.log(await machineLine());
  console.log(`load average at start: ${load()}`);
  const images = createImageStore({ idmap: DEFAULT_IDMAP });
  const name = images.nameOf('debian');
  let firstMs: number | null = null;
  if (!values.keep) {
    await images.remove(name).catch((e: unknown) => {
      if ((e as { code?: string }).code !== 'image_not_found') throw e;
    });
    const t = performance.now();
    await images.ensure('debian', { onProgress: (p) => process.stderr.write(`  ${p.message}\n`) });
    firstMs = performance.now() - t;
    console.log(`first build: ${(firstMs / 1000).toFixed(1)} s (load ${load()})`);
  }
  const cached: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await images.ensure('debian');
    cached.push(performance.now() - t);
  }

  const dir = await mkdtemp(join(tmpdir(), `${prefix}-hearth-bench-debian-`));
  await chmod(dir, 0o755);
  const hearthPath = join(dir, 'hearth');
  const rawPath = join(dir, 'raw');
  const driver = createLxcDriver({ lxcPath: hearthPath, images });
  const viaHearth: number[] = [];
  const viaRaw: number[] = [];
  try {
    await run('mkdir', ['-m', '755', rawPath]);
    const viaHearthOnce = async (i: number): Promise<void> => {
      const h = `${prefix}-h${i}`;
      const t = performance.now();
      await driver.create({ name: h, template: 'debian', limits });
      await driver.start(h);
      viaHearth.push(performance.now() - t);
      await driver.destroy(h);
    };
    const viaRawOnce = async (i: number): Promise<void> => {
      const r = `${prefix}-r${i}`;
      const t = performance.now();
      await run('lxc-copy', ['-P', images.dir, '-n', name, '-p', rawPath, '-N', r, '-s', '-B', 'overlayfs']);
      await appendFile(join(rawPath, r, 'config'), 'lxc.net.0.type = empty\n');
      await run('lxc-start', ['-P', rawPath, '-n', r]);
      await run('lxc-wait', ['-P', rawPath, '-n', r, '-s', 'RUNNING', '-t', '10']);
      viaRaw.push(performance.now() - t);
      await run('lxc-stop', ['-P', rawPath, '-n', r, '-k']);
      await run('lxc-destroy', ['-P', rawPath, '-n', r]);
    };
    // Each goes first every other run: neither always follows the other's teardown.
    for (let i = 0; i < runs; i++) {
      for (const once of i % 2 === 0 ? [viaHearthOnce, viaRawOnce] : [viaRawOnce, viaHearthOnce]) await once(i);
    }
  } finally {
    for (const c of await driver.list().catch(() => [])) await driver.destroy(c.name).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  console.log(`| figure | median of ${runs} |`);
  console.log('| --- | --- |');
  if (firstMs !== null) console.log(`| base image, first build | ${(firstMs / 1000).toFixed(1)} s |`);
  console.log(`| base image, cached (ensure) | ${median(cached).toFixed(2)} ms |`);
  console.log(`| debian sliver via hearth (create + start) | ${fmt(viaHearth)} |`);
  console.log(`| plain lxc-copy -s + lxc-start + lxc-wait | ${fmt(viaRaw)} |`);
  console.log(`| ratio hearth / plain | ${(median(viaHearth) / median(viaRaw)).toFixed(2)} |`);
  console.log(`load average at end: ${load()}`);
}

await main();
