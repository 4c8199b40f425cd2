// How each template's base image is made (images.ts keeps one per machine
// and clones slivers from it). A recipe makes container `name` in `lxcPath`
// with its rootfs and base config, owned by the mapped ids (the map comes in
// as `idmap` and as `idmapConfigFile`). The driver then appends each
// sliver's network and limits to its clone's config.
//
// debian: debootstrap (minbase) with the base packages plus the image's
// extras, then made into a container: host keys removed (each sliver makes
// its own at first boot), hearth's init and sshd settings written, apt's
// caches dropped, ownership shifted into the id map. The init is tini (PID 1:
// reaps orphans, passes SIGTERM on) running a short script that makes the
// host keys and runs boot hooks, then becomes sshd; no systemd, so a sliver
// is running in well under a second and stops at once.
// Must never: run anything but lxc-* tools and debootstrap, or hand an image
// ssh host keys that another sliver has.

import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../model/errors.js';
import type { DebianRelease } from '../model/image.js';
import type { TemplateName } from '../model/sliver.js';
import { runDebootstrap, type ProgressReport } from './debootstrap.js';
import { shiftOwnership } from './idshift.js';
import { renderIdmapConfig, type IdMap } from './lxc-config.js';
import { runLxc } from './runner.js';

export interface RootfsContext {
  lxcPath: string;
  name: string;
  idmap: IdMap;
  idmapConfigFile: string;
  /** The image's whole package set (base and extras); busybox takes none. */
  packages: readonly string[];
  release: DebianRelease;
  mirror?: string;
  /** Packages downloaded by earlier builds, kept for the next (debian). */
  packageCache?: string;
  onProgress?: (report: ProgressReport) => void;
  signal?: AbortSignal;
}

export interface TemplateRecipe {
  /** Packages every image of this template has; extras are added to these. */
  basePackages: readonly string[];
  build(ctx: RootfsContext): Promise<void>;
}

const busybox: TemplateRecipe = {
  basePackages: [],
  async build({ lxcPath, name, idmapConfigFile, signal }) {
    // LXC's own busybox template: a tiny rootfs around the host's busybox-static.
    await runLxc('lxc-create', ['-P', lxcPath, '-n', name, '-t', 'busybox', '-f', idmapConfigFile], signal ? { signal } : {});
    // Its boot script runs udhcpc, which removes the static address LXC gives
    // the sliver and keeps broadcasting on the bridge. Slivers are addressed by hearth.
    const rcS = join(lxcPath, name, 'rootfs', 'etc', 'init.d', 'rcS');
    const script = await readFile(rcS, 'utf8');
    await writeFile(rcS, script.split('\n').filter((line) => !/\budhcpc\b/.test(line)).join('\n'));
  },
};

/** Keep small: every first build on a machine (CI's too) downloads all of it. */
export const DEBIAN_BASE_PACKAGES: readonly string[] = ['openssh-server', 'tini'];

/** PID 1's script (under tini): host keys of its own, boot hooks, then sshd in the foreground. */
export const DEBIAN_INIT_SCRIPT = `#!/bin/sh
# hearth's init for debian slivers, run by tini (PID 1). Each sliver makes its
# own ssh host keys at first boot (the image has none), runs the executables
# in /etc/hearth/boot.d (apps' services), then becomes sshd, which the
# slice's keys reach as root. SIGTERM (lxc-stop) ends sshd and so the sliver.
set -e
mkdir -p -m 0755 /run/sshd
for type in ed25519 ecdsa; do
  key=/etc/ssh/ssh_host_\${type}_key
  [ -s "$key" ] || ssh-keygen -q -t "$type" -N '' -f "$key"
done
if [ -d /etc/hearth/boot.d ]; then run-parts --exit-on-error /etc/hearth/boot.d; fi
exec /usr/sbin/sshd -D -e
`;

export const DEBIAN_SSHD_CONFIG = `# hearth: keys only; root is the slice's user (its keys in /root/.ssh/authorized_keys).
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
`;

