// What names an image and what may go in one: the Debian package names an
// image may add to a template's base, and the key (template, suite,
// architecture, package set, id map) every gateway on a machine agrees on,
// so two gateways asking for the same thing share one image. Pure.
// Must never: accept a package name that could carry an option or a path to
// debootstrap (every name is checked here before it reaches a command line).

import { createHash } from 'node:crypto';
import { HearthError } from './errors.js';
import type { TemplateName } from './sliver.js';

/** Debian policy's package name (lower case, at least two characters), nothing that could be an option. */
export const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;
/** More than this is an app image that should say so in a recipe, not a request. */
export const MAX_IMAGE_PACKAGES = 64;
const MAX_PACKAGE_NAME_LENGTH = 100;

/** The Debian release and architecture a debian image is built from. */
export interface DebianRelease {
  suite: string;
  arch: string;
}

export interface IdMapKey {
  uid: number;
  gid: number;
  count: number;
}

/**
 * The extra packages a request names, checked and put in one order (sorted,
 * duplicates dropped), so equal sets give equal keys. Throws `invalid_packages`.
 */
export function normalizePackages(input: unknown): string[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new HearthError('invalid_packages', 'packages must be a list of Debian package names', { field: 'packages' });
  if (input.length > MAX_IMAGE_PACKAGES) {
    throw new HearthError('invalid_packages', `at most ${MAX_IMAGE_PACKAGES} packages, got ${input.length}`, { field: 'packages', max: MAX_IMAGE_PACKAGES });
  }
  for (const p of input) {
    if (typeof p !== 'string' || p.length > MAX_PACKAGE_NAME_LENGTH || !PACKAGE_NAME_RE.test(p)) {
      throw new HearthError('invalid_packages', `${JSON.stringify(p)} is not a Debian package name (${PACKAGE_NAME_RE.source})`, { field: 'packages', package: p });
    }
  }
  return [...new Set(input as string[])].sort();
}

/**
 * The extra packages an image (or a sliver's, or a slice's) of `template`
 * has: normalized as above, and none but for debian, the one template built
 * by a package manager. Throws `invalid_packages`.
 */
export function packagesFor(template: TemplateName, input: unknown): string[] {
  const packages = normalizePackages(input);
  if (template !== 'debian' && packages.length > 0) {
    throw new HearthError('invalid_packages', `only debian images take extra packages; template ${template} takes none`, { field: 'packages', template });
  }
  return packages;
}

/** Eight hex digits of SHA-256 over the sorted set: short enough for a container name, wide enough for a machine's few images. */
export function packageSetHash(packages: readonly string[]): string {
  return createHash('sha256').update([...new Set(packages)].sort().join('\n')).digest('hex').slice(0, 8);
}

/**
 * The image's name under the images directory. busybox keeps the name it
 * always had (images already built stay in use); debian names its release
 * and the hash of its whole package set (base and extras), so changing the
 * base in code makes a new image rather than reusing an old one.
 */
export function imageKey(template: TemplateName, idmap: IdMapKey, debian?: DebianRelease & { packages: readonly string[] }): string {
  const map = `${idmap.uid}-${idmap.gid}-${idmap.count}`;
  if (template !== 'debian' || debian === undefined) return `${template}-${map}`;
  return `debian-${debian.suite}-${debian.arch}-${packageSetHash(debian.packages)}-${map}`;
}

/** Which template an image name belongs to, or null for a name that is no image's. */
export function templateOfImage(name: string): TemplateName | null {
  if (/^busybox-\d+-\d+-\d+$/.test(name)) return 'busybox';
  if (/^debian-[a-z]+-[a-z0-9]+-[0-9a-f]{8}-\d+-\d+-\d+$/.test(name)) return 'debian';
  return null;
}
