// The ownership marker: `<lxcpath>/<name>/hearth.json`, written last (and
// atomically) once a container is complete. A container without it was not
// finished by this driver: `list()` ignores it, `state()` calls it incomplete.
// Must never: be written before the container's config is final.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../kit/atomic-write.js';
import type { ContainerSpec } from './driver.js';

export const MARKER_FILE = 'hearth.json';

export interface ContainerMarker {
  hearth: 1;
  spec: ContainerSpec;
  /**
   * How the disk is bounded: `ext4-loop` is disk.ts's own filesystem, which
   * must be mounted before a start. Absent on containers made before disks
   * were bounded; they keep their unbounded upper directory.
   */
  disk?: 'ext4-loop';
}

export async function writeMarker(dir: string, spec: ContainerSpec, disk?: 'ext4-loop'): Promise<void> {
  const marker: ContainerMarker = { hearth: 1, spec, ...(disk !== undefined ? { disk } : {}) };
  await writeFileAtomic(join(dir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o644 });
}

/** The marker, or null when there is none or it is unreadable (treated as unfinished). */
export async function readMarker(dir: string): Promise<ContainerMarker | null> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContainerMarker>;
    return parsed.hearth === 1 && typeof parsed.spec?.name === 'string' ? (parsed as ContainerMarker) : null;
  } catch {
    return null;
  }
}
