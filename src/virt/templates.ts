// How each template's base image is made (images.ts keeps one per machine
// and clones slivers from it). A recipe makes container `name` in `lxcPath`
// with its rootfs and base config; the id map comes in through
// `idmapConfigFile`, so the files are owned by the mapped ids. The driver
// then appends each sliver's network and limits to its clone's config.
//
// debian, by design: a base rootfs made by debootstrap (minbase), cloned the
// same way. Until that recipe exists, debian is refused, not faked.
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
}

export interface TemplateRecipe {
  build(ctx: RootfsContext): Promise<void>;
}

const busybox: TemplateRecipe = {
  async build({ lxcPath, name, idmapConfigFile }) {
    // LXC's own busybox template: a tiny rootfs around the host's busybox-static.
    await runLxc('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', idmapConfigFile]);
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
