// The version every part reports (API, tags, CLI), read once from the
// package.json above this file (its depth differs between src/ and dist/src/),
// and the folder that package.json is in.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('package.json not found above ' + from);
  }
}

const packageJson = findPackageJson(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
/** Where this install of hearth lives: the shipped app recipes are in its `apps/`. */
export const PACKAGE_ROOT: string = dirname(packageJson);
