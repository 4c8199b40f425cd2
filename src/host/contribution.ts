// The owner's contribution policy and admission: how much of the box the
// community may use, and whether one more sliver fits. Pure.
// Must never: read the machine (inventory.ts does) or the store (callers pass usage).

import { HearthError } from '../model/errors.js';
import type { ResourceVector } from '../model/resources.js';
import { MAX_MBIT, type SliverResources } from '../model/sliver.js';
import type { Inventory } from './inventory.js';

/**
 * The bandwidth the owner gives, in Mbit/s each way. A direction left out
 * is not shaped, and no sliver can be guaranteed a rate in it. Kept out of
 * the resource vector: it is admitted here but never gossiped (the tags'
 * budget is small, and placement does not weigh it).
 */
export interface BandwidthGiven {
  upMbit?: number;
  downMbit?: number;
}

/** What the owner offers to the community. */
export type Contribution = ResourceVector & BandwidthGiven;

/** What this gateway's slivers hold: the resource vector, and the rates they are guaranteed. */
export interface Usage extends ResourceVector {
  upMbit: number;
  downMbit: number;
}

type Admitted = keyof ResourceVector | 'upMbit' | 'downMbit';

export interface Shortfall {
  resource: Admitted;
  requested: number;
  available: number;
}

const UNITS: Record<Admitted, string> = { cpu: 'cores', memoryMb: 'MB', diskMb: 'MB', slivers: 'slivers', upMbit: 'Mbit/s', downMbit: 'Mbit/s' };
const DIRECTIONS = ['upMbit', 'downMbit'] as const;
const thousandths = (n: number): number => Math.round(n * 1000) / 1000;

/** A default that leaves the box usable for its owner: half the cores and memory, a quarter of the free disk. */
export function defaultContribution(inv: Inventory): Contribution {
  return {
    cpu: Math.max(1, Math.floor(inv.cpu / 2)),
    memoryMb: Math.floor(inv.memoryMb / 2),
    diskMb: Math.floor(inv.diskFreeMb / 4),
    slivers: 32,
  };
}

export function usageOf(resources: readonly SliverResources[]): Usage {
  const usage: Usage = { cpu: 0, memoryMb: 0, diskMb: 0, slivers: 0, upMbit: 0, downMbit: 0 };
  for (const r of resources) {
    usage.cpu += r.cpu;
    usage.memoryMb += r.memoryMb;
    usage.diskMb += r.diskMb;
    usage.slivers += 1;
    usage.upMbit += r.upMbit;
    usage.downMbit += r.downMbit;
  }
  usage.cpu = thousandths(usage.cpu);
  usage.upMbit = thousandths(usage.upMbit);
  usage.downMbit = thousandths(usage.downMbit);
  return usage;
}

export function freeOf(contribution: Contribution, usage: Usage): ResourceVector {
  return {
    cpu: Math.max(0, Math.round((contribution.cpu - usage.cpu) * 1000) / 1000),
    memoryMb: Math.max(0, contribution.memoryMb - usage.memoryMb),
    diskMb: Math.max(0, contribution.diskMb - usage.diskMb),
    slivers: Math.max(0, contribution.slivers - usage.slivers),
  };
}

/** Throws `insufficient_resources` naming every resource that is short. */
export function admit(contribution: Contribution, usage: Usage, request: SliverResources): void {
  const free = freeOf(contribution, usage);
  const asked: ResourceVector = { cpu: request.cpu, memoryMb: request.memoryMb, diskMb: request.diskMb, slivers: 1 };
  const short: Shortfall[] = [];
  for (const key of Object.keys(asked) as (keyof ResourceVector)[]) {
    if (asked[key] > free[key] + 1e-9) short.push({ resource: key, requested: asked[key], available: free[key] });
  }
  // A guarantee must fit in what the owner gives; asking none always fits (the sliver gets a fair share).
  for (const key of DIRECTIONS) {
    const available = Math.max(0, thousandths((contribution[key] ?? 0) - usage[key]));
    if (request[key] > 0 && request[key] > available + 1e-9) short.push({ resource: key, requested: request[key], available });
  }
  if (short.length > 0) {
    const detail = short.map((s) => `${s.resource}: asked ${s.requested} ${UNITS[s.resource]}, ${s.available} free`).join('; ');
    throw new HearthError('insufficient_resources', `this gateway cannot fit the sliver (${detail})`, { short });
  }
}

/** The owner may not promise more than the box has. */
export function validateContribution(c: Contribution, inv: Inventory): void {
  const over: string[] = [];
  if (!(c.cpu > 0) || c.cpu > inv.cpu) over.push(`cpu must be in (0, ${inv.cpu}]`);
  if (!(c.memoryMb > 0) || c.memoryMb > inv.memoryMb) over.push(`memoryMb must be in (0, ${inv.memoryMb}]`);
  if (!(c.diskMb > 0) || c.diskMb > inv.diskMb) over.push(`diskMb must be in (0, ${inv.diskMb}]`);
  if (!Number.isInteger(c.slivers) || c.slivers < 0 || c.slivers > 4096) over.push('slivers must be a whole number in [0, 4096]');
  over.push(...bandwidthFaults(c));
  if (over.length > 0) throw new HearthError('invalid_resources', `contribution: ${over.join('; ')}`);
}

/** Bandwidth given must be a rate a link could have; throws invalid_resources. */
export function validateBandwidth(b: BandwidthGiven): void {
  const faults = bandwidthFaults(b);
  if (faults.length > 0) throw new HearthError('invalid_resources', `bandwidth: ${faults.join('; ')}`);
}

function bandwidthFaults(b: BandwidthGiven): string[] {
  return DIRECTIONS.flatMap((key) => {
    const v = b[key];
    return v === undefined || (Number.isFinite(v) && v > 0 && v <= MAX_MBIT) ? [] : [`${key} must be in (0, ${MAX_MBIT}] Mbit/s or left out`];
  });
}
