// What this box has: cores, memory and the disk of the data dir. Read once at
// start and on demand for `GET /api/v1/node`; nothing here decides policy.

import { availableParallelism, totalmem, freemem } from 'node:os';
import { statfs } from 'node:fs/promises';

export interface Inventory {
  cpu: number;
  memoryMb: number;
  memoryFreeMb: number;
  diskMb: number;
  diskFreeMb: number;
}

const MB = 1024 * 1024;

export async function readInventory(dataDir: string): Promise<Inventory> {
  const fs = await statfs(dataDir);
  return {
    cpu: availableParallelism(),
    memoryMb: Math.floor(totalmem() / MB),
    memoryFreeMb: Math.floor(freemem() / MB),
    diskMb: Math.floor((fs.blocks * fs.bsize) / MB),
    diskFreeMb: Math.floor((fs.bavail * fs.bsize) / MB),
  };
}
