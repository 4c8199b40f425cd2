// An app: a declarative recipe that turns a slice into running services.
// One Debian image for the whole app; roles that take consecutive sliver
// indexes; per role the files to write, the shell lines to run at boot and
// the services to announce. This module owns the recipe's rules and the
// placeholder expansion that makes one sliver's share of it.
// Pure: no I/O, no clock, no randomness. Must never: accept a file path that
// leaves the sliver's own tree or lands on what the gateway writes, or leave
// a placeholder unexpanded (every one is checked at validation, so expansion
// cannot meet one it does not know).

import { HearthError } from './errors.js';
import { isObject } from './json-object.js';
import { normalizePackages } from './packages.js';
import { parseServices, type ServiceSpec } from './service.js';
import { MAX_SLICE_SLIVERS, SPREADS, sliverNameOf, type Spread } from './slice-shape.js';
import { DEFAULT_RESOURCES, validateResources, type SliverResources } from './sliver.js';

export interface AppFile {
  /** Absolute and normalized; see FILE_PATH_RULE. */
  path: string;
  content: string;
  /** Octal permission bits, four digits: "0644". */
  mode: string;
}

export interface RoleResources {
  cpu?: number;
  memoryMb?: number;
  diskMb?: number;
}

export interface AppRole {
  /** A DNS label, unique in the recipe. */
  name: string;
  slivers: number;
  /** A deploy may give this role more slivers than `slivers` (one per gateway asked for). */
  scalable: boolean;
  resources: RoleResources;
  files: AppFile[];
  /** Shell lines run in order at boot, as root with /bin/sh -c, after the files are written. */
  commands: string[];
  services: ServiceSpec[];
}

export interface AppRecipe {
  /** A DNS label; the slice's name unless the deploy names another. */
  name: string;
  description: string;
  /** Sorted and without duplicates, as image keys want them. */
  packages: string[];
  spread: Spread;
  roles: AppRole[];
}

/** One sliver's share of a recipe, placeholders expanded. */
export interface ExpandedRole {
  files: AppFile[];
  commands: string[];
  services: ServiceSpec[];
}

export const MAX_DESCRIPTION = 500;
export const MAX_ROLES = 16;
export const MAX_FILES = 16;
export const MAX_FILE_BYTES = 64 * 1024;
export const MAX_COMMANDS = 32;
export const MAX_COMMAND_LENGTH = 4096;
const MAX_PATH_LENGTH = 200;

/**
 * Where a file may not go: the kernel's and the device trees, runtime state
 * (/run, a tmpfs the boot replaces, where hearth keeps its own), and the
 * hosts file the slice network writes.
 */
export const RESERVED_PATHS = ['/proc', '/sys', '/dev', '/run', '/etc/hosts'] as const;
export const FILE_PATH_RULE = `an absolute path of /-separated segments of letters, digits, '.', '_', '+', '@' or '-' (no empty, '.' or '..' segment, no trailing /, at most ${MAX_PATH_LENGTH} characters), outside ${RESERVED_PATHS.join(', ')}`;

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const SEGMENT_RE = /^[A-Za-z0-9._+@-]+$/;
const MODE_RE = /^0[0-7]{3}$/;
const PLACEHOLDER_RE = /\{\{([^{}]*)\}\}/g;
const RECIPE_KEYS = new Set(['name', 'description', 'packages', 'spread', 'roles']);
const ROLE_KEYS = new Set(['name', 'slivers', 'scalable', 'resources', 'files', 'commands', 'services']);
const FILE_KEYS = new Set(['path', 'content', 'mode']);
const RESOURCE_KEYS = new Set(['cpu', 'memoryMb', 'diskMb']);

function fail(field: string, message: string, cause?: unknown): never {
  throw new HearthError('invalid_recipe', message, { field }, cause === undefined ? undefined : { cause });
}

