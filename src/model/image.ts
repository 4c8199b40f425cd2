// What names an image: the key (template, suite, architecture, package set,
// id map) every gateway on a machine agrees on, so two gateways asking for
// the same thing share one image. What may go in one (the package list) is
// packages.ts's, re-exported here. Pure.

import { createHash } from 'node:crypto';
import type { TemplateName } from './sliver.js';

export { MAX_IMAGE_PACKAGES, PACKAGE_NAME_RE, normalizePackages, packagesFor } from './packages.js';

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
