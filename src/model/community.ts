// The community side of a gateway as others see it: its phase and status,
// the vocabulary the API, the CLI and the metrics share. Pure types.

/** none: not in a community. starting: the overlay is being brought up. joined: it runs.
 *  retrying: it is down and will be tried again. revoked: the community revoked this
 *  gateway; nothing is tried until the owner leaves. */
export type CommunityPhase = 'none' | 'starting' | 'joined' | 'retrying' | 'revoked';

export const COMMUNITY_PHASES: readonly CommunityPhase[] = ['none', 'starting', 'joined', 'retrying', 'revoked'];

export interface CommunityStatus {
  name: string;
  self: string;
  id: string;
  /** joined, or why not: starting, retrying (with a reason and the next attempt), revoked. */
  state: Exclude<CommunityPhase, 'none'>;
  reason: string | null;
  /** What the owner can do about `reason`, where anything helps. */
  fix: string | null;
  /** When the state began (ISO 8601). */
  since: string;
  /** Failed attempts in a row to bring the community side up. */
  attempts: number;
  /** When the next attempt is due (ISO 8601), while retrying. */
  retryAt: string | null;
  /** A doubt about a joined gateway, e.g. no other member answers. */
  warning: string | null;
  members: { alive: number; failed: number; left: number; total: number };
  serfRestarts: number;
  badTags: number;
}
