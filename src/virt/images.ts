// Base images: each template's root filesystem made once per machine and id
// map, as a stopped LXC container under the images directory that nothing
// ever starts; every sliver is an overlayfs snapshot of it (`lxc-copy -s -B
// overlayfs`), so making a sliver copies no files and runs no template script
// (about 30 ms instead of about 1.2 s for busybox on a two-core box).
//
// An image is built under `<dir>/.build-<pid>-<random>/` and renamed into
// place whole, so an image that exists is complete, gateways (processes) that
// build the same image at once do not need a lock (the first rename wins, the
// others discard theirs), and a kill -9 mid-build leaves only a build
// directory, which the next build removes once its process is gone.
// Must never: hand out an image that is not complete, or remove another live
// process's build.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { pidExists } from '../kit/pid.js';
import { silentLogger, type Logger } from '../model/logger.js';
import type { TemplateName } from '../model/sliver.js';
import { renderIdmapConfig, type IdMap } from './lxc-config.js';
import { runLxc } from './runner.js';
import { recipeFor } from './templates.js';
import { pathExists } from '../kit/exists.js';

/** Where images live unless the gateway's config says otherwise: one per machine, shared by its gateways. */
export const DEFAULT_IMAGES_DIR = '/var/lib/hearth/images';

const BUILD_PREFIX = '.build-';

export interface ImageStore {
  readonly dir: string;
  /** The image's container name under `dir`, built first if this machine does not have it yet. */
  ensure(template: TemplateName): Promise<string>;
  /** Makes container `name` in `lxcPath` as a snapshot of the template's image. */
  clone(template: TemplateName, lxcPath: string, name: string, opts?: { signal?: AbortSignal }): Promise<void>;
}

/** The image of a template for an id map: the map is in the name, since the files are owned by the mapped ids. */
export function imageName(template: TemplateName, idmap: IdMap): string {
  return `${template}-${idmap.uid}-${idmap.gid}-${idmap.count}`;
}

/** The pid a build directory was made by, or null for a name that is not one. */
export function buildOwner(entry: string): number | null {
  const m = /^\.build-(\d+)-[0-9a-f]+$/.exec(entry);
  return m ? Number(m[1]) : null;
}

export function createImageStore(init: { dir?: string; idmap: IdMap; log?: Logger }): ImageStore {
  const dir = resolve(init.dir ?? DEFAULT_IMAGES_DIR);
  const { idmap } = init;
  const log = init.log ?? silentLogger;
  // One build per image at a time in this process; other processes race by rename.
  const building = new Map<string, Promise<string>>();

  async function removeAbandonedBuilds(): Promise<void> {
    for (const entry of await readdir(dir)) {
      const pid = buildOwner(entry);
      if (pid !== null && pid !== process.pid && !pidExists(pid)) await rm(join(dir, entry), { recursive: true, force: true });
    }
  }

  async function build(template: TemplateName, name: string): Promise<string> {
    const recipe = recipeFor(template);
    // Unprivileged containers' root must traverse every level down to the image's rootfs.
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    await removeAbandonedBuilds();
    const buildPath = join(dir, `${BUILD_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(buildPath, { mode: 0o755 });
    await chmod(buildPath, 0o755);
    try {
      const started = Date.now();
      log.info({ template, image: name }, 'building the base image (once per machine)');
      const idmapConfigFile = join(buildPath, '.idmap.conf');
      await writeFileAtomic(idmapConfigFile, renderIdmapConfig(idmap), { mode: 0o644 });
      await recipe.build({ lxcPath: buildPath, name, idmapConfigFile });
      // The config names its rootfs by path: point it at where the image will be.
      const config = join(buildPath, name, 'config');
      const text = await readFile(config, 'utf8');
      await writeFile(config, text.split(join(buildPath, name)).join(join(dir, name)));
      try {
        await rename(join(buildPath, name), join(dir, name));
        log.info({ template, image: name, ms: Date.now() - started }, 'base image built');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        log.debug({ image: name }, 'another process built the image first');
      }
      return name;
    } finally {
      await rm(buildPath, { recursive: true, force: true });
    }
  }

  async function ensure(template: TemplateName): Promise<string> {
    const name = imageName(template, idmap);
    if (await pathExists(join(dir, name, 'config'))) return name;
    let pending = building.get(name);
    if (!pending) {
      pending = build(template, name).finally(() => building.delete(name));
      building.set(name, pending);
    }
    return pending;
  }

  return {
    dir,
    ensure,
    async clone(template, lxcPath, name, opts = {}) {
      // The build is shared by every waiting sliver, so one caller's abort does not stop it.
      const image = await ensure(template);
      opts.signal?.throwIfAborted();
      await runLxc('lxc-copy', ['-P', dir, '-n', image, '-p', lxcPath, '-N', name, '-s', '-B', 'overlayfs'], opts);
    },
  };
}