function onlyKeys(input: Record<string, unknown>, keys: ReadonlySet<string>, field: string): void {
  const unknown = Object.keys(input).find((k) => !keys.has(k));
  if (unknown !== undefined) fail(field === '' ? unknown : `${field}.${unknown}`, `${field === '' ? 'the recipe' : field} has no field ${JSON.stringify(unknown)}`);
}

/** Runs a check of another module and reports its refusal as this recipe's, under `field`. */
function within<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof HearthError) fail(field, `${field}: ${err.message}`, err);
    throw err;
  }
}

function label(value: unknown, field: string): string {
  if (typeof value !== 'string' || !LABEL_RE.test(value)) fail(field, `${field} must be 1-32 lower-case letters, digits or inner hyphens`);
  return value;
}

function list(value: unknown, field: string, max: number): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(field, `${field} must be a list`);
  if (value.length > max) fail(field, `${field} holds at most ${max} entries, got ${value.length}`);
  return value;
}

/** Whether `path` is one a recipe may write: FILE_PATH_RULE. */
export function isAllowedFilePath(path: string): boolean {
  if (path.length > MAX_PATH_LENGTH || !path.startsWith('/')) return false;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => !SEGMENT_RE.test(s) || s === '.' || s === '..')) return false;
  return !RESERVED_PATHS.some((r) => path === r || path.startsWith(`${r}/`));
}

function parseFile(input: unknown, field: string): AppFile {
  if (!isObject(input)) fail(field, `${field} must be an object with path and content`);
  onlyKeys(input, FILE_KEYS, field);
  const path = input['path'];
  if (typeof path !== 'string' || !isAllowedFilePath(path)) fail(`${field}.path`, `${field}.path must be ${FILE_PATH_RULE}`);
  const content = input['content'];
  if (typeof content !== 'string') fail(`${field}.content`, `${field}.content must be a string`);
  const bytes = new TextEncoder().encode(content).length;
  if (bytes > MAX_FILE_BYTES) fail(`${field}.content`, `${field}.content is ${bytes} bytes, more than ${MAX_FILE_BYTES}`);
  const mode = input['mode'] ?? '0644';
  if (typeof mode !== 'string' || !MODE_RE.test(mode)) fail(`${field}.mode`, `${field}.mode must be four octal digits starting with 0, such as "0644"`);
  return { path, content, mode };
}

function parseCommand(input: unknown, field: string): string {
  if (typeof input !== 'string' || input.trim() === '' || input.length > MAX_COMMAND_LENGTH || /[\n\r\0]/.test(input)) {
    fail(field, `${field} must be one non-empty shell line (no newline) of at most ${MAX_COMMAND_LENGTH} characters`);
  }
  return input;
}

function parseResources(input: unknown, field: string): RoleResources {
  if (input === undefined) return {};
  if (!isObject(input)) fail(field, `${field} must be an object such as {"cpu": 1, "memoryMb": 256}`);
  onlyKeys(input, RESOURCE_KEYS, field);
  for (const [k, v] of Object.entries(input)) if (typeof v !== 'number') fail(`${field}.${k}`, `${field}.${k} must be a number`);
  const resources = input as RoleResources;
  within(field, () => validateResources({ ...DEFAULT_RESOURCES, ...resources }));
  return { ...resources };
}

