// Link profiles of the emulated community network: what one radio hop of a
// community mesh costs in delay, jitter, loss and rate.
// Must never: know about namespaces, sockets or gateway counts.

import { HearthError } from '../model/errors.js';

export type LinkProfileName = 'lan' | 'wifi' | 'poor';

export interface LinkProfile {
  name: LinkProfileName;
  /** One-way delay added by each hop. */
  perHopDelayMs: number;
  /** Each hop's delay varies uniformly within ± this much. */
  perHopJitterMs: number;
  /** Probability that one hop loses a frame. */
  perHopLoss: number;
  /** Rate of a path between two gateways; 0 means unlimited. */
  rateBitsPerSecond: number;
}

export const LINK_PROFILES: Readonly<Record<LinkProfileName, LinkProfile>> = {
  lan: { name: 'lan', perHopDelayMs: 0.2, perHopJitterMs: 0, perHopLoss: 0, rateBitsPerSecond: 1_000_000_000 },
  wifi: { name: 'wifi', perHopDelayMs: 5, perHopJitterMs: 2, perHopLoss: 0.01, rateBitsPerSecond: 20_000_000 },
  poor: { name: 'poor', perHopDelayMs: 30, perHopJitterMs: 10, perHopLoss: 0.05, rateBitsPerSecond: 4_000_000 },
};

export function isLinkProfileName(value: string): value is LinkProfileName {
  return Object.hasOwn(LINK_PROFILES, value);
}

/** Looks up a profile by the name a user typed (e.g. `--link wifi`). */
export function getLinkProfile(name: string): LinkProfile {
  if (!isLinkProfileName(name)) {
    throw new HearthError('invalid_request', `unknown link profile "${name}" (known: ${Object.keys(LINK_PROFILES).join(', ')})`);
  }
  return LINK_PROFILES[name];
}
