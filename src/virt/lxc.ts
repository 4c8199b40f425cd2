// The LXC driver: unprivileged containers in one lxcpath per gateway, made
// and run with the lxc-* tools (through runner.ts). It owns exactly the
// containers whose directory holds its marker (marker.ts); operations on one
// name are serialised; each is an overlayfs snapshot of the image of its
// template and package set (images.ts) whose upper layer lives on the
// container's own filesystem of `diskMb` (disk.ts, made from a template by
// disk-template.ts), mounted before every start. Must never:
// touch a container outside its lxcpath (the images are only read), list,
// start or stop one without its marker (only `destroy` and a redone `create`
// clean up an unfinished one), or start one whose disk is not mounted.

import { appendFile, chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HearthError } from '../model/errors.js';
import { silentLogger, type Logger } from '../model/logger.js';
import { validateName } from '../model/sliver.js';
import { openAttached, runAttached } from './attach.js';
import { hasTasks, readCgroupUsage, readVethBytes } from './cgroup.js';
import type { ContainerSpec, ContainerState, ContainerStats, Driver, ExecSession, OpOptions } from './driver.js';
import { pathExists } from '../kit/exists.js';
import { createKeyedLock } from './keyed-lock.js';
import { createImageStore, type ImageStore } from './images.js';
import { DISK_IMAGE, diskImageBytes, mountDisk, OVERLAY_DIR, overlayDirOf, readDiskUsage, unmountDisk } from './disk.js';
import { createDiskMaker } from './disk-template.js';
import { DEFAULT_IDMAP, renderHearthConfig, type IdMap } from './lxc-config.js';
import { readMarker, writeMarker } from './marker.js';
import { runLxc, runLxcStatus, tail } from './runner.js';
import { recipeFor } from './templates.js';

export interface LxcDriverInit {
  /** This gateway's container directory, e.g. `<dataDir>/containers`. */
  lxcPath: string;
  /** Host ids the container's root maps to; must be delegated to root in /etc/subuid and /etc/subgid. */
  idmap?: IdMap;
  /** Where the templates' base images are kept (default: the machine's, DEFAULT_IMAGES_DIR). */
  imagesDir?: string;
  /** The machine's image store, when the agent shares it with its API (`hearth image`); else one over `imagesDir`. */
  images?: ImageStore;
  /** Container life-cycle steps, logged at debug level. */
  log?: Logger;
}

const DEFAULT_STOP_TIMEOUT_SEC = 5;
const START_WAIT_SEC = 10;
// `lxc-start NAME STAMP ERROR    module - file:function:line - message`
const LOG_LINE_RE = /^\S+ \S+ \S+ ERROR\s+\S+ - \S+ - (.*)$/;

/** LXC logs the cause first and generic wrap-ups after it; keep the first two messages. */
export function startFailureReason(log: string): string | undefined {
  const messages = log.split('\n').flatMap((line) => LOG_LINE_RE.exec(line)?.[1] ?? []);
  return messages.length > 0 ? messages.slice(0, 2).join(' | ') : undefined;
}