function parseRole(input: unknown, field: string): AppRole {
  if (!isObject(input)) fail(field, `${field} must be an object with name and slivers`);
  onlyKeys(input, ROLE_KEYS, field);
  const name = label(input['name'], `${field}.name`);
  const slivers = input['slivers'];
  if (typeof slivers !== 'number' || !Number.isInteger(slivers) || slivers < 1 || slivers > MAX_SLICE_SLIVERS) {
    fail(`${field}.slivers`, `${field}.slivers must be a whole number from 1 to ${MAX_SLICE_SLIVERS}`);
  }
  const scalable = input['scalable'] ?? false;
  if (typeof scalable !== 'boolean') fail(`${field}.scalable`, `${field}.scalable must be true or false`);
  const resources = parseResources(input['resources'], `${field}.resources`);
  const files = list(input['files'], `${field}.files`, MAX_FILES).map((f, i) => parseFile(f, `${field}.files[${i}]`));
  files.forEach((f, i) => {
    const first = files.findIndex((g) => g.path === f.path);
    if (first !== i) fail(`${field}.files[${i}].path`, `${field}.files[${i}] writes ${f.path} as ${field}.files[${first}] does`);
  });
  const commands = list(input['commands'], `${field}.commands`, MAX_COMMANDS).map((c, i) => parseCommand(c, `${field}.commands[${i}]`));
  const services = within(`${field}.services`, () => parseServices(input['services'], `${field}.services`));
  return { name, slivers, scalable, resources, files, commands, services };
}

/** The placeholder's meaning, or null when a recipe with these roles cannot expand it. */
function placeholderKind(body: string, roles: readonly string[]): { kind: 'slice' | 'index' | 'role' } | { kind: 'host' | 'hosts'; role: string } | null {
  if (body === 'slice' || body === 'index' || body === 'role') return { kind: body };
  const m = /^(hosts?):(.*)$/.exec(body);
  if (m === null || !roles.includes(m[2] as string)) return null;
  return { kind: m[1] as 'host' | 'hosts', role: m[2] as string };
}

function checkPlaceholders(text: string, roles: readonly string[], field: string): void {
  for (const m of text.matchAll(PLACEHOLDER_RE)) {
    const body = m[1] as string;
    if (placeholderKind(body, roles) === null) {
      fail(field, `${field} holds {{${body}}}, which is none of {{slice}}, {{index}}, {{role}}, {{host:ROLE}}, {{hosts:ROLE}} with ROLE one of ${roles.join(', ')}`);
    }
  }
}

/**
 * A recipe as its author wrote it, checked and completed with defaults
 * (spread gateways; per role scalable false, no resources beyond the
 * defaults, no files, commands or services; file mode 0644). Throws
 * `invalid_recipe` naming the field, wrapping the other modules' refusals
 * (packages, resources, services) with theirs as the cause.
 */
export function validateRecipe(input: unknown): AppRecipe {
  if (!isObject(input)) fail('recipe', 'a recipe is a JSON object with name, description, packages and roles');
  onlyKeys(input, RECIPE_KEYS, '');
  const name = label(input['name'], 'name');
  const description = input['description'];
  if (typeof description !== 'string' || description.trim() === '' || description.length > MAX_DESCRIPTION) {
    fail('description', `description must be a non-empty string of at most ${MAX_DESCRIPTION} characters`);
  }
  if (input['packages'] === undefined) fail('packages', 'packages must list the Debian packages of the app image');
  const packages = within('packages', () => normalizePackages(input['packages']));
  const spread = input['spread'] ?? 'gateways';
  if (typeof spread !== 'string' || !(SPREADS as readonly string[]).includes(spread)) fail('spread', `spread must be one of ${SPREADS.join(', ')}`);
  const rolesInput = list(input['roles'], 'roles', MAX_ROLES);
  if (rolesInput.length === 0) fail('roles', 'a recipe has at least one role');
  const roles = rolesInput.map((r, i) => parseRole(r, `roles[${i}]`));
  roles.forEach((r, i) => {
    const first = roles.findIndex((s) => s.name === r.name);
    if (first !== i) fail(`roles[${i}].name`, `roles[${i}] has the name ${r.name} of roles[${first}]`);
  });
  const total = roles.reduce((n, r) => n + r.slivers, 0);
  if (total > MAX_SLICE_SLIVERS) fail('roles', `the roles ask ${total} slivers, more than a slice holds (${MAX_SLICE_SLIVERS})`);
  const names = roles.map((r) => r.name);
  roles.forEach((r, i) => {
    r.files.forEach((f, j) => checkPlaceholders(f.content, names, `roles[${i}].files[${j}].content`));
    r.commands.forEach((c, j) => checkPlaceholders(c, names, `roles[${i}].commands[${j}]`));
  });
  return { name, description, packages, spread: spread as Spread, roles };
}

