// Repositories over the gateway database: slivers, their port forwards, and
// the event log (whole, or one slice's). Every multi-row change is one transaction, so a crash
// leaves either the old or the new state, never half of one.
// Must never: decide anything (admission, life cycle): callers do.

import type { Db } from './db.js';
import type { DesiredState, ObservedState, Sliver, SliverResources, SliverSpec, TemplateName } from '../model/sliver.js';
import type { ForwardedService, ServiceCheck, ServiceProtocol, ServiceType } from '../model/service.js';

export interface PortForwardRecord {
  proto: 'tcp' | 'udp';
  hostPort: number;
  sliverId: string;
  port: number;
}

/** A service a sliver declares, forwarded from `hostPort` on its gateway; `fixed`: the user chose that port. */
export interface ServiceRecord extends ForwardedService {
  sliverId: string;
  fixed: boolean;
}

export interface EventRecord {
  seq: number;
  at: string;
  sliverId: string | null;
  type: string;
  detail: Record<string, unknown>;
}

export interface SliceEventsQuery {
  user: string;
  name: string;
  after?: number;
  limit?: number;
  type?: string;
}

export interface RevocationRecord {
  id: string;
  name: string | null;
  at: string;
}

/** Which community slice a sliver is part of: its user and its index in the slice. */
export interface SliceMembership {
  user: string;
  index: number;
}

