// <data dir>/community.json: which community this gateway is in, the key
// its agent uses on its own serf's RPC, and a few members' addresses to
// find the community again after a restart. Mode 0600: the RPC key is in it.
// Must never: leave half a file (it is replaced whole, fsynced).

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../kit/atomic-write.js';
import type { ViewState } from '../overlay/view.js';

export interface CommunityFile {
  name: string;
  rpcAuthKey: string;
  joinedAt: string;
  /** Addresses from the invite (or our own, for the founder): retried at every start until one answers. */
  seeds: string[];
}

/** The file's contents, or undefined when there is none (not in a community) or it cannot be read. */
export async function readCommunityFile(path: string): Promise<CommunityFile | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CommunityFile;
  } catch {
    return undefined;
  }
}

export function writeCommunityFile(path: string, state: CommunityFile): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Up to five live hearth members' gossip addresses, in a stable order, to rejoin through. */
export function seedsFrom(view: ViewState, self: string): string[] {
  return [...view.members.values()]
    .filter((m) => m.status === 'alive' && m.name !== self && m.tags !== null)
    .map((m) => m.serfAddr).sort().slice(0, 5);
}