/** The sliver indexes of each role: consecutive, in recipe order. */
export function roleIndexes(recipe: Pick<AppRecipe, 'roles'>): { first: number; count: number }[] {
  let next = 0;
  return recipe.roles.map((r) => {
    const range = { first: next, count: r.slivers };
    next += r.slivers;
    return range;
  });
}

/**
 * What sliver `sliverIndex` of `slice`, of role `roleIndex`, writes, runs
 * and announces: the role's files and commands with every placeholder
 * replaced. `namesOf(i)` is sliver i's name on the slice network. The recipe
 * must come from validateRecipe; an index outside the role is a RangeError
 * (a caller's bug, not a user's fault).
 */
export function expandRole(recipe: AppRecipe, roleIndex: number, slice: string, sliverIndex: number, namesOf: (index: number) => string): ExpandedRole {
  const ranges = roleIndexes(recipe);
  const role = recipe.roles[roleIndex];
  const range = ranges[roleIndex];
  if (role === undefined || range === undefined) throw new RangeError(`the recipe has no role ${roleIndex}`);
  if (sliverIndex < range.first || sliverIndex >= range.first + range.count) {
    throw new RangeError(`sliver ${sliverIndex} is not of role ${role.name} (${range.first}..${range.first + range.count - 1})`);
  }
  const names = recipe.roles.map((r) => r.name);
  const hostsOf = (name: string): string[] => {
    const { first, count } = ranges[names.indexOf(name)] as { first: number; count: number };
    return Array.from({ length: count }, (_, k) => namesOf(first + k));
  };
  const expand = (text: string): string => text.replace(PLACEHOLDER_RE, (_m, body: string) => {
    const p = placeholderKind(body, names);
    if (p === null) throw new RangeError(`{{${body}}} is no placeholder; was the recipe validated?`);
    switch (p.kind) {
      case 'slice': return slice;
      case 'index': return String(sliverIndex);
      case 'role': return role.name;
      case 'host': return hostsOf(p.role)[0] as string;
      case 'hosts': return hostsOf(p.role).join(' ');
    }
  });
  return {
    files: role.files.map((f) => ({ ...f, content: expand(f.content) })),
    commands: role.commands.map(expand),
    services: role.services.map((s) => ({ ...s, check: { ...s.check } })),
  };
}

/** How many slivers the recipe's roles ask in all. */
export function recipeSize(recipe: Pick<AppRecipe, 'roles'>): number {
  return recipe.roles.reduce((n, r) => n + r.slivers, 0);
}

/**
 * The recipe grown to `size` slivers: the indexes past its roles go to its
 * last scalable role. A smaller size leaves it as it is (the slivers past
 * the size are simply not there). Throws invalid_recipe when it must grow
 * and no role may.
 */
export function scaleRecipe(recipe: AppRecipe, size: number): AppRecipe {
  const extra = size - recipeSize(recipe);
  if (extra <= 0) return recipe;
  const last = recipe.roles.map((r) => r.scalable).lastIndexOf(true);
  if (last < 0) fail('roles', `app ${recipe.name} has ${recipeSize(recipe)} slivers and no scalable role to give ${extra} more`);
  return { ...recipe, roles: recipe.roles.map((r, i) => (i === last ? { ...r, slivers: r.slivers + extra } : r)) };
}

/**
 * How many slivers a deploy of `recipe` over `gateways` gateways asks for
 * (`hearth app deploy --gateways K`, the portal's Apps page): the recipe's
 * own size, or K when more; throws invalid_recipe when the recipe cannot
 * grow to it.
 */
