// Who heals a slice, and what it must heal; and which slivers are extras a
// gateway must remove. There is no coordinator: every live holder of a slice
// looks at its own view, finds the slivers whose gateway failed or left, and
// the one live holder that rendezvous hashing picks for the slice re-places
// them. When views disagree (a partition), each side may heal; once they meet
// the records converge on one placement (slice-records.ts), and a gateway
// whose sliver that placement puts elsewhere removes it: back to exactly N.
// Pure. Must never: make a gateway heal a slice it does not hold, or call a
// sliver extra when the placement puts its index here or on a gateway that
// is not alive.

import { createHash } from 'node:crypto';

export type Liveness = 'alive' | 'gone';

export interface HeldSlice {
  user: string;
  name: string;
  /** How many slivers the spec asks for. */
  slivers: number;
  placement: Readonly<Record<string, string>>;
}

export interface HealDuty {
  user: string;
  name: string;
  /** Indexes with no live gateway. */
  lost: number[];
  /** The live gateways that hold the others. */
  holders: string[];
}

/** The candidate with the highest SHA-256 of key and name (rendezvous hashing); undefined when there is none. */
export function rendezvousWinner(key: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; score: string } | undefined;
  for (const name of candidates) {
    const score = createHash('sha256').update(`${key}\0${name}`).digest('hex');
    if (best === undefined || score > best.score || (score === best.score && name > best.name)) best = { name, score };
  }
  return best?.name;
}

/**
 * The slices `self` must heal now: those it holds where some index has no
 * live gateway (never placed, or its gateway failed or left), and where
 * `self` is the rendezvous winner among the live holders.
 */
export function healingDuties(self: string, held: readonly HeldSlice[], liveness: (member: string) => Liveness): HealDuty[] {
  const duties: HealDuty[] = [];
  for (const slice of held) {
    const lost: number[] = [];
    const holders = new Set<string>();
    for (let i = 0; i < slice.slivers; i++) {
      const at = slice.placement[String(i)];
      if (at !== undefined && (at === self || liveness(at) === 'alive')) holders.add(at);
      else lost.push(i);
    }
    if (lost.length === 0 || !holders.has(self)) continue;
    if (rendezvousWinner(`${slice.user} ${slice.name}`, [...holders]) !== self) continue;
    duties.push({ user: slice.user, name: slice.name, lost, holders: [...holders].sort() });
  }
  return duties;
}

export interface HostedIndex {
  user: string;
  name: string;
  index: number;
}

/**
 * The slivers `self` hosts whose index the slice's placement gives to another
 * gateway that is alive: extras, once that gateway confirms it runs the index.
 * A slivers whose slice this gateway has no placement for is not judged here.
 */
export function extrasOf(self: string, hosted: readonly HostedIndex[], placementOf: (user: string, name: string) => Readonly<Record<string, string>> | undefined, liveness: (member: string) => Liveness): (HostedIndex & { placedAt: string })[] {
  const out: (HostedIndex & { placedAt: string })[] = [];
  for (const h of hosted) {
    const at = placementOf(h.user, h.name)?.[String(h.index)];
    if (at === undefined || at === self || liveness(at) !== 'alive') continue;
    out.push({ ...h, placedAt: at });
  }
  return out;
}
