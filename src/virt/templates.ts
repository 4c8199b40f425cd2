// How each template's root filesystem is made. A recipe makes the container
// directory with its rootfs and base config (the id map comes in through
// `idmapConfigFile`, so the files are owned by the mapped ids); the driver
// then appends network and limits and writes the ownership marker.
//
// debian, by design: a base rootfs made once by debootstrap as an LXC
// container under `<lxcpath>/../images/debian-base`, and each sliver an
// overlayfs snapshot of it (`lxc-copy -P images -n debian-base -p <lxcpath>
// -N <name> -s -B overlayfs`), so a sliver costs only its changes. Until that
// base image is built by this gateway, debian is refused, not faked.
// Must never: run anything but lxc-* tools (through the runner).

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../model/errors.js';
import type { TemplateName } from '../model/sliver.js';
import { runLxc } from './runner.js';

export interface RootfsContext {
  lxcPath: string;
  name: string;
  idmapConfigFile: string;
  signal?: AbortSignal;
}

export interface TemplateRecipe {
  create(ctx: RootfsContext): Promise<void>;
}

const busybox: TemplateRecipe = {
  async create({ lxcPath, name, idmapConfigFile, signal }) {
    // LXC's own busybox template: a tiny rootfs around the host's busybox-static.
    await runLxc('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', idmapConfigFile], signal ? { signal } : {});
    // Its boot script runs udhcpc, which removes the static address LXC gives
    // the sliver and keeps broadcasting on the bridge. Slivers are addressed by hearth.
    const rcS = join(lxcPath, name, 'rootfs', 'etc', 'init.d', 'rcS');
    const script = await readFile(rcS, 'utf8');
    await writeFile(rcS, script.split('\n').filter((line) => !/\budhcpc\b/.test(line)).join('\n'));
  },
};

/** The recipe for a template; throws `unknown_template` for one this gateway cannot make. */
export function recipeFor(template: TemplateName): TemplateRecipe {
  switch (template) {
    case 'busybox':
      return busybox;
    case 'debian':
      throw new HearthError(
        'unknown_template',
        'template debian is not available yet on this gateway (its debootstrap base image is not built); use busybox',
        { template },
      );
    default:
      throw new HearthError('unknown_template', `template ${JSON.stringify(template)} is unknown`, { template });
  }
}