export function createLxcDriver(init: LxcDriverInit): Driver {
  const lxcPath = resolve(init.lxcPath);
  const idmap = init.idmap ?? DEFAULT_IDMAP;
  const log = init.log ?? silentLogger;
  const withLock = createKeyedLock();
  const images = init.images ?? createImageStore({ ...(init.imagesDir !== undefined ? { dir: init.imagesDir } : {}), idmap, log });
  const disks = createDiskMaker({ lxcPath, idmap, log });
  // Containers this driver made and has not started, stopped or destroyed since: stopped, with
  // their disk mounted by `make`, so their first start needs no lxc-info (a process) to know it.
  const fresh = new Set<string>();
  const dirOf = (name: string): string => join(lxcPath, name);
  const sig = (opts?: OpOptions): { signal?: AbortSignal } => (opts?.signal ? { signal: opts.signal } : {});

  /** Whether LXC reports the container as anything but stopped (STARTING, RUNNING, STOPPING, FROZEN…). */
  async function isRunning(name: string, opts?: OpOptions & { unknownIsStopped?: boolean }): Promise<boolean> {
    const info = await runLxcStatus('lxc-info', ['-P', lxcPath, '-n', name, '-s', '-H'], sig(opts));
    if (info.code !== 0) {
      // An unfinished container may have no config yet: LXC does not know it, so it cannot run.
      if (opts?.unknownIsStopped) return false;
      throw new HearthError('driver_error', `lxc-info failed: ${tail(info.stderr)}`, { tool: 'lxc-info', name });
    }
    return info.stdout.trim() !== 'STOPPED';
  }

  async function readState(name: string, opts?: OpOptions): Promise<ContainerState> {
    validateName('container', name);
    opts?.signal?.throwIfAborted();
    if (!(await pathExists(dirOf(name)))) return 'absent';
    if ((await readMarker(dirOf(name))) === null) return 'incomplete';
    return (await isRunning(name, opts)) ? 'running' : 'stopped';
  }

  async function remove(name: string, opts?: OpOptions): Promise<void> {
    const dir = dirOf(name);
    if (!(await pathExists(dir))) return;
    if (await isRunning(name, { ...opts, unknownIsStopped: true })) await runLxc('lxc-stop', ['-P', lxcPath, '-n', name, '-k'], sig(opts));
    // Before anything deletes files: a recursive delete must not cross into the mounted disk.
    await unmountDisk(join(dir, OVERLAY_DIR), sig(opts));
    if (await pathExists(join(dir, 'config'))) {
      const destroyed = await runLxcStatus('lxc-destroy', ['-P', lxcPath, '-n', name], sig(opts));
      if (destroyed.code !== 0) log.debug({ name, stderr: tail(destroyed.stderr) }, 'lxc-destroy failed; removing the directory');
    }
    // What lxc-destroy left, or an unfinished directory it does not know.
    await rm(dir, { recursive: true, force: true });
    log.debug({ name }, 'container destroyed');
  }

  async function make(spec: ContainerSpec, opts?: OpOptions): Promise<void> {
    const hearthConfig = renderHearthConfig(spec); // validates before anything is made
    diskImageBytes(spec.limits.diskMb);
    await mkdir(lxcPath, { recursive: true });
    // Unprivileged containers need their mapped root to traverse the lxcpath.
    await chmod(lxcPath, 0o755);
    // Made one after the other: side by side (the disk needs nothing of the clone) was no
    // faster on a busy two-core machine, and a disk made beside the clone can be left behind.
    await images.clone(spec.template, lxcPath, spec.name, { ...sig(opts), ...(spec.packages === undefined ? {} : { packages: spec.packages }) });
    opts?.signal?.throwIfAborted();
    const dir = dirOf(spec.name);
    const config = join(dir, 'config');
    // The clone's upper and work directories are empty: its own filesystem is mounted over them.
    const overlayDir = overlayDirOf(await readFile(config, 'utf8'), dir);
    await disks.make(join(dir, DISK_IMAGE), spec.limits.diskMb, sig(opts));
    await mountDisk(dir, overlayDir, idmap, sig(opts));
    await appendFile(config, hearthConfig);
    await writeMarker(dir, spec, 'ext4-loop');
    fresh.add(spec.name);
    log.debug({ name: spec.name, template: spec.template }, 'container created');
  }

  function notFound(name: string): HearthError {
    return new HearthError('sliver_not_found', `container ${name} does not exist`, { name });
  }

  return {
    create(spec, opts) {
      return withLock(spec.name, async () => {
        const state = await readState(spec.name, opts);
        if (state === 'stopped' || state === 'running') return;
        // Refuse an unavailable template or a package list it cannot take before cleaning anything up.
        recipeFor(spec.template);
        images.nameOf(spec.template, spec.packages);
        if (state === 'incomplete') {
          fresh.delete(spec.name);
          log.debug({ name: spec.name }, 'redoing an unfinished container');
          await remove(spec.name, opts);
        }
        await make(spec, opts);
      });
    },

    start(name, opts) {
      return withLock(name, async () => {
        const state = fresh.delete(name) ? 'stopped' : await readState(name, opts);
        if (state === 'running') return;
        if (state === 'absent') throw notFound(name);
        if (state === 'incomplete') throw new HearthError('invalid_state', `container ${name} was not completely created`, { name });
        // After a reboot or an unmount, the disk is not mounted: without it the sliver would write to the host.
        if ((await readMarker(dirOf(name)))?.disk === 'ext4-loop') await mountDisk(dirOf(name), join(dirOf(name), OVERLAY_DIR), idmap, sig(opts));
        const logFile = join(dirOf(name), 'start.log');
        await writeFile(logFile, '');
        const started = await runLxcStatus('lxc-start', ['-P', lxcPath, '-n', name, '-o', logFile, '-l', 'ERROR'], sig(opts));
        if (started.code !== 0) {
          // Started by hand since `create` (lxc-start refuses a running container): what was asked.
          if (await isRunning(name, { ...opts, unknownIsStopped: true })) return;
          const details = await readFile(logFile, 'utf8').catch(() => '');
          throw new HearthError('driver_error', `lxc-start failed: ${startFailureReason(details) ?? tail(started.stderr)}`, { tool: 'lxc-start', name });
        }
        await runLxc('lxc-wait', ['-P', lxcPath, '-n', name, '-s', 'RUNNING', '-t', String(START_WAIT_SEC)], sig(opts));
        log.debug({ name }, 'container started');
      });
    },

    stop(name, opts) {
      return withLock(name, async () => {
        fresh.delete(name);
        const state = await readState(name, opts);
        if (state === 'absent') throw notFound(name);
        if (state !== 'running') return;
        const timeout = Math.ceil(opts?.timeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC);
        // lxc-stop asks init to halt, and kills the container once the timeout passed.
        const how = timeout > 0 ? ['-t', String(timeout)] : ['-k'];
        const stopped = await runLxcStatus('lxc-stop', ['-P', lxcPath, '-n', name, ...how], sig(opts));
        if (stopped.code !== 0 && (await isRunning(name, opts))) {
          await runLxc('lxc-stop', ['-P', lxcPath, '-n', name, '-k'], sig(opts));
        }
        log.debug({ name }, 'container stopped');
      });
    },

    destroy(name, opts) {
      return withLock(name, async () => {
        validateName('container', name);
        fresh.delete(name);
        await remove(name, opts);
      });
    },

    state(name, opts) {
      return readState(name, opts);
    },

    async stats(name, opts): Promise<ContainerStats> {
      const state = await readState(name, opts);
      if (state === 'absent') throw notFound(name);
      const marker = await readMarker(dirOf(name));
      const limitBytes = marker ? marker.spec.limits.memoryMb * 1024 * 1024 : 0;
      // Unmounted only between a reboot and the next start: nothing in use that anyone could see, the nominal size.
      const usage = await readDiskUsage(join(dirOf(name), OVERLAY_DIR));
      const disk = { diskBytes: usage?.usedBytes ?? 0, diskLimitBytes: usage?.totalBytes ?? (marker ? marker.spec.limits.diskMb * 1024 * 1024 : 0) };
      if (state !== 'running') return { cpuNs: 0, memoryBytes: 0, memoryLimitBytes: limitBytes, pids: 0, rxBytes: 0, txBytes: 0, ...disk };
      const cgroup = await readCgroupUsage(name).catch((e: unknown) => {
        throw new HearthError('driver_error', `cannot read the cgroup of ${name}: ${String(e)}`, { name }, { cause: e });
      });
      const net = marker?.spec.network ? await readVethBytes(marker.spec.network.hostVeth) : { rxBytes: 0, txBytes: 0 };
      return { ...cgroup, ...net, ...disk };
    },

    async list(opts) {
      opts?.signal?.throwIfAborted();
      let entries: string[];
      try {
        entries = await readdir(lxcPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
      const owned: string[] = [];
      for (const entry of entries.sort()) {
        if (entry.startsWith('.')) continue;
        if ((await readMarker(dirOf(entry))) !== null) owned.push(entry);
      }
      const states = await Promise.all(owned.map(async (name) => ((await hasTasks(name)) ? ('running' as const) : ('stopped' as const))));
      return owned.map((name, i) => ({ name, state: states[i] as 'running' | 'stopped' }));
    },

    async netns(name, opts) {
      const state = await readState(name, opts);
      if (state === 'absent') throw notFound(name);
      if (state !== 'running') return null;
      const info = await runLxcStatus('lxc-info', ['-P', lxcPath, '-n', name, '-p', '-H'], sig(opts));
      const pid = Number(info.stdout.trim());
      return info.code === 0 && Number.isInteger(pid) && pid > 0 ? `/proc/${pid}/ns/net` : null;
    },

    async exec(name, argv, opts = {}) {
      const state = await readState(name, opts.signal ? { signal: opts.signal } : {});
      if (state !== 'running') throw new HearthError('exec_failed', `container ${name} is ${state}, not running`, { name, state });
      return runAttached({ lxcPath, name }, argv, opts);
    },

    session(name, argv, opts = {}): ExecSession {
      validateName('container', name);
      return openAttached({ lxcPath, name }, argv, { ...opts, tty: opts.tty ?? false }, log);
    },
  };
}
