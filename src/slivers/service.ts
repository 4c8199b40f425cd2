// What a user can ask of this gateway's slivers, without HTTP: validation,
// admission, desired-state changes and exec. The local API uses it, and the
// peer route that hosts a slice's sliver will, so it lives apart from both. Every change is one store
// transaction (admission and insert together, so two concurrent requests
// cannot both take the last slot) followed by a kick to the reconciler.
// Must never: touch containers or the network directly, except exec, which
// is a read-through to the driver.

import { randomBytes } from 'node:crypto';
import { HearthError } from '../model/errors.js';
import { packagesFor } from '../model/image.js';
import {
  DEFAULT_RESOURCES, TEMPLATES, checkAction, validateName, validateResources,
  type SliverResources, type SliverSpec, type TemplateName,
} from '../model/sliver.js';
import type { ResourceVector } from '../model/resources.js';
import { admit, freeOf, usageOf, type Contribution, type Usage } from '../host/contribution.js';
import type { ContainerStats, Driver, ExecResult, ExecSession } from '../virt/driver.js';
import { parseServices, pickServicePort, type ServiceSpec } from '../model/service.js';
import type { PortForwardRecord, ServiceRecord, Store, StoredSliver } from '../store/store.js';

export interface CreateSliverRequest {
  name: string;
  template?: string;
  /** Debian packages beyond the base (debian only). */
  packages?: string[];
  resources?: Partial<SliverResources>;
  slice?: string;
  start?: boolean;
  /** Service declarations, checked by model/service.ts parseServices. */
  services?: unknown;
}

const CONSOLE_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi'];

export interface ExecRequest {
  command: string[];
  stdin?: string;
  timeoutSec?: number;
}

export interface SliverServiceInit {
  store: Store;
  driver: Driver;
  contribution: () => Contribution;
  containerName: (id: string) => string;
  /** Ask the reconciler for a pass; the service does not wait for it. */
  kick: () => void;
  /** Templates this gateway can build now. */
  templates?: readonly TemplateName[];
  /** Seconds since the epoch, for leases. */
  nowSec?: () => number;
}

export interface SliverService {
  create(req: CreateSliverRequest): StoredSliver;
  list(): StoredSliver[];
  get(idOrName: string): StoredSliver;
  start(idOrName: string): StoredSliver;
  stop(idOrName: string): StoredSliver;
  remove(idOrName: string): StoredSliver;
  exec(idOrName: string, req: ExecRequest, opts?: { signal?: AbortSignal }): Promise<ExecResult>;
  /** A login shell on a pseudo-terminal in a running sliver (bash where it has one, else sh). */
  console(idOrName: string, size: { cols: number; rows: number }): ExecSession;
  stats(idOrName: string): Promise<ContainerStats | null>;
  usage(): Usage;
  free(): ResourceVector;
  forwards(idOrName: string): PortForwardRecord[];
  addForward(idOrName: string, f: { proto: 'tcp' | 'udp'; hostPort: number; port: number }): PortForwardRecord;
  removeForward(idOrName: string, proto: 'tcp' | 'udp', hostPort: number): void;
  services(idOrName: string): ServiceRecord[];
  /** Replaces the sliver's services (and their forwards) with `input`, checked by parseServices. */
  setServices(idOrName: string, input: unknown): ServiceRecord[];
}

const MAX_EXEC_OUTPUT = 1024 * 1024;

export const wallClockSec = (): number => Math.floor(Date.now() / 1000);

/** What the slivers hold, and the leases entry gateways hold until they commit or the lease lapses. */
export function usageWithLeases(store: Store, nowSec: number): Usage {
  const leased = store.listLeases().filter((l) => l.expiresAt >= nowSec).map((l) => ({ ...l.resources, pids: 0 }));
  return usageOf([...store.listSlivers().map((s) => s.spec.resources), ...leased]);
}

/**
 * Gives a sliver exactly `specs` as its services, inside the caller's
 * transaction: each keeps the gateway port it asked for (port_taken when
 * another forward has it) or gets one from the service range, keeping the
 * port it had when the declaration is the same service again.
 */
