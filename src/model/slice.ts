// A slice: a user's set of slivers, spread over the community and described
// by a spec the user signs. This is the spec's shape, its defaults and its
// validation, what a resize asks and which of several resizes holds, and the
// names its slivers get on their hosts. Pure.
// Must never: trust a spec that did not come through parseSliceSpec, or a
// resize body that did not come through parseResizeBody.

import { HearthError } from './errors.js';
import { isObject } from './json-object.js';
import { packagesFor } from './packages.js';
import { MAX_SLICE_SLIVERS, SPREADS, type Spread } from './slice-shape.js';
import { parseServices, type ServiceSpec } from './service.js';
import { recipeResources, recipeSize, scaleRecipe, validateRecipe, type AppRecipe } from './app.js';
import {
  DEFAULT_RESOURCES, TEMPLATES, validateName, validateResources, type SliverResources, type TemplateName,
} from './sliver.js';

/** Where the slivers of a slice must not share: a gateway, or a zone (a tag the owner sets). */
export { MAX_SLICE_SLIVERS, SPREADS, sliverNameOf, type Spread } from './slice-shape.js';

export interface SliceSpec {
  name: string;
  /** How many slivers the community keeps running. */
  slivers: number;
  template: TemplateName;
  /**
   * Debian packages beyond the template's base that every sliver's image
   * has (debian only; sorted, without duplicates); empty for the base image.
   */
  packages: string[];
  /** Per sliver. */
  resources: SliverResources;
  spread: Spread;
  /** Place close (by Vivaldi RTT) to this gateway, by member name. */
  near: string | null;
  /** OpenSSH public key lines installed in every sliver. */
  sshKeys: string[];
  /** The slice expires this long after it was signed, unless renewed. */
  lifetimeSec: number;
  /** Services every sliver offers, each forwarded, checked and announced by its own gateway. */
  services: ServiceSpec[];
  /**
   * The app the slice runs, or null: each sliver takes its role's files,
   * boot commands and services from it (model/app.ts appShare), and the
   * slice its packages.
   */
  app: AppRecipe | null;
}

/** Short enough that `<name>-<index>` is still a valid sliver name. */
export const MAX_SLICE_NAME = 48;
export const MAX_SSH_KEYS = 8;
const MAX_SSH_KEY_LENGTH = 1024;
export const MIN_LIFETIME_SEC = 60;
export const MAX_LIFETIME_SEC = 90 * 24 * 3600;
export const DEFAULT_LIFETIME_SEC = 7 * 24 * 3600;

// packages and services came later and are optional, so specs signed before them stay valid (the base image, no services).
const SPEC_FIELDS = ['name', 'slivers', 'template', 'packages', 'resources', 'spread', 'near', 'sshKeys', 'lifetimeSec', 'services', 'app'];
// upMbit and downMbit came later and are optional, so specs signed before them stay valid.
const RESOURCE_FIELDS = ['cpu', 'memoryMb', 'diskMb', 'pids', 'upMbit', 'downMbit'];

const invalid = (detail: string, field: string): HearthError => new HearthError('invalid_request', detail, { field });

/** validateName, naming the field that holds the name. */
function checkName(kind: string, value: string, field: string): void {
  try {
    validateName(kind, value);
  } catch (err) {
    if (err instanceof HearthError) throw new HearthError(err.code, err.message, { field });
    throw err;
  }
}

