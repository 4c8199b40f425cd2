// The Debian packages a request may add to a template's base image: checked
// and put in one order, so equal sets give equal image keys (image.ts). Apart
// from image.ts so that the portal can check a spec with it: no Node module.
// Must never: accept a package name that could carry an option or a path to
// debootstrap (every name is checked here before it reaches a command line).

import { HearthError } from './errors.js';
import type { TemplateName } from './sliver.js';

/** Debian policy's package name (lower case, at least two characters), nothing that could be an option. */
export const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;
/** More than this is an app image that should say so in a recipe, not a request. */
export const MAX_IMAGE_PACKAGES = 64;
const MAX_PACKAGE_NAME_LENGTH = 100;

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
