// Whether a path exists (any type, followed through links), without throwing.

import { access } from 'node:fs/promises';

export function pathExists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