/** A slice name as a spec has it; throws invalid_request or invalid_name naming `field`. */
export function checkSliceName(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`, field);
  checkName('slice', value, field);
  if (value.length > MAX_SLICE_NAME) throw new HearthError('invalid_name', `a slice name has at most ${MAX_SLICE_NAME} characters`, { field });
  return value;
}

/** A slice's number of slivers, refused alike in a spec and in a resize. */
function checkSlivers(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SLICE_SLIVERS) {
    throw invalid(`slivers must be a whole number from 1 to ${MAX_SLICE_SLIVERS}`, 'slivers');
  }
  return value;
}

/**
 * A spec as a user may write it (defaults for what is left out), checked
 * field by field; throws invalid_request, invalid_name, invalid_resources
 * invalid_packages, invalid_services or invalid_recipe naming the field.
 */
export function parseSliceSpec(input: unknown): SliceSpec {
  if (!isObject(input)) throw invalid('a slice spec is a JSON object', 'spec');
  const unknown = Object.keys(input).filter((k) => !SPEC_FIELDS.includes(k));
  if (unknown.length > 0) throw invalid(`unknown fields in the slice spec: ${unknown.slice(0, 5).join(', ')}`, unknown[0] ?? 'spec');

  const name = checkSliceName(input['name'], 'name');
  const slivers = checkSlivers(input['slivers'] ?? 1);

  const app = input['app'] === undefined || input['app'] === null ? null : validateRecipe(input['app']);
  const template = input['template'] ?? (app === null ? 'busybox' : 'debian');
  if (typeof template !== 'string' || !(TEMPLATES as readonly string[]).includes(template)) {
    throw new HearthError('unknown_template', `unknown template ${JSON.stringify(template)}; known: ${TEMPLATES.join(', ')}`, { field: 'template' });
  }
  if (app !== null) {
    // An app's slivers are debian ones of its image, and its services are its roles'.
    if (template !== 'debian') throw invalid('an app runs on debian slivers', 'template');
    for (const field of ['packages', 'services']) {
      if (input[field] !== undefined) throw invalid(`an app's slice takes its ${field} from the recipe`, field);
    }
    if (slivers < recipeSize(app)) throw invalid(`app ${app.name} needs at least ${recipeSize(app)} slivers`, 'slivers');
    scaleRecipe(app, slivers);
  }
  const packages = app === null ? packagesFor(template as TemplateName, input['packages']) : app.packages;

  const given = input['resources'] ?? {};
  if (!isObject(given)) throw invalid('resources must be an object', 'resources');
  const extra = Object.keys(given).filter((k) => !RESOURCE_FIELDS.includes(k));
  if (extra.length > 0) throw invalid(`unknown resources: ${extra.slice(0, 5).join(', ')}`, 'resources');
  for (const [k, v] of Object.entries(given)) {
    if (typeof v !== 'number') throw new HearthError('invalid_resources', `${k} must be a number`, { field: k });
  }
  // An app's slivers ask, unless the spec says otherwise, the most any of its roles asks.
  const resources: SliverResources = { ...(app === null ? DEFAULT_RESOURCES : recipeResources(app)), ...(given as Partial<SliverResources>) };
  validateResources(resources);

  const spread = input['spread'] ?? app?.spread ?? 'gateways';
  if (typeof spread !== 'string' || !(SPREADS as readonly string[]).includes(spread)) {
    throw invalid(`spread must be one of ${SPREADS.join(', ')}`, 'spread');
  }

  const near = input['near'] ?? null;
  if (near !== null) {
    if (typeof near !== 'string') throw invalid('near must be a gateway name', 'near');
    checkName('gateway', near, 'near');
  }

  const sshKeys = input['sshKeys'] ?? [];
  if (!Array.isArray(sshKeys) || sshKeys.length > MAX_SSH_KEYS) throw invalid(`sshKeys must be a list of at most ${MAX_SSH_KEYS} public keys`, 'sshKeys');
  for (const key of sshKeys) {
    // One line of an authorized_keys file: a type, base64, an optional comment; nothing that could add a line or an option.
    if (typeof key !== 'string' || key.length > MAX_SSH_KEY_LENGTH || !/^(ssh|ecdsa-sha2|sk-)[a-z0-9@.-]* [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$/.test(key)) {
      throw invalid('each ssh key must be one OpenSSH public key line', 'sshKeys');
    }
  }

  const lifetimeSec = input['lifetimeSec'] ?? DEFAULT_LIFETIME_SEC;
  if (typeof lifetimeSec !== 'number' || !Number.isInteger(lifetimeSec) || lifetimeSec < MIN_LIFETIME_SEC || lifetimeSec > MAX_LIFETIME_SEC) {
    throw invalid(`lifetimeSec must be whole seconds from ${MIN_LIFETIME_SEC} to ${MAX_LIFETIME_SEC}`, 'lifetimeSec');
  }

  const services = parseServices(input['services']);

  return {
    name, slivers, template: template as TemplateName, packages, resources, spread: spread as Spread,
    near: near as string | null, sshKeys: sshKeys as string[], lifetimeSec, services, app,
  };
}


/** What a slice's signed documents are called: a create carries a spec, the others name the slice. */
export const SLICE_KINDS = { create: 'slice.create', delete: 'slice.delete', renew: 'slice.renew', resize: 'slice.resize' } as const;

/** What a slice.resize document asks: that the slice have this many slivers from now on. */
export interface ResizeBody {
  slice: string;
  slivers: number;
}

/**
 * A slice.resize body: exactly `{"slice": NAME, "slivers": N}`, or
 * malformed_document; the name and the number are refused as in a spec
 * (invalid_name, invalid_request naming the field).
 */
export function parseResizeBody(input: unknown): ResizeBody {
  if (!isObject(input) || Object.keys(input).sort().join(',') !== 'slice,slivers') {
    throw new HearthError('malformed_document', `a slice.resize document names one slice and its new number of slivers: {"slice": …, "slivers": 1..${MAX_SLICE_SLIVERS}}`);
  }
  return { slice: checkSliceName(input['slice'], 'slice'), slivers: checkSlivers(input['slivers']) };
}

/** A resize as a host holds it: when the user signed it, its nonce, and the number of slivers it asks. */
export interface ResizeState {
  at: number;
  nonce: string;
  slivers: number;
}

/**
 * Which of `resizes` holds for a slice whose create document was signed at
 * `createdAt`: of those signed no earlier (timestamps are whole seconds, so
 * the same second counts), the newest; of two signed in one second, the one
 * with the greater nonce, so that every host picks the same. Undefined when
 * none holds: the slice has its spec's number of slivers.
 */
export function currentResize(createdAt: number, resizes: readonly (ResizeState | undefined)[]): ResizeState | undefined {
  let best: ResizeState | undefined;
  for (const r of resizes) {
    if (r === undefined || r.at < createdAt) continue;
    if (best === undefined || r.at > best.at || (r.at === best.at && r.nonce > best.nonce)) best = r;
  }
  return best;
}

/** How a slice is doing, as gathered from its hosts. */
export type SliceState = 'running' | 'starting' | 'degraded' | 'deleted';

export interface SliceSliverView {
  index: number;
  /** Where it runs; null when no reachable gateway hosts it (a host that did not answer is named, its sliver `unknown`). */
  gateway: string | null;
  name: string | null;
  /** The sliver's observed state on its host; `missing` when no gateway has it, `unknown` when its host did not answer. */
  observed: string;
  address: string | null;
  reason: string | null;
}

/** A slice as any gateway shows it to a user. */
export interface SliceView {
  name: string;
  /** The user's key id (SHA256:…). */
  user: string;
  state: SliceState;
  spec: SliceSpec;
  signedAt: string;
  expiresAt: string;
  version: number;
  slivers: SliceSliverView[];
  /** Members that did not answer while the slice was gathered. */
  unreachable: string[];
}
