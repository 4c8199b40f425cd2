// When a gossip key rotation may run. Serf's keyring queries reach every
// member that still gossips, and memberlist keeps gossiping to a member for
// a while after it fell out (GossipToTheDeadTime); a revoked member must
// get neither, or it would hold the new key.
// Pure. Must never: read the clock; `now` and the times members fell out
// (monotonic ms) come in.

import type { ViewState } from '../overlay/view.js';

/** memberlist's GossipToTheDeadTime per profile, plus five seconds of margin. */
export const GOSSIP_TO_THE_DEAD_MS = { lan: 35_000, wan: 65_000, local: 20_000 } as const;

export type RotationGate =
  | { kind: 'refuse'; stillIn: string[] }
  | { kind: 'wait'; ms: number }
  | { kind: 'go' };

/** When each member fell out of the gossip: kept while it stays out, dropped once it is back. */
export function trackOut(outSince: ReadonlyMap<string, number>, view: ViewState, now: number): Map<string, number> {
  const next = new Map<string, number>();
  for (const m of view.members.values()) {
    if (m.status === 'alive' || m.status === 'leaving') continue;
    next.set(m.name, outSince.get(m.name) ?? now);
  }
  return next;
}

export function rotationGate(view: ViewState, revoked: ReadonlySet<string>, outSince: ReadonlyMap<string, number>, now: number, windowMs: number): RotationGate {
  const revokedMembers = [...view.members.values()].filter((m) => m.tags !== null && revoked.has(m.tags.id));
  const stillIn = revokedMembers.filter((m) => m.status === 'alive' || m.status === 'leaving').map((m) => m.name);
  if (stillIn.length > 0) return { kind: 'refuse', stillIn };
  const wait = Math.max(0, ...revokedMembers.map((m) => windowMs - (now - (outSince.get(m.name) ?? now))));
  return wait > 0 ? { kind: 'wait', ms: wait } : { kind: 'go' };
}