export function assignServices(store: Store, sliverId: string, specs: readonly ServiceSpec[]): ServiceRecord[] {
  const key = (protocol: string, port: number): string => `${protocol}/${port}`;
  const previous = store.listServices(sliverId);
  const own = new Set(previous.map((p) => key(p.protocol, p.hostPort)));
  const taken = new Set(store.listForwards().map((f) => key(f.proto, f.hostPort)).filter((k) => !own.has(k)));
  for (const s of specs) {
    if (s.hostPort === null) continue;
    if (taken.has(key(s.protocol, s.hostPort))) {
      throw new HearthError('port_taken', `${s.protocol} port ${s.hostPort} of this gateway is already forwarded; leave hostPort out to get a free one`, { service: s.name });
    }
    taken.add(key(s.protocol, s.hostPort));
  }
  const records = specs.map((s): ServiceRecord => {
    if (s.hostPort !== null) return { ...s, hostPort: s.hostPort, sliverId, fixed: true };
    const before = previous.find((p) => p.name === s.name && !p.fixed && p.protocol === s.protocol && !taken.has(key(p.protocol, p.hostPort)));
    const hostPort = before?.hostPort ?? pickServicePort({ has: (port) => taken.has(key(s.protocol, port)) });
    if (hostPort === undefined) throw new HearthError('port_taken', `every ${s.protocol} port of this gateway's service range is forwarded`, { service: s.name });
    taken.add(key(s.protocol, hostPort));
    return { ...s, hostPort, sliverId, fixed: false };
  });
  store.replaceServices(sliverId, records);
  return records;
}

