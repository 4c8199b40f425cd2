// Benchmark of a sliver's own disk (issue 9, disk bounded for real): what
// making and mounting the filesystem adds to a busybox sliver's create +
// start through the LXC driver, at the default diskMb. With `--before
// <other checkout>/dist/src/virt/lxc.js` the same steps run, interleaved run
// by run, through another build's driver (one without the disk), so that
// both see the same machine load. Also the disk steps alone (mkfs + mount,
// a remount as after a reboot, unmount) and what the host holds of a fresh
// disk.
// Run as root after `npm run build`: node dist/bench/disk.js [--runs N] [--before PATH]

import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_RESOURCES } from '../src/model/sliver.js';
import { DISK_IMAGE, makeDisk, mountDisk, unmountAllBelow, unmountDisk } from '../src/virt/disk.js';
import type { ContainerSpec, Driver } from '../src/virt/driver.js';
import { createLxcDriver, type LxcDriverInit } from '../src/virt/lxc.js';
import { DEFAULT_IDMAP } from '../src/virt/lxc-config.js';
import { machineLine, median } from './lib.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, before: { type: 'string' } } });
const RUNS = Number(values.runs);
const DISK_MB = DEFAULT_RESOURCES.diskMb;

async function timeCreateStart(d: Driver, s: ContainerSpec): Promise<number> {
  const t0 = performance.now();
  await d.create(s);
  await d.start(s.name);
  const ms = performance.now() - t0;
  await d.destroy(s.name);
  return ms;
}

async function main(): Promise<void> {
  const root = await mkdtemp('/tmp/dsk-bench-');
  await chmod(root, 0o755);
  try {
    const after = createLxcDriver({ lxcPath: join(root, 'after') });
    const before = values.before === undefined ? undefined
      : ((await import(values.before)) as { createLxcDriver(init: LxcDriverInit): Driver }).createLxcDriver({ lxcPath: join(root, 'before') });
    const spec = (tag: string, i: number): ContainerSpec => ({
      name: `dsk-bench-${tag}-${process.pid}-${i}`,
      template: 'busybox',
      limits: { cpu: DEFAULT_RESOURCES.cpu, memoryMb: DEFAULT_RESOURCES.memoryMb, pids: DEFAULT_RESOURCES.pids, diskMb: DISK_MB },
    });
    // Warm up: the base image, and the page cache for the tools.
    await timeCreateStart(after, spec('warm', 0));
    if (before) await timeCreateStart(before, spec('warmb', 0));

    const afterMs: number[] = [];
    const beforeMs: number[] = [];
    const makeMountMs: number[] = [];
    const remountMs: number[] = [];
    const unmountMs: number[] = [];
    let heldBytes = 0;
    const scratch = join(root, 'scratch');
    for (let i = 1; i <= RUNS; i++) {
      afterMs.push(await timeCreateStart(after, spec('a', i)));
      if (before) beforeMs.push(await timeCreateStart(before, spec('b', i)));

      const dir = join(scratch, String(i));
      const overlay = join(dir, 'overlay');
      await mkdir(overlay, { recursive: true });
      let t0 = performance.now();
      await makeDisk(join(dir, DISK_IMAGE), DISK_MB, DEFAULT_IDMAP);
      await mountDisk(dir, overlay, DEFAULT_IDMAP);
      makeMountMs.push(performance.now() - t0);
      t0 = performance.now();
      await unmountDisk(overlay);
      unmountMs.push(performance.now() - t0);
      heldBytes = (await stat(join(dir, DISK_IMAGE))).blocks * 512;
      t0 = performance.now();
      await mountDisk(dir, overlay, DEFAULT_IDMAP);
      remountMs.push(performance.now() - t0);
      await unmountDisk(overlay);
      await rm(dir, { recursive: true, force: true });
    }
    const r = (ms: number): number => Math.round(ms);
    const result = {
      machine: await machineLine(),
      runs: RUNS,
      diskMb: DISK_MB,
      createStartMedianMs: r(median(afterMs)),
      ...(before ? { createStartBeforeMedianMs: r(median(beforeMs)) } : {}),
      mkfsAndMountMedianMs: r(median(makeMountMs)),
      remountMedianMs: r(median(remountMs)),
      unmountMedianMs: r(median(unmountMs)),
      freshDiskHeldKb: Math.round(heldBytes / 1024),
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`\nbusybox sliver create + start (driver, diskMb ${DISK_MB}): ${result.createStartMedianMs} ms` +
      (before ? ` with its disk, ${result.createStartBeforeMedianMs} ms before (interleaved)` : '') + `; median of ${RUNS}`);
    console.log(`disk alone: mkfs + mount ${result.mkfsAndMountMedianMs} ms, remount ${result.remountMedianMs} ms, unmount ${result.unmountMedianMs} ms; a fresh disk holds ${result.freshDiskHeldKb} KB of the host`);
  } finally {
    await unmountAllBelow(root);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