/** Resources held for an entry gateway until it commits the sliver or the lease lapses. */
export interface LeaseRecord {
  id: string;
  slice: string;
  user: string;
  index: number;
  resources: Omit<SliverResources, 'pids'>;
  /** The entry gateway that asked. */
  holder: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** A slice this gateway hosts (or hosted): the user's signed spec, where its slivers are, and whether the user deleted it. */
export interface SliceRecord {
  user: string;
  name: string;
  /** The signed slice.create document, as received. */
  document: unknown;
  /** Sliver index → gateway name, as the entry gateway placed it. */
  placement: Record<string, string>;
  version: number;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** When the user's delete was signed (or the slice expired), seconds since the epoch; null while the slice lives. */
  deletedAt: number | null;
  /** The user's signed slice.delete document, which lets any holder prove the delete; null for an expiry. */
  deleteDocument: unknown;
  /** The user's latest signed slice.renew document, which proves `expiresAt`; null before any renewal. */
  renewDocument: unknown;
  /** The user's signed slice.resize document that holds, which sets the number of slivers; null before any resize. */
  resizeDocument: unknown;
  updatedAt: string;
}

export interface SliverPatch {
  desired?: DesiredState;
  observed?: ObservedState;
  reason?: string | null;
  address?: string | null;
  failures?: number;
}

interface SliverRow {
  id: string;
  name: string;
  slice: string;
  template: string;
  /** A JSON list of package names. */
  packages: string;
  cpu: number;
  memory_mb: number;
  disk_mb: number;
  pids: number;
  up_mbit: number;
  down_mbit: number;
  desired: DesiredState;
  observed: ObservedState;
  reason: string | null;
  address: string | null;
  failures: number;
  created_at: string;
  updated_at: string;
  slice_user: string | null;
  slice_index: number | null;
}

export interface StoredSliver extends Sliver {
  failures: number;
  /** Null for the owner's own slivers. */
  member: SliceMembership | null;
}

function fromRow(r: SliverRow): StoredSliver {
  return {
    id: r.id,
    spec: {
      name: r.name,
      slice: r.slice,
      template: r.template as TemplateName,
      packages: JSON.parse(r.packages) as string[],
      resources: { cpu: r.cpu, memoryMb: r.memory_mb, diskMb: r.disk_mb, pids: r.pids, upMbit: r.up_mbit, downMbit: r.down_mbit },
    },
    desired: r.desired,
    observed: r.observed,
    reason: r.reason,
    address: r.address,
    failures: r.failures,
    member: r.slice_user === null || r.slice_index === null ? null : { user: r.slice_user, index: r.slice_index },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface LeaseRow {
  id: string;
  slice: string;
  slice_user: string;
  slice_index: number;
  cpu: number;
  memory_mb: number;
  disk_mb: number;
  up_mbit: number;
  down_mbit: number;
  holder: string;
  expires_at: number;
}

const leaseFromRow = (r: LeaseRow): LeaseRecord => ({
  id: r.id, slice: r.slice, user: r.slice_user, index: r.slice_index,
  resources: { cpu: r.cpu, memoryMb: r.memory_mb, diskMb: r.disk_mb, upMbit: r.up_mbit, downMbit: r.down_mbit }, holder: r.holder, expiresAt: r.expires_at,
});

interface SliceRow {
  slice_user: string;
  name: string;
  document: string;
  placement: string;
  version: number;
  expires_at: number;
  deleted_at: number | null;
  delete_document: string | null;
  renew_document: string | null;
  resize_document: string | null;
  updated_at: string;
}

const parsedOrNull = (text: string | null): unknown => (text === null ? null : JSON.parse(text) as unknown);
const jsonOrNull = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

const sliceFromRow = (r: SliceRow): SliceRecord => ({
  user: r.slice_user, name: r.name, document: JSON.parse(r.document) as unknown,
  placement: JSON.parse(r.placement) as Record<string, string>, version: r.version,
  expiresAt: r.expires_at, deletedAt: r.deleted_at, deleteDocument: parsedOrNull(r.delete_document),
  renewDocument: parsedOrNull(r.renew_document), resizeDocument: parsedOrNull(r.resize_document), updatedAt: r.updated_at,
});

interface EventRow {
  seq: number;
  at: string;
  sliver_id: string | null;
  type: string;
  detail: string;
}

const eventFromRow = (r: EventRow): EventRecord => ({ seq: r.seq, at: r.at, sliverId: r.sliver_id, type: r.type, detail: JSON.parse(r.detail) as Record<string, unknown> });

interface ServiceRow {
  sliver_id: string; name: string; type: string; port: number; protocol: string; host_port: number; fixed: number; health: string;
}

const serviceFromRow = (r: ServiceRow): ServiceRecord => ({
  sliverId: r.sliver_id, name: r.name, type: r.type as ServiceType, port: r.port, protocol: r.protocol as ServiceProtocol,
  hostPort: r.host_port, fixed: r.fixed === 1, check: JSON.parse(r.health) as ServiceCheck,
});

export interface StoreInit {
  db: Db;
  /** ISO-8601 timestamps come from the caller's clock. */
  now: () => string;
}

export interface Store {
  readonly db: Db;
  transaction<T>(fn: () => T): T;
  insertSliver(id: string, spec: SliverSpec, desired: DesiredState, member?: SliceMembership): StoredSliver;
  getSliver(idOrName: string): StoredSliver | undefined;
  listSlivers(): StoredSliver[];
  updateSliver(id: string, patch: SliverPatch): StoredSliver;
  deleteSliver(id: string): void;
  usedAddresses(): Set<string>;
  listForwards(sliverId?: string): PortForwardRecord[];
  insertForward(f: PortForwardRecord): void;
  deleteForward(proto: 'tcp' | 'udp', hostPort: number): boolean;
  listServices(sliverId?: string): ServiceRecord[];
  /** Replaces a sliver's services and their forwards; the caller checks ports and runs it in a transaction. */
  replaceServices(sliverId: string, services: readonly Omit<ServiceRecord, 'sliverId'>[]): void;
  appendEvent(sliverId: string | null, type: string, detail?: Record<string, unknown>): void;
  listEvents(opts?: { after?: number; sliverId?: string; limit?: number }): EventRecord[];
  /**
   * The events of `user`'s slice `name`, oldest first: those whose detail
   * names it (slice.*), and every event of a sliver a slice event named
   * (its sliver.*, service.*, app.* events). Read through indexes, not the
   * whole log; at most `limit` (1-1000, default 100), after `after`, of
   * one type when `type` is given.
   */
  listSliceEvents(q: SliceEventsQuery): EventRecord[];
  /** The users whose slice `name` this gateway logged an event of or holds a record of. */
  sliceUsers(name: string): string[];
  /** The sequence number of the newest event; 0 when there is none. */
  latestEventSeq(): number;
  /** Record a revoked gateway; false when it was already revoked. */
  addRevocation(id: string, name: string | null): boolean;
  listRevocations(): RevocationRecord[];
  /** Forget every revocation: they belong to the community this gateway left. */
  clearRevocations(): void;
  /** Insert or replace a lease (same id, or same slice sliver). */
  putLease(l: LeaseRecord): void;
  getLease(id: string): LeaseRecord | undefined;
  listLeases(): LeaseRecord[];
  deleteLease(id: string): boolean;
  /** Drop leases that lapsed before `nowSec`; returns them. */
  deleteLapsedLeases(nowSec: number): LeaseRecord[];
  putSlice(r: Omit<SliceRecord, 'updatedAt'>): SliceRecord;
  getSlice(user: string, name: string): SliceRecord | undefined;
  listSlices(): SliceRecord[];
}

// A slice's events and users; their expressions are those of the events_by_slice
// index (migration 8), so that it is used. Exported for the test of their plans.
export const SLICE_EVENTS_SQL = `SELECT seq, at, sliver_id, type, detail FROM events
  WHERE seq > @after AND (@type IS NULL OR type = @type) AND (
    (json_extract(detail, '$.slice') = @name AND json_extract(detail, '$.user') = @user)
    OR sliver_id IN (SELECT sliver_id FROM events
      WHERE json_extract(detail, '$.slice') = @name AND json_extract(detail, '$.user') = @user AND sliver_id IS NOT NULL))
  ORDER BY seq LIMIT @limit`;
export const SLICE_USERS_SQL = `SELECT json_extract(detail, '$.user') AS user FROM events WHERE json_extract(detail, '$.slice') = ? AND json_extract(detail, '$.user') IS NOT NULL
  UNION SELECT slice_user AS user FROM slices WHERE name = ? ORDER BY user`;

export function createStore({ db, now }: StoreInit): Store {
  const stmts = {
    insert: db.prepare(`INSERT INTO slivers (id, name, slice, template, packages, cpu, memory_mb, disk_mb, pids, up_mbit, down_mbit, desired, observed, created_at, updated_at, slice_user, slice_index)
      VALUES (@id, @name, @slice, @template, @packages, @cpu, @memoryMb, @diskMb, @pids, @upMbit, @downMbit, @desired, 'requested', @at, @at, @user, @index)`),
    byId: db.prepare('SELECT * FROM slivers WHERE id = ?'),
    byName: db.prepare('SELECT * FROM slivers WHERE name = ?'),
    all: db.prepare('SELECT * FROM slivers ORDER BY created_at, name'),
    del: db.prepare('DELETE FROM slivers WHERE id = ?'),
    addresses: db.prepare('SELECT address FROM slivers WHERE address IS NOT NULL'),
    forwardsAll: db.prepare('SELECT proto, host_port AS hostPort, sliver_id AS sliverId, port FROM forwards ORDER BY proto, host_port'),
    forwardsOf: db.prepare('SELECT proto, host_port AS hostPort, sliver_id AS sliverId, port FROM forwards WHERE sliver_id = ? ORDER BY proto, host_port'),
    insertForward: db.prepare('INSERT INTO forwards (proto, host_port, sliver_id, port) VALUES (@proto, @hostPort, @sliverId, @port)'),
    deleteForward: db.prepare('DELETE FROM forwards WHERE proto = ? AND host_port = ?'),
    servicesAll: db.prepare('SELECT * FROM services ORDER BY sliver_id, name'),
    servicesOf: db.prepare('SELECT * FROM services WHERE sliver_id = ? ORDER BY name'),
    insertService: db.prepare(`INSERT INTO services (sliver_id, name, type, port, protocol, host_port, fixed, health)
      VALUES (@sliverId, @name, @type, @port, @protocol, @hostPort, @fixed, @health)`),
    deleteServices: db.prepare('DELETE FROM services WHERE sliver_id = ?'),
    event: db.prepare('INSERT INTO events (at, sliver_id, type, detail) VALUES (?, ?, ?, ?)'),
    latestEvent: db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM events'),
    sliceEvents: db.prepare(SLICE_EVENTS_SQL),
    sliceUsers: db.prepare(SLICE_USERS_SQL),
    revoke: db.prepare('INSERT OR IGNORE INTO revocations (id, name, at) VALUES (?, ?, ?)'),
    revocations: db.prepare('SELECT id, name, at FROM revocations ORDER BY at, id'),
    clearRevocations: db.prepare('DELETE FROM revocations'),
    putLease: db.prepare(`INSERT OR REPLACE INTO leases (id, slice, slice_user, slice_index, cpu, memory_mb, disk_mb, up_mbit, down_mbit, holder, expires_at)
      VALUES (@id, @slice, @user, @index, @cpu, @memoryMb, @diskMb, @upMbit, @downMbit, @holder, @expiresAt)`),
    lease: db.prepare('SELECT * FROM leases WHERE id = ?'),
    leases: db.prepare('SELECT * FROM leases ORDER BY expires_at, id'),
    deleteLease: db.prepare('DELETE FROM leases WHERE id = ?'),
    lapsed: db.prepare('SELECT * FROM leases WHERE expires_at < ? ORDER BY id'),
    deleteLapsed: db.prepare('DELETE FROM leases WHERE expires_at < ?'),
    putSlice: db.prepare(`INSERT OR REPLACE INTO slices (slice_user, name, document, placement, version, expires_at, deleted_at, delete_document, renew_document, resize_document, updated_at)
      VALUES (@user, @name, @document, @placement, @version, @expiresAt, @deletedAt, @deleteDocument, @renewDocument, @resizeDocument, @at)`),
    slice: db.prepare('SELECT * FROM slices WHERE slice_user = ? AND name = ?'),
    slices: db.prepare('SELECT * FROM slices ORDER BY name, slice_user'),
  };

  const getSliver = (idOrName: string): StoredSliver | undefined => {
    const row = (stmts.byId.get(idOrName) ?? stmts.byName.get(idOrName)) as SliverRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  };

  return {
    db,
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    insertSliver(id, spec, desired, member) {
      const at = now();
      stmts.insert.run({
        id, name: spec.name, slice: spec.slice, template: spec.template, packages: JSON.stringify(spec.packages),
        cpu: spec.resources.cpu, memoryMb: spec.resources.memoryMb, diskMb: spec.resources.diskMb, pids: spec.resources.pids,
        upMbit: spec.resources.upMbit, downMbit: spec.resources.downMbit, desired, at, user: member?.user ?? null, index: member?.index ?? null,
      });
      stmts.event.run(at, id, 'sliver.requested', JSON.stringify({ name: spec.name, desired }));
      return getSliver(id) as StoredSliver;
    },
    getSliver,
    listSlivers: () => (stmts.all.all() as SliverRow[]).map(fromRow),
    updateSliver(id, patch) {
      const sets: string[] = [];
      const values: Record<string, unknown> = { id, updated_at: now() };
      for (const [key, column] of [['desired', 'desired'], ['observed', 'observed'], ['reason', 'reason'], ['address', 'address'], ['failures', 'failures']] as const) {
        if (patch[key] !== undefined) {
          sets.push(`${column} = @${column}`);
          values[column] = patch[key];
        }
      }
      sets.push('updated_at = @updated_at');
      db.prepare(`UPDATE slivers SET ${sets.join(', ')} WHERE id = @id`).run(values);
      const updated = getSliver(id);
      if (updated === undefined) throw new Error(`sliver ${id} vanished during update`);
      return updated;
    },
    deleteSliver(id) {
      stmts.del.run(id);
    },
    usedAddresses: () => new Set((stmts.addresses.all() as { address: string }[]).map((r) => r.address)),
    listForwards: (sliverId) => (sliverId === undefined ? stmts.forwardsAll.all() : stmts.forwardsOf.all(sliverId)) as PortForwardRecord[],
    insertForward(f) {
      stmts.insertForward.run(f);
    },
    deleteForward: (proto, hostPort) => stmts.deleteForward.run(proto, hostPort).changes > 0,
    listServices: (sliverId) => ((sliverId === undefined ? stmts.servicesAll.all() : stmts.servicesOf.all(sliverId)) as ServiceRow[]).map(serviceFromRow),
    replaceServices(sliverId, services) {
      for (const old of stmts.servicesOf.all(sliverId) as ServiceRow[]) stmts.deleteForward.run(old.protocol, old.host_port);
      stmts.deleteServices.run(sliverId);
      for (const s of services) {
        stmts.insertService.run({ sliverId, name: s.name, type: s.type, port: s.port, protocol: s.protocol, hostPort: s.hostPort, fixed: s.fixed ? 1 : 0, health: JSON.stringify(s.check) });
        stmts.insertForward.run({ proto: s.protocol, hostPort: s.hostPort, sliverId, port: s.port });
      }
    },
    appendEvent(sliverId, type, detail = {}) {
      stmts.event.run(now(), sliverId, type, JSON.stringify(detail));
    },
    latestEventSeq() {
      return (stmts.latestEvent.get() as { seq: number }).seq;
    },
    listEvents({ after = 0, sliverId, limit = 100 } = {}) {
      const where = ['seq > ?'];
      const args: unknown[] = [after];
      if (sliverId !== undefined) {
        where.push('sliver_id = ?');
        args.push(sliverId);
      }
      args.push(Math.min(Math.max(limit, 1), 1000));
      return (db.prepare(`SELECT seq, at, sliver_id, type, detail FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...args) as EventRow[]).map(eventFromRow);
    },
    listSliceEvents({ user, name, after = 0, limit = 100, type }) {
      const rows = stmts.sliceEvents.all({ user, name, after, limit: Math.min(Math.max(limit, 1), 1000), type: type ?? null }) as EventRow[];
      return rows.map(eventFromRow);
    },
    sliceUsers: (name) => (stmts.sliceUsers.all(name, name) as { user: unknown }[]).flatMap((r) => (typeof r.user === 'string' ? [r.user] : [])),
    addRevocation(id, name) {
      const at = now();
      const added = stmts.revoke.run(id, name, at).changes > 0;
      if (added) stmts.event.run(at, null, 'community.revoked', JSON.stringify({ id, name }));
      return added;
    },
    listRevocations: () => stmts.revocations.all() as RevocationRecord[],
    clearRevocations() {
      stmts.clearRevocations.run();
    },
    putLease(l) {
      stmts.putLease.run({ id: l.id, slice: l.slice, user: l.user, index: l.index, ...l.resources, holder: l.holder, expiresAt: l.expiresAt });
    },
    getLease(id) {
      const row = stmts.lease.get(id) as LeaseRow | undefined;
      return row === undefined ? undefined : leaseFromRow(row);
    },
    listLeases: () => (stmts.leases.all() as LeaseRow[]).map(leaseFromRow),
    deleteLease: (id) => stmts.deleteLease.run(id).changes > 0,
    deleteLapsedLeases(nowSec) {
      const lapsed = (stmts.lapsed.all(nowSec) as LeaseRow[]).map(leaseFromRow);
      stmts.deleteLapsed.run(nowSec);
      return lapsed;
    },
    putSlice(r) {
      const at = now();
      stmts.putSlice.run({
        user: r.user, name: r.name, document: JSON.stringify(r.document), placement: JSON.stringify(r.placement),
        version: r.version, expiresAt: r.expiresAt, deletedAt: r.deletedAt, deleteDocument: jsonOrNull(r.deleteDocument),
        renewDocument: jsonOrNull(r.renewDocument), resizeDocument: jsonOrNull(r.resizeDocument), at,
      });
      return { ...r, updatedAt: at };
    },
    getSlice(user, name) {
      const row = stmts.slice.get(user, name) as SliceRow | undefined;
      return row === undefined ? undefined : sliceFromRow(row);
    },
    listSlices: () => (stmts.slices.all() as SliceRow[]).map(sliceFromRow),
  };
}
