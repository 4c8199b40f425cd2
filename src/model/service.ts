// A service: something a sliver offers on the network, declared by its user
// (name, type, port, protocol, health check), forwarded on its gateway's
// community address and announced to the community while it is healthy.
// This module owns the declaration's rules and the health state machine.
// Pure: no I/O, no clock, no randomness. Must never: accept a declaration
// that would forward a port twice or name a type no one can look up.

import { HearthError } from './errors.js';
import { isObject } from './json-object.js';

/** The kinds of service the directory knows; a client looks services up by these. */
export const SERVICE_TYPES = ['http', 'hls', 'webdav', 'bittorrent-tracker', 'bittorrent', 'syncthing', 'ssh'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export type ServiceProtocol = 'tcp' | 'udp';

/** How the gateway checks a service: connect to its port, ask an HTTP path for a 2xx/3xx, or not at all. */
export type ServiceCheck =
  | { kind: 'tcp'; intervalSec: number; timeoutSec: number }
  | { kind: 'http'; path: string; intervalSec: number; timeoutSec: number }
  | { kind: 'none' };

export interface ServiceSpec {
  /** Unique within its sliver; a DNS label. */
  name: string;
  type: ServiceType;
  /** The port inside the sliver. */
  port: number;
  protocol: ServiceProtocol;
  /** A fixed port on the gateway; null: the gateway picks one from its service range. */
  hostPort: number | null;
  check: ServiceCheck;
}

export const MAX_SERVICES = 8;
export const CHECK_BOUNDS = { intervalSec: { min: 1, max: 300, default: 5 }, timeoutSec: { min: 1, max: 60, default: 2 } } as const;
/** Ports a user may fix on a gateway: not the privileged ones. */
export const HOST_PORT_MIN = 1024;
/** Where a gateway picks service ports when none is fixed. */
export const SERVICE_PORT_RANGE = { first: 40000, last: 40999 } as const;
/** Failed checks in a row that withdraw a service; one success brings it back. */
export const FAILURES_TO_WITHDRAW = 2;

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const PATH_RE = /^\/[\x21-\x7e]{0,199}$/;
const KEYS = new Set(['name', 'type', 'port', 'protocol', 'hostPort', 'check']);
const CHECK_KEYS = new Set(['kind', 'path', 'intervalSec', 'timeoutSec']);

function fail(field: string, message: string): never {
  throw new HearthError('invalid_services', message, { field });
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, `${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseCheck(input: unknown, protocol: ServiceProtocol, field: string): ServiceCheck {
  if (input === undefined) {
    // A UDP port cannot be probed by connecting; a TCP one can.
    return protocol === 'udp' ? { kind: 'none' } : { kind: 'tcp', intervalSec: CHECK_BOUNDS.intervalSec.default, timeoutSec: CHECK_BOUNDS.timeoutSec.default };
  }
  if (!isObject(input)) fail(field, `${field} must be an object such as {"kind": "tcp"}`);
  const unknown = Object.keys(input).filter((k) => !CHECK_KEYS.has(k));
  if (unknown.length > 0) fail(`${field}.${unknown[0] ?? ''}`, `${field} has no field ${JSON.stringify(unknown[0])}`);
  const kind = input['kind'];
  if (kind === 'none') {
    if (Object.keys(input).length > 1) fail(field, `${field} of kind none takes no other field`);
    return { kind: 'none' };
  }
  if (kind !== 'tcp' && kind !== 'http') fail(`${field}.kind`, `${field}.kind must be tcp, http or none, got ${JSON.stringify(kind)}`);
  if (protocol === 'udp') fail(`${field}.kind`, `a udp service cannot be checked by ${kind}; use {"kind": "none"}`);
  const intervalSec = input['intervalSec'] === undefined ? CHECK_BOUNDS.intervalSec.default
    : integer(input['intervalSec'], `${field}.intervalSec`, CHECK_BOUNDS.intervalSec.min, CHECK_BOUNDS.intervalSec.max);
  const timeoutSec = input['timeoutSec'] === undefined ? CHECK_BOUNDS.timeoutSec.default
    : integer(input['timeoutSec'], `${field}.timeoutSec`, CHECK_BOUNDS.timeoutSec.min, CHECK_BOUNDS.timeoutSec.max);
  if (timeoutSec > intervalSec) fail(`${field}.timeoutSec`, `${field}.timeoutSec (${timeoutSec}) must not exceed its intervalSec (${intervalSec})`);
  if (kind === 'tcp') {
    if (input['path'] !== undefined) fail(`${field}.path`, `${field}.path is for http checks only`);
    return { kind, intervalSec, timeoutSec };
  }
  const path = input['path'] ?? '/';
  if (typeof path !== 'string' || !PATH_RE.test(path)) fail(`${field}.path`, `${field}.path must start with / and hold printable characters only (at most 200)`);
  return { kind, path, intervalSec, timeoutSec };
}

function parseOne(input: unknown, field: string): ServiceSpec {
  if (!isObject(input)) fail(field, `${field} must be an object with name, type and port`);
  const unknown = Object.keys(input).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) fail(`${field}.${unknown[0] ?? ''}`, `${field} has no field ${JSON.stringify(unknown[0])}`);
  const name = input['name'];
  if (typeof name !== 'string' || !NAME_RE.test(name)) fail(`${field}.name`, `${field}.name must be 1-32 lower-case letters, digits or inner hyphens`);
  const type = input['type'];
  if (typeof type !== 'string' || !(SERVICE_TYPES as readonly string[]).includes(type)) {
    fail(`${field}.type`, `${field}.type ${JSON.stringify(type)} is not a service type; known: ${SERVICE_TYPES.join(', ')}`);
  }
  const port = integer(input['port'], `${field}.port`, 1, 65535);
  const protocol = input['protocol'] ?? 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') fail(`${field}.protocol`, `${field}.protocol must be tcp or udp, got ${JSON.stringify(protocol)}`);
  const hostPort = input['hostPort'] === undefined || input['hostPort'] === null ? null : integer(input['hostPort'], `${field}.hostPort`, HOST_PORT_MIN, 65535);
  return { name, type: type as ServiceType, port, protocol, hostPort, check: parseCheck(input['check'], protocol, `${field}.check`) };
}

/**
 * A sliver's service declarations, checked and completed with defaults
 * (protocol tcp, a tcp check every 5 s with a 2 s timeout; udp: no check).
 * Throws `invalid_services` naming the field: not a list, too many, a bad
 * field, a name or a (protocol, port) or (protocol, hostPort) used twice.
 */
export function parseServices(input: unknown, field = 'services'): ServiceSpec[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) fail(field, `${field} must be a list of services`);
  if (input.length > MAX_SERVICES) fail(field, `at most ${MAX_SERVICES} services a sliver, got ${input.length}`);
  const specs = input.map((s, i) => parseOne(s, `${field}[${i}]`));
  const seen = new Map<string, number>();
  specs.forEach((s, i) => {
    for (const key of [`name ${s.name}`, `port ${s.protocol}/${s.port}`, ...(s.hostPort === null ? [] : [`gateway port ${s.protocol}/${s.hostPort}`])]) {
      const first = seen.get(key);
      if (first !== undefined) fail(`${field}[${i}]`, `${field}[${i}] has the same ${key} as ${field}[${first}]`);
      seen.set(key, i);
    }
  });
  return specs;
}

/** Where a declared service is forwarded on its gateway, once the gateway gave it a port. */
export interface ForwardedService extends ServiceSpec {
  hostPort: number;
}

/** The lowest free port of the service range, or undefined when all are taken. */
export function pickServicePort(taken: { has(port: number): boolean }): number | undefined {
  for (let p = SERVICE_PORT_RANGE.first; p <= SERVICE_PORT_RANGE.last; p++) if (!taken.has(p)) return p;
  return undefined;
}

/** A service's health as its gateway sees it: announced while up. */
export interface HealthState {
  up: boolean;
  /** Failed checks in a row. */
  failures: number;
  /** The last check's failure, for the owner; null after a success. */
  reason: string | null;
}

/** A new service is not announced until its first check passes. */
export const UNCHECKED: HealthState = { up: false, failures: 0, reason: 'not checked yet' };

/** The health after one check: one success brings a service up, FAILURES_TO_WITHDRAW failures in a row take it down. */
export function stepHealth(state: HealthState, outcome: { ok: true } | { ok: false; reason: string }): HealthState {
  if (outcome.ok) return { up: true, failures: 0, reason: null };
  const failures = state.failures + 1;
  return { up: state.up && failures < FAILURES_TO_WITHDRAW, failures, reason: outcome.reason };
}
