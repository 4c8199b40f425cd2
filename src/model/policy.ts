// The owner's say over what the community may do on this gateway: a mode
// (production takes new slivers; safe keeps what runs and takes nothing new;
// drain has its slivers moved elsewhere, then takes nothing) and who may use
// it (any member's user within a per-user quota of slivers, or only listed
// user keys). Pure: shape, validation, and the admission of one more sliver.
// Must never: admit a user the policy does not, or a sliver in safe or drain.

import { HearthError } from './errors.js';

export type OwnerMode = 'production' | 'safe' | 'drain';
export const OWNER_MODES: readonly OwnerMode[] = ['production', 'safe', 'drain'];

export interface UserPolicy {
  /** Most slivers one user may have here; null: no limit but the contribution. */
  quota: number | null;
  /** Only these users (SHA256:… key ids) may; null: any user of the community. */
  allow: string[] | null;
}

export interface OwnerPolicy {
  mode: OwnerMode;
  users: UserPolicy;
  /** Where the gateway stands (a neighbourhood, a building): slices spread over zones never put two slivers in one. */
  zone: string | null;
}

export const DEFAULT_POLICY: OwnerPolicy = { mode: 'production', users: { quota: null, allow: null }, zone: null };
/** A zone fits a tag: 1-24 lower-case letters, digits or hyphens. */
export const ZONE_PATTERN = /^[a-z0-9-]{1,24}$/;

export const MAX_QUOTA = 10_000;
export const MAX_ALLOWED_USERS = 1000;
/** A user id: `SHA256:…` of the user's key, as `hearth user show` prints it. */
export const USER_ID = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Checks a policy as the owner sent it; throws invalid_request naming the field. */
export function parsePolicy(input: unknown): OwnerPolicy {
  const p = input as Partial<OwnerPolicy> | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new HearthError('invalid_request', 'a policy is an object', { field: 'policy' });
  const mode = p.mode ?? 'production';
  if (!OWNER_MODES.includes(mode)) throw new HearthError('invalid_request', `mode must be one of ${OWNER_MODES.join(', ')}`, { field: 'mode' });
  const users = (p.users ?? {}) as Partial<UserPolicy>;
  const quota = users.quota ?? null;
  if (quota !== null && (!Number.isInteger(quota) || quota < 0 || quota > MAX_QUOTA)) {
    throw new HearthError('invalid_request', `quota must be a whole number of slivers from 0 to ${MAX_QUOTA}, or null`, { field: 'quota' });
  }
  const allow = users.allow ?? null;
  if (allow !== null) {
    if (!Array.isArray(allow) || allow.length > MAX_ALLOWED_USERS) throw new HearthError('invalid_request', `allow must be a list of at most ${MAX_ALLOWED_USERS} user ids, or null`, { field: 'allow' });
    const bad = allow.find((u) => typeof u !== 'string' || !USER_ID.test(u));
    if (bad !== undefined) throw new HearthError('invalid_request', `${JSON.stringify(bad).slice(0, 80)} is not a user id (SHA256:…, as hearth user show prints)`, { field: 'allow' });
  }
  const zone = p.zone ?? null;
  if (zone !== null && (typeof zone !== 'string' || !ZONE_PATTERN.test(zone))) {
    throw new HearthError('invalid_request', 'zone must be 1-24 lower-case letters, digits or hyphens, or null', { field: 'zone' });
  }
  return { mode, users: { quota, allow: allow === null ? null : [...new Set(allow)].sort() }, zone };
}

/** Whether `user`, who has `held` slivers here already, may have one more. */
export function admitUser(policy: Pick<OwnerPolicy, 'mode' | 'users'>, user: string, held: number): void {
  if (policy.mode !== 'production') {
    throw new HearthError('not_accepting', `this gateway is in ${policy.mode} mode and takes no new slivers`, { mode: policy.mode });
  }
  if (policy.users.allow !== null && !policy.users.allow.includes(user)) {
    throw new HearthError('forbidden', 'this gateway admits only the users its owner listed');
  }
  if (policy.users.quota !== null && held >= policy.users.quota) {
    throw new HearthError('quota_exceeded', `a user may have ${policy.users.quota} slivers on this gateway and you have ${held}`, { quota: policy.users.quota });
  }
}
