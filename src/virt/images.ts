// Base images: each template's root filesystem made once per machine, id map
// and (for debian) release and package set, as a stopped LXC container under
// the images directory that nothing ever starts; every sliver is an overlayfs
// snapshot of it (`lxc-copy -s -B overlayfs`), so making a sliver copies no
// files and runs no template script (about 30 ms instead of about 1.2 s for
// busybox, instead of minutes of debootstrap for debian).
//
// An image is built under `<dir>/.build-<pid>-<random>/` and renamed into
// place whole, so an image that exists is complete, gateways (processes) that
// build the same image at once do not need a lock (the first rename wins, the
// others discard theirs), and a failed or killed build leaves only a build
// directory: a failure removes its own at once (unmounting whatever
// debootstrap left mounted in it first), a kill -9 is swept by the next build
// once its process is gone. Removing an image renames it to `.trash-…` first,
// so it vanishes whole too.
//
// Which slivers use an image: each clone leaves a note under
// `<dir>/.users/<image>/` naming its container directory, before lxc-copy
// makes it; `remove` counts a note while that container's config names the
// image's rootfs or the container is still being made (a young note, or a
// directory without its config), so a sliver deleted by any gateway stops
// counting without telling the store.
// Must never: hand out an image that is not complete, remove another live
// process's build, or remove an image a sliver's config names.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { pathExists } from '../kit/exists.js';
import { pidExists } from '../kit/pid.js';
import { delay } from '../kit/delay.js';
import { HearthError } from '../model/errors.js';
import { imageKey, normalizePackages, packagesFor, templateOfImage, type DebianRelease } from '../model/image.js';
import { silentLogger, type Logger } from '../model/logger.js';
import { TEMPLATES, type TemplateName } from '../model/sliver.js';
import { unmountUnder, type ProgressReport } from './debootstrap.js';
import { renderIdmapConfig, type IdMap } from './lxc-config.js';
import { runLxc } from './runner.js';
import { recipeFor } from './templates.js';

/** Where images live unless the gateway's config says otherwise: one per machine, shared by its gateways. */
export const DEFAULT_IMAGES_DIR = '/var/lib/hearth/images';
export const DEFAULT_DEBIAN_SUITE = 'bookworm';

const USERS_DIR = '.users';
const META_FILE = 'hearth-image.json';
/** A clone's note counts this long whatever its container looks like: lxc-copy may not have made it yet. */
const NOTE_GRACE_MS = 60_000;

/** The images dir's folder of downloaded Debian packages (not an image: list() and rm skip it). */
export const PACKAGE_CACHE = '.debs';
/** The machine's one debootstrap at a time: a directory holding its owner's pid. */
const BUILD_LOCK = '.debootstrap.lock';
/** A lock without its pid this long is one whose owner died making it. */
const LOCK_GRACE_MS = 10_000;

export interface ImageProgress extends ProgressReport {
  image: string;
}

export interface ImageOptions {
  /** Debian packages beyond the template's base (checked: `invalid_packages`). */
  packages?: readonly string[];
  onProgress?: (p: ImageProgress) => void;
}

export interface ImageInfo {
  name: string;
  template: TemplateName;
  /** `building` and `failed` are known only to the process that builds (a gateway's own builds). */
  state: 'ready' | 'building' | 'failed';
  /** The whole package set (base and extras); empty for busybox. */
  packages: string[];
  suite: string | null;
  arch: string | null;
  builtAt: string | null;
  buildMs: number | null;
  /** Slivers (of any gateway on the machine) that are snapshots of it. */
  usedBy: number;
  /** The last progress line of a build under way. */
  progress: string | null;
  error: string | null;
}

export interface ImageStore {
  readonly dir: string;
  /** The name the image of (template, packages) has on this machine; throws `unknown_template` or `invalid_packages`. */
  nameOf(template: TemplateName, packages?: readonly string[]): string;
  /** The image's container name under `dir`, built first if this machine does not have it yet. */
  ensure(template: TemplateName, opts?: ImageOptions): Promise<string>;
  /**
   * For a debian request with extra packages, the ready image of the same
   * release and id map that has all of them (the exact one first, else the
   * one with the fewest packages): one image built for several apps serves
   * each. Undefined when there is none, and for the base image, which is
   * always its own.
   */
  reusable(template: TemplateName, packages?: readonly string[]): Promise<string | undefined>;
  /** Makes container `name` in `lxcPath` as a snapshot of the image of (template, packages), or a reusable one, built first if need be. */
  clone(template: TemplateName, lxcPath: string, name: string, opts?: ImageOptions & { signal?: AbortSignal }): Promise<void>;
  list(): Promise<ImageInfo[]>;
  /** Removes an image no sliver uses: `image_not_found`, `image_in_use`. */
  remove(name: string): Promise<void>;
}