/** The image's LXC config; the driver appends each sliver's network and limits. */
export function renderDebianConfig(rootfs: string, name: string, idmap: IdMap): string {
  return [
    '# hearth debian image (debootstrap minbase)',
    'lxc.include = /usr/share/lxc/config/common.conf',
    'lxc.include = /usr/share/lxc/config/userns.conf',
    'lxc.arch = linux64',
    renderIdmapConfig(idmap).trimEnd(),
    `lxc.rootfs.path = dir:${rootfs}`,
    `lxc.uts.name = ${name}`,
    'lxc.init.cmd = /usr/bin/tini -- /usr/local/sbin/hearth-init',
    // tini passes SIGTERM to sshd, whose exit ends the sliver; LXC's default (SIGPWR) is for systemd.
    'lxc.signal.halt = SIGTERM',
    'lxc.mount.auto = cgroup:mixed proc:mixed sys:mixed',
    '',
  ].join('\n');
}

/** Empties one of apt's cache directories, keeping the skeleton apt expects (`partial/`, `lock`). */
async function emptyAptDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [])) {
    if (entry !== 'partial' && entry !== 'lock') await rm(join(dir, entry), { recursive: true, force: true });
  }
}

const debian: TemplateRecipe = {
  basePackages: DEBIAN_BASE_PACKAGES,
  async build(ctx) {
    const container = join(ctx.lxcPath, ctx.name);
    const rootfs = join(container, 'rootfs');
    await mkdir(container, { mode: 0o770 });
    await runDebootstrap({
      suite: ctx.release.suite, target: rootfs, include: ctx.packages,
      ...(ctx.mirror === undefined ? {} : { mirror: ctx.mirror }),
      ...(ctx.packageCache === undefined ? {} : { cacheDir: ctx.packageCache }),
      ...(ctx.onProgress === undefined ? {} : { onProgress: ctx.onProgress }),
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    const step = (message: string): void => ctx.onProgress?.({ stage: 'finishing', message });
    step('making it a container: no shared host keys, hearth init, sshd settings');
    for (const entry of await readdir(join(rootfs, 'etc', 'ssh'))) {
      if (entry.startsWith('ssh_host_')) await rm(join(rootfs, 'etc', 'ssh', entry));
    }
    await writeFile(join(rootfs, 'usr', 'local', 'sbin', 'hearth-init'), DEBIAN_INIT_SCRIPT, { mode: 0o755 });
    await chmod(join(rootfs, 'usr', 'local', 'sbin', 'hearth-init'), 0o755);
    await mkdir(join(rootfs, 'etc', 'ssh', 'sshd_config.d'), { recursive: true });
    await writeFile(join(rootfs, 'etc', 'ssh', 'sshd_config.d', 'hearth.conf'), DEBIAN_SSHD_CONFIG, { mode: 0o644 });
    await mkdir(join(rootfs, 'etc', 'hearth', 'boot.d'), { recursive: true });
    // Downloaded packages and indexes: a sliver runs apt-get update anyway.
    await emptyAptDir(join(rootfs, 'var', 'cache', 'apt', 'archives'));
    await emptyAptDir(join(rootfs, 'var', 'lib', 'apt', 'lists'));
    await writeFile(join(container, 'config'), renderDebianConfig(rootfs, ctx.name, ctx.idmap), { mode: 0o644 });
    ctx.signal?.throwIfAborted();
    step('shifting ownership into the id map');
    const files = await shiftOwnership(rootfs, ctx.idmap, ctx.signal ? { signal: ctx.signal } : {});
    step(`shifted ${files} files`);
    // As lxc-create leaves it: the container's root owns its directory.
    await chown(container, ctx.idmap.uid, ctx.idmap.gid);
  },
};

/** The recipe for a template; throws `unknown_template` for one this gateway cannot make. */
export function recipeFor(template: TemplateName): TemplateRecipe {
  switch (template) {
    case 'busybox':
      return busybox;
    case 'debian':
      return debian;
    default:
      throw new HearthError('unknown_template', `template ${JSON.stringify(template)} is unknown`, { template });
  }
}