export function createSliverService(init: SliverServiceInit): SliverService {
  const { store, driver } = init;
  const templates = init.templates ?? ['busybox'];

  const get = (idOrName: string): StoredSliver => {
    const s = store.getSliver(idOrName);
    if (s === undefined) throw new HearthError('sliver_not_found', `no sliver ${JSON.stringify(idOrName.slice(0, 80))} on this gateway`);
    return s;
  };

  const usage = (): Usage => usageWithLeases(store, (init.nowSec ?? wallClockSec)());

  return {
    create(req) {
      validateName('sliver', req.name);
      const slice = req.slice ?? req.name;
      validateName('slice', slice, 'slice');
      const template = (req.template ?? 'busybox') as TemplateName;
      if (!TEMPLATES.includes(template)) {
        throw new HearthError('unknown_template', `unknown template ${JSON.stringify(req.template)}; known: ${TEMPLATES.join(', ')}`, { field: 'template' });
      }
      if (!templates.includes(template)) {
        throw new HearthError('unknown_template', `template ${template} is not available on this gateway yet; available: ${templates.join(', ')}`, { field: 'template' });
      }
      const packages = packagesFor(template, req.packages);
      const resources: SliverResources = { ...DEFAULT_RESOURCES, ...req.resources };
      validateResources(resources);
      const services = parseServices(req.services);
      const spec: SliverSpec = { name: req.name, template, packages, resources, slice };
      const id = randomBytes(6).toString('hex');
      const created = store.transaction(() => {
        if (store.getSliver(req.name) !== undefined) throw new HearthError('name_taken', `a sliver named ${req.name} already exists`, { field: 'name' });
        admit(init.contribution(), usage(), resources);
        const inserted = store.insertSliver(id, spec, req.start === false ? 'stopped' : 'running');
        if (services.length > 0) assignServices(store, id, services);
        return inserted;
      });
      init.kick();
      return created;
    },
    list: () => store.listSlivers(),
    get,
    start(idOrName) {
      const updated = store.transaction(() => {
        const s = get(idOrName);
        checkAction(s, 'start');
        // A failed sliver gets a fresh set of attempts from its last safe point.
        const retry = s.observed === 'failed' ? { observed: s.address === null ? 'requested' as const : 'creating' as const, failures: 0, reason: null } : {};
        return store.updateSliver(s.id, { desired: 'running', ...retry });
      });
      init.kick();
      return updated;
    },
    stop(idOrName) {
      const updated = store.transaction(() => {
        const s = get(idOrName);
        checkAction(s, 'stop');
        return store.updateSliver(s.id, { desired: 'stopped' });
      });
      init.kick();
      return updated;
    },
    remove(idOrName) {
      const updated = store.transaction(() => {
        const s = get(idOrName);
        if (s.desired === 'gone') return s;
        store.appendEvent(s.id, 'sliver.delete-requested', { name: s.spec.name });
        return store.updateSliver(s.id, { desired: 'gone' });
      });
      init.kick();
      return updated;
    },
    console(idOrName, { cols, rows }) {
      const s = get(idOrName);
      checkAction(s, 'exec');
      return driver.session(init.containerName(s.id), CONSOLE_SHELL, { tty: true, cols, rows, env: { TERM: 'xterm-256color' } });
    },
    async exec(idOrName, req, opts = {}) {
      const s = get(idOrName);
      checkAction(s, 'exec');
      const timeout = AbortSignal.timeout((req.timeoutSec ?? 30) * 1000);
      const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
      try {
        return await driver.exec(init.containerName(s.id), req.command, {
          ...(req.stdin === undefined ? {} : { stdin: req.stdin }),
          maxOutputBytes: MAX_EXEC_OUTPUT,
          signal,
        });
      } catch (err) {
        if (timeout.aborted) throw new HearthError('exec_timeout', `the command did not finish within ${req.timeoutSec ?? 30} s`);
        throw err;
      }
    },
    async stats(idOrName) {
      const s = get(idOrName);
      if (s.observed !== 'running') return null;
      return driver.stats(init.containerName(s.id));
    },
    usage,
    free: () => freeOf(init.contribution(), usage()),
    forwards: (idOrName) => store.listForwards(get(idOrName).id),
    addForward(idOrName, f) {
      const record = store.transaction(() => {
        const s = get(idOrName);
        if (s.desired === 'gone') throw new HearthError('invalid_state', 'the sliver is being deleted');
        if (store.listForwards().some((x) => x.proto === f.proto && x.hostPort === f.hostPort)) {
          throw new HearthError('port_taken', `${f.proto} port ${f.hostPort} is already forwarded`);
        }
        const r: PortForwardRecord = { proto: f.proto, hostPort: f.hostPort, sliverId: s.id, port: f.port };
        store.insertForward(r);
        store.appendEvent(s.id, 'forward.added', { ...f });
        return r;
      });
      init.kick();
      return record;
    },
    removeForward(idOrName, proto, hostPort) {
      store.transaction(() => {
        const s = get(idOrName);
        if (!store.listForwards(s.id).some((x) => x.proto === proto && x.hostPort === hostPort)) {
          throw new HearthError('not_found', `no ${proto} forward from port ${hostPort} to this sliver`);
        }
        const service = store.listServices(s.id).find((x) => x.protocol === proto && x.hostPort === hostPort);
        if (service !== undefined) throw new HearthError('invalid_state', `the forward belongs to the sliver's service ${service.name}; change its services instead`);
        store.deleteForward(proto, hostPort);
        store.appendEvent(s.id, 'forward.removed', { proto, hostPort });
      });
      init.kick();
    },
    services: (idOrName) => store.listServices(get(idOrName).id),
    setServices(idOrName, input) {
      const specs = parseServices(input);
      const records = store.transaction(() => {
        const s = get(idOrName);
        if (s.desired === 'gone') throw new HearthError('invalid_state', 'the sliver is being deleted');
        const assigned = assignServices(store, s.id, specs);
        store.appendEvent(s.id, 'services.declared', { services: assigned.map((a) => ({ name: a.name, type: a.type, protocol: a.protocol, port: a.port, hostPort: a.hostPort })) });
        return assigned;
      });
      init.kick();
      return records;
    },
  };
}
