// A sliver: one container on one gateway. This module owns the sliver's
// vocabulary (names, resources, states) and the rules of its life cycle.
// Pure: no I/O, no clock, no randomness.

import { HearthError } from './errors.js';

/** What the user asked for; what the reconciler drives toward. */
export type DesiredState = 'running' | 'stopped' | 'gone';

/**
 * What the gateway has. requested → creating → running ↔ stopped →
 * destroying → gone; failed (with a reason) from any step that gave up.
 */
export type ObservedState = 'requested' | 'creating' | 'running' | 'stopped' | 'destroying' | 'gone' | 'failed';

export const OBSERVED_STATES: readonly ObservedState[] = [
  'requested', 'creating', 'running', 'stopped', 'destroying', 'gone', 'failed',
];

export type TemplateName = 'busybox' | 'debian';
export const TEMPLATES: readonly TemplateName[] = ['busybox', 'debian'];

export interface SliverResources {
  /** CPU in cores; fractions allowed (0.25 = a quarter of one core). */
  cpu: number;
  memoryMb: number;
  diskMb: number;
  pids: number;
  /**
   * Upload and download rate guaranteed by the gateway's shaper, in Mbit/s;
   * 0 asks no guarantee (a fair share of what is left). Fractions allowed.
   */
  upMbit: number;
  downMbit: number;
}

export interface SliverSpec {
  name: string;
  template: TemplateName;
  /**
   * Debian packages beyond the template's base, sorted and without
   * duplicates (model/image.ts `packagesFor`); empty for the base image.
   */
  packages: string[];
  resources: SliverResources;
  /** Slivers of one slice may reach each other; of different slices, never. */
  slice: string;
}

export interface Sliver {
  id: string;
  spec: SliverSpec;
  desired: DesiredState;
  observed: ObservedState;
  reason: string | null;
  address: string | null;
  createdAt: string;
  updatedAt: string;
}

export const DEFAULT_RESOURCES: SliverResources = { cpu: 0.5, memoryMb: 128, diskMb: 256, pids: 256, upMbit: 0, downMbit: 0 };

/** The most bandwidth anyone may give or ask, in Mbit/s (100 Gbit/s): beyond it a figure is a mistake. */
export const MAX_MBIT = 100_000;

/** Bounds a single sliver may ask for, whatever the gateway's size. */
export const RESOURCE_BOUNDS: Readonly<Record<keyof SliverResources, { min: number; max: number }>> = {
  cpu: { min: 0.01, max: 256 },
  memoryMb: { min: 16, max: 1024 * 1024 },
  diskMb: { min: 16, max: 64 * 1024 * 1024 },
  pids: { min: 16, max: 1_000_000 },
  upMbit: { min: 0, max: MAX_MBIT },
  downMbit: { min: 0, max: MAX_MBIT },
};

const FRACTIONAL: ReadonlySet<keyof SliverResources> = new Set(['cpu', 'upMbit', 'downMbit']);

// DNS-label style: lower-case letters, digits and inner hyphens, 1..63 chars.
// It keeps names safe as file names, container names and URL segments.
const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Refuses a name that is not a DNS label; the problem names `field`, the request field it came in. */
export function validateName(kind: string, name: string, field = 'name'): void {
  if (!NAME_RE.test(name)) {
    throw new HearthError(
      'invalid_name',
      `${kind} name ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)} must be 1-63 lower-case letters, digits or inner hyphens`,
      { field },
    );
  }
}

export function validateResources(r: SliverResources): void {
  for (const key of Object.keys(RESOURCE_BOUNDS) as (keyof SliverResources)[]) {
    const value = r[key];
    const { min, max } = RESOURCE_BOUNDS[key];
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new HearthError('invalid_resources', `${key} must be between ${min} and ${max}, got ${value}`, { field: key });
    }
    if (!FRACTIONAL.has(key) && !Number.isInteger(value)) {
      throw new HearthError('invalid_resources', `${key} must be a whole number, got ${value}`, { field: key });
    }
  }
}

/** A sliver counts against the contribution until it is fully gone. */
export function holdsResources(s: Pick<Sliver, 'observed'>): boolean {
  return s.observed !== 'gone';
}

/** Which user-facing actions a sliver admits now. */
export function checkAction(s: Pick<Sliver, 'desired' | 'observed'>, action: 'start' | 'stop' | 'exec'): void {
  if (s.desired === 'gone') throw new HearthError('invalid_state', `the sliver is being deleted`);
  if (action === 'exec' && s.observed !== 'running') {
    throw new HearthError('invalid_state', `the sliver is ${s.observed}, not running`);
  }
}

/** The next step the reconciler must take to move a sliver toward its desired state. */
export type ReconcileStep =
  | { kind: 'allocate' }
  | { kind: 'create' }
  | { kind: 'start' }
  | { kind: 'stop' }
  | { kind: 'destroy' }
  | { kind: 'forget' }
  | { kind: 'check' }
  | { kind: 'none' };

/**
 * Decide the next step from the stored record alone. Drift between the record
 * and the real container (found by `check`) is corrected by the reconciler
 * rewriting `observed`, after which this function is asked again.
 */
export function nextStep(s: Pick<Sliver, 'desired' | 'observed' | 'address'>): ReconcileStep {
  if (s.desired === 'gone') {
    if (s.observed === 'gone') return { kind: 'forget' };
    return { kind: 'destroy' };
  }
  switch (s.observed) {
    case 'requested':
      return s.address === null ? { kind: 'allocate' } : { kind: 'create' };
    case 'creating':
      return { kind: 'create' };
    case 'stopped':
      return s.desired === 'running' ? { kind: 'start' } : { kind: 'check' };
    case 'running':
      return s.desired === 'stopped' ? { kind: 'stop' } : { kind: 'check' };
    case 'failed':
      return { kind: 'none' };
    case 'destroying':
      return { kind: 'destroy' };
    case 'gone':
      return { kind: 'none' };
  }
}