export function deploySize(recipe: AppRecipe, gateways = 0): number {
  const slivers = Math.max(recipeSize(recipe), gateways);
  scaleRecipe(recipe, slivers);
  return slivers;
}

/** Which role of the (scaled) recipe sliver `index` has; undefined past its roles. */
export function roleOf(recipe: Pick<AppRecipe, 'roles'>, index: number): number | undefined {
  const i = roleIndexes(recipe).findIndex((r) => index >= r.first && index < r.first + r.count);
  return i < 0 ? undefined : i;
}

/** What each sliver of an app's slice asks: field by field, the most any role asks (the defaults where none does). */
export function recipeResources(recipe: Pick<AppRecipe, 'roles'>): SliverResources {
  const most = (key: keyof RoleResources): number => Math.max(...recipe.roles.map((r) => r.resources[key] ?? DEFAULT_RESOURCES[key]));
  return { ...DEFAULT_RESOURCES, cpu: most('cpu'), memoryMb: most('memoryMb'), diskMb: most('diskMb') };
}

/** The role sliver `index` has in an app slice of `size` slivers (grown to hold the index); undefined past it. */
export function roleAt(recipe: AppRecipe, size: number, index: number): AppRole | undefined {
  const scaled = scaleRecipe(recipe, Math.max(size, index + 1));
  return scaled.roles[roleOf(scaled, index) ?? -1];
}

/** Sliver `index`'s share of the app running as `slice` with `size` slivers, named on the slice network as `<slice>-<i>`. */
export function appShare(recipe: AppRecipe, slice: string, size: number, index: number): ExpandedRole & { role: string } {
  const scaled = scaleRecipe(recipe, size);
  const role = roleOf(scaled, index);
  if (role === undefined) throw new RangeError(`app ${recipe.name} of ${size} slivers has no sliver ${index}`);
  return { role: scaled.roles[role]?.name ?? '', ...expandRole(scaled, role, slice, index, (i) => sliverNameOf(slice, i)) };
}

/** Where a sliver keeps its app's boot script, and the marker that its share was installed. */
export const APP_BOOT_SCRIPT = '/etc/hearth/boot.d/50-app';
export const APP_MARKER = '/etc/hearth/app.installed';

const heredoc = (content: string): string => {
  const b64 = Buffer.from(content, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n').replace(/\n$/, '');
  return `<<'HEARTH_B64'\n${b64}\nHEARTH_B64`;
};

/**
 * The shell script that installs a sliver's share once: its files, then a
 * boot script with its commands (which the sliver's init runs at every
 * boot; a failing command is reported and the next still runs), then the
 * marker; then it runs the boot script and exits with its status. Run again
 * after the marker, it does nothing. Paths are safe to quote (FILE_PATH_RULE)
 * and contents travel as base64, so nothing in a recipe is read as shell
 * here but its commands.
 */
export function installScript(app: string, share: ExpandedRole & { role: string }): string {
  const boot = [
    '#!/bin/sh',
    `# hearth app ${app}, role ${share.role}: run at every boot of this sliver.`,
    'failed=0',
    ...share.commands.map((c, i) => `${c} || { echo "hearth: boot command ${i + 1} of ${share.commands.length} failed" >&2; failed=1; }`),
    'exit $failed',
    '',
  ].join('\n');
  const write = (path: string, content: string, mode: string): string[] => [
    `mkdir -p '${path.slice(0, path.lastIndexOf('/')) || '/'}'`,
    `base64 -d > '${path}' ${heredoc(content)}`,
    `chmod ${mode} '${path}'`,
  ];
  return [
    'set -e',
    `[ -e ${APP_MARKER} ] && exit 0`,
    ...share.files.flatMap((f) => write(f.path, f.content, f.mode)),
    ...write(APP_BOOT_SCRIPT, boot, '0755'),
    `touch ${APP_MARKER}`,
    'set +e',
    `${APP_BOOT_SCRIPT} </dev/null`,
    '',
  ].join('\n');
}