/** The image of a template for an id map (busybox; debian's names carry more, see model/image.ts). */
export function imageName(template: TemplateName, idmap: IdMap): string {
  return imageKey(template, idmap);
}

/** The pid a build (or trash) directory was made by, or null for a name that is not one. */
export function buildOwner(entry: string): number | null {
  const m = /^\.(?:build|trash)-(\d+)-[0-9a-f]+$/.exec(entry);
  return m ? Number(m[1]) : null;
}

/** Debian's name for the architecture Node runs on. */
export function debianArch(nodeArch: string): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'armhf', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[nodeArch];
  if (arch === undefined) throw new HearthError('image_build_failed', `no Debian architecture for ${nodeArch}`);
  return arch;
}

interface Meta {
  template: TemplateName;
  packages: string[];
  suite: string | null;
  arch: string | null;
  builtAt: string;
  buildMs: number;
}

interface Build {
  promise: Promise<string>;
  listeners: Set<(p: ImageProgress) => void>;
  template: TemplateName;
  packages: string[];
  last: ImageProgress | null;
}

export interface ImageStoreInit {
  /** The machine's images dir; undefined: DEFAULT_IMAGES_DIR. */
  dir?: string | undefined;
  idmap: IdMap;
  log?: Logger;
  /** debian's release (default bookworm on this machine's architecture) and mirror. */
  debian?: { suite?: string; arch?: string; mirror?: string };
}

