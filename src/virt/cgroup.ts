// Reads a running container's usage from its cgroup v1 files and its host
// veth counters. LXC 5 names the payload cgroup `lxc.payload.<name>`; names
// are unique on the machine, so the path follows from the name alone.
// Must never: write to a cgroup (limits are set through the LXC config).

import { readFile } from 'node:fs/promises';
import type { ContainerStats } from './driver.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export type Controller = 'cpu' | 'cpuacct' | 'memory' | 'pids';

export function cgroupFile(controller: Controller, name: string, file: string): string {
  return `${CGROUP_ROOT}/${controller}/lxc.payload.${name}/${file}`;
}

async function readNumber(path: string): Promise<number> {
  const text = (await readFile(path, 'utf8')).trim();
  // pids.max and friends say "max" for unlimited.
  return text === 'max' ? Number.POSITIVE_INFINITY : Number(text);
}

async function readCgroupNumber(controller: Controller, name: string, file: string): Promise<number> {
  return readNumber(cgroupFile(controller, name, file));
}

/** The part of a container's stats its cgroup holds; the veth counters are the rest. */
export type CgroupUsage = Omit<ContainerStats, 'rxBytes' | 'txBytes' | 'diskBytes' | 'diskLimitBytes'>;

export async function readCgroupUsage(name: string): Promise<CgroupUsage> {
  const [cpuNs, memoryBytes, memoryLimitBytes, pids] = await Promise.all([
    readCgroupNumber('cpuacct', name, 'cpuacct.usage'),
    readCgroupNumber('memory', name, 'memory.usage_in_bytes'),
    readCgroupNumber('memory', name, 'memory.limit_in_bytes'),
    readCgroupNumber('pids', name, 'pids.current'),
  ]);
  return { cpuNs, memoryBytes, memoryLimitBytes, pids };
}

/** Bytes the container received and sent: the host end's counters, swapped. */
export async function readVethBytes(hostVeth: string): Promise<{ rxBytes: number; txBytes: number }> {
  const dir = `/sys/class/net/${hostVeth}/statistics`;
  try {
    const [hostRx, hostTx] = await Promise.all([readNumber(`${dir}/rx_bytes`), readNumber(`${dir}/tx_bytes`)]);
    return { rxBytes: hostTx, txBytes: hostRx };
  } catch {
    return { rxBytes: 0, txBytes: 0 }; // the veth exists only while the container runs
  }
}

/**
 * Whether the container's payload cgroup holds tasks: true from LXC's start
 * until its stop, read from one file instead of asking LXC's monitor (which
 * costs a process per container). Used for listings polled by the reconciler.
 */
export async function hasTasks(name: string): Promise<boolean> {
  try {
    return (await readCgroupNumber('pids', name, 'pids.current')) > 0;
  } catch {
    return false;
  }
}