export function createImageStore(init: ImageStoreInit): ImageStore {
  const dir = resolve(init.dir ?? DEFAULT_IMAGES_DIR);
  const { idmap } = init;
  const log = init.log ?? silentLogger;
  const release: DebianRelease = { suite: init.debian?.suite ?? DEFAULT_DEBIAN_SUITE, arch: init.debian?.arch ?? debianArch(process.arch) };
  // One build per image at a time in this process; other processes race by rename.
  const building = new Map<string, Build>();
  // This process's last failed build of each image, shown by list() until a new try.
  const failures = new Map<string, { template: TemplateName; packages: string[]; error: string }>();

  function packageSet(template: TemplateName, extra: readonly string[] | undefined): string[] {
    const recipe = recipeFor(template);
    return normalizePackages([...recipe.basePackages, ...packagesFor(template, extra)]);
  }

  function nameOf(template: TemplateName, packages?: readonly string[]): string {
    if (!TEMPLATES.includes(template)) throw new HearthError('unknown_template', `unknown template ${JSON.stringify(template)}; known: ${TEMPLATES.join(', ')}`, { template });
    const set = packageSet(template, packages);
    return imageKey(template, idmap, { ...release, packages: set });
  }

  async function removeAbandonedBuilds(): Promise<void> {
    for (const entry of await readdir(dir)) {
      const pid = buildOwner(entry);
      if (pid !== null && pid !== process.pid && !pidExists(pid)) await removeTree(join(dir, entry));
    }
  }

  /** A build directory may hold what debootstrap mounted (a kill mid-install): unmount, then remove. */
  async function removeTree(path: string): Promise<void> {
    await unmountUnder(path);
    await rm(path, { recursive: true, force: true });
  }

  /**
   * Runs `fn` holding the machine's debootstrap lock: every gateway on the
   * machine shares the images dir and its package cache, which two
   * debootstraps must not fill at once, and a build another agent is making
   * is better waited for than made twice. A dead owner's lock is taken over.
   */
  async function withBuildLock<T>(onWait: () => void, fn: () => Promise<T>): Promise<T> {
    const lock = join(dir, BUILD_LOCK);
    let waited = false;
    for (;;) {
      try {
        await mkdir(lock);
        await writeFile(join(lock, 'pid'), `${process.pid}\n`);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const owner = Number((await readFile(join(lock, 'pid'), 'utf8').catch(() => '')).trim());
        const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
        if ((owner > 0 && !pidExists(owner)) || (!(owner > 0) && age > LOCK_GRACE_MS)) {
          log.warn({ owner: owner || null }, 'taking over the image build lock of a process that is gone');
          await rm(lock, { recursive: true, force: true });
          continue;
        }
        if (!waited) onWait();
        waited = true;
        await delay(500);
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }

  async function build(template: TemplateName, name: string, packages: string[], b: Build): Promise<string> {
    const recipe = recipeFor(template);
    const progress = (p: ProgressReport): void => {
      const report = { ...p, image: name };
      b.last = report;
      log.info({ image: name, stage: p.stage }, p.message);
      for (const l of b.listeners) l(report);
    };
    // Unprivileged containers' root must traverse every level down to the image's rootfs.
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    if (template !== 'debian') return buildNow(template, name, packages, recipe, progress);
    return withBuildLock(() => progress({ stage: 'resolving', message: 'waiting for another image build on this machine to finish' }), async () =>
      // Another agent may have built it while this one waited.
      ((await pathExists(join(dir, name, 'config'))) ? name : buildNow(template, name, packages, recipe, progress)));
  }

  async function buildNow(
    template: TemplateName, name: string, packages: string[], recipe: ReturnType<typeof recipeFor>, progress: (p: ProgressReport) => void,
  ): Promise<string> {
    await removeAbandonedBuilds();
    const buildPath = join(dir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(buildPath, { mode: 0o755 });
    await chmod(buildPath, 0o755);
    try {
      const started = performance.now();
      progress({ stage: 'resolving', message: `building image ${name} (once per machine)` });
      const idmapConfigFile = join(buildPath, '.idmap.conf');
      await writeFileAtomic(idmapConfigFile, renderIdmapConfig(idmap), { mode: 0o644 });
      // Every debian build downloads the base again unless the packages are kept: one cache a machine.
      const packageCache = join(dir, PACKAGE_CACHE);
      if (template === 'debian') await mkdir(join(packageCache, 'partial'), { recursive: true, mode: 0o755 });
      await recipe.build({
        lxcPath: buildPath, name, idmap, idmapConfigFile, packages, release, onProgress: progress,
        ...(template === 'debian' ? { packageCache } : {}),
        ...(init.debian?.mirror === undefined ? {} : { mirror: init.debian.mirror }),
      });
      // The config names its rootfs by path: point it at where the image will be.
      const config = join(buildPath, name, 'config');
      const text = await readFile(config, 'utf8');
      await writeFile(config, text.split(join(buildPath, name)).join(join(dir, name)));
      const buildMs = Math.round(performance.now() - started);
      const meta: Meta = {
        template, packages, suite: template === 'debian' ? release.suite : null, arch: template === 'debian' ? release.arch : null,
        builtAt: new Date().toISOString(), buildMs,
      };
      await writeFile(join(buildPath, name, META_FILE), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
      try {
        await rename(join(buildPath, name), join(dir, name));
        log.info({ template, image: name, ms: buildMs }, 'base image built');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        log.debug({ image: name }, 'another process built the image first');
      }
      return name;
    } catch (e) {
      const error = e instanceof HearthError ? e : new HearthError('image_build_failed', `building image ${name} failed: ${(e as Error).message}`, { image: name }, { cause: e });
      failures.set(name, { template, packages, error: error.message });
      log.warn({ image: name, err: error.message }, 'image build failed; nothing of it is kept');
      throw error;
    } finally {
      await removeTree(buildPath);
    }
  }

  async function ensure(template: TemplateName, opts: ImageOptions = {}): Promise<string> {
    const name = nameOf(template, opts.packages);
    if (await pathExists(join(dir, name, 'config'))) return name;
    let b = building.get(name);
    if (b === undefined) {
      const fresh: Build = { promise: Promise.resolve(name), listeners: new Set(), template, packages: packageSet(template, opts.packages), last: null };
      failures.delete(name);
      fresh.promise = build(template, name, fresh.packages, fresh).finally(() => building.delete(name));
      building.set(name, fresh);
      b = fresh;
    }
    const listener = opts.onProgress;
    if (listener === undefined) return b.promise;
    if (b.last !== null) listener(b.last);
    b.listeners.add(listener);
    try {
      return await b.promise;
    } finally {
      b.listeners.delete(listener);
    }
  }

  async function reusable(template: TemplateName, packages?: readonly string[]): Promise<string | undefined> {
    if (template !== 'debian' || (packages ?? []).length === 0) return undefined;
    const exact = nameOf(template, packages);
    if (await pathExists(join(dir, exact, 'config'))) return exact;
    const wanted = packageSet(template, packages);
    // The same name but for the package hash (the 4th part): the same release and id map.
    const parts = exact.split('-');
    const akin = (entry: string): boolean => {
      const p = entry.split('-');
      return p.length === parts.length && p.every((x, i) => i === 3 || x === parts[i]);
    };
    let best: { name: string; size: number } | undefined;
    for (const entry of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (!akin(entry) || !(await pathExists(join(dir, entry, 'config')))) continue;
      const have = new Set((await readMeta(entry, template)).packages);
      if (!wanted.every((p) => have.has(p))) continue;
      if (best === undefined || have.size < best.size) best = { name: entry, size: have.size };
    }
    return best?.name;
  }

  const usersDir = (image: string): string => join(dir, USERS_DIR, image);

  async function noteUser(image: string, containerDir: string): Promise<void> {
    await mkdir(usersDir(image), { recursive: true, mode: 0o755 });
    const id = createHash('sha256').update(containerDir).digest('hex').slice(0, 16);
    await writeFile(join(usersDir(image), id), `${containerDir}\n`);
  }

  /**
   * Container directories whose config names the image's rootfs, or that are
   * still being made: a note is written before lxc-copy makes the container,
   * so a young note (NOTE_GRACE_MS) or a container without its config yet
   * counts as a user. Other notes are stale and dropped.
   */
  async function usersOf(image: string): Promise<string[]> {
    const rootfs = `${join(dir, image, 'rootfs')}:`;
    const users: string[] = [];
    for (const id of await readdir(usersDir(image)).catch(() => [])) {
      const note = join(usersDir(image), id);
      const noted = await stat(note).catch(() => null);
      if (noted === null) continue;
      const containerDir = (await readFile(note, 'utf8').catch(() => '')).trim();
      const config = containerDir === '' ? null : await readFile(join(containerDir, 'config'), 'utf8').catch(() => null);
      const beingMade = Date.now() - noted.mtimeMs < NOTE_GRACE_MS || (config === null && containerDir !== '' && (await pathExists(containerDir)));
      if (config?.includes(rootfs) === true || beingMade) users.push(containerDir);
      else await rm(note, { force: true });
    }
    return users;
  }

  async function readMeta(name: string, template: TemplateName): Promise<Meta> {
    try {
      return JSON.parse(await readFile(join(dir, name, META_FILE), 'utf8')) as Meta;
    } catch {
      // Images built before the metadata file (busybox) say only what their name says.
      return { template, packages: [], suite: null, arch: null, builtAt: '', buildMs: 0 };
    }
  }

  return {
    dir,
    nameOf,
    ensure,
    reusable,
    async clone(template, lxcPath, name, opts = {}) {
      // The build is shared by every waiting sliver, so one caller's abort does not stop it.
      const image = (await reusable(template, opts.packages)) ?? await ensure(template, {
        ...(opts.packages === undefined ? {} : { packages: opts.packages }),
        ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
      });
      opts.signal?.throwIfAborted();
      await noteUser(image, join(resolve(lxcPath), name));
      await runLxc('lxc-copy', ['-P', dir, '-n', image, '-p', lxcPath, '-N', name, '-s', '-B', 'overlayfs'], opts.signal ? { signal: opts.signal } : {});
    },
    async list() {
      const items = new Map<string, ImageInfo>();
      for (const entry of await readdir(dir).catch(() => [])) {
        const template = templateOfImage(entry);
        if (template === null || !(await pathExists(join(dir, entry, 'config')))) continue;
        const meta = await readMeta(entry, template);
        items.set(entry, {
          name: entry, template, state: 'ready', packages: meta.packages, suite: meta.suite, arch: meta.arch,
          builtAt: meta.builtAt || null, buildMs: meta.buildMs || null, usedBy: (await usersOf(entry)).length, progress: null, error: null,
        });
      }
      const pending = (name: string, template: TemplateName, packages: string[]): ImageInfo => ({
        name, template, state: 'building', packages, suite: template === 'debian' ? release.suite : null, arch: template === 'debian' ? release.arch : null,
        builtAt: null, buildMs: null, usedBy: 0, progress: null, error: null,
      });
      for (const [name, f] of failures) if (!items.has(name)) items.set(name, { ...pending(name, f.template, f.packages), state: 'failed', error: f.error });
      for (const [name, b] of building) if (!items.has(name)) items.set(name, { ...pending(name, b.template, b.packages), progress: b.last?.message ?? null });
      return [...items.values()].sort((a, b) => a.name.localeCompare(b.name));
    },
    async remove(name) {
      if (templateOfImage(name) === null || !(await pathExists(join(dir, name, 'config')))) {
        if (failures.delete(name)) return; // forgetting a failed build is all there is to remove
        throw new HearthError('image_not_found', `this machine has no image ${JSON.stringify(name)}`, { image: name });
      }
      const users = await usersOf(name);
      if (users.length > 0) {
        throw new HearthError('image_in_use', `image ${name} is in use by ${users.length} sliver(s), e.g. ${users.slice(0, 3).join(', ')}; delete them first`, { image: name, usedBy: users.length });
      }
      const trash = join(dir, `.trash-${process.pid}-${randomBytes(4).toString('hex')}`);
      await rename(join(dir, name), trash);
      await removeTree(trash);
      await rm(usersDir(name), { recursive: true, force: true });
      log.info({ image: name }, 'image removed');
    },
  };
}
