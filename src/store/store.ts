// Repositories over the gateway database: slivers, their port forwards, and
// the event log. Every multi-row change is one transaction, so a crash
// leaves either the old or the new state, never half of one.
// Must never: decide anything (admission, life cycle): callers do.

import type { Db } from './db.js';
import type { DesiredState, ObservedState, Sliver, SliverSpec, TemplateName } from '../model/sliver.js';

export interface PortForwardRecord {
  proto: 'tcp' | 'udp';
  hostPort: number;
  sliverId: string;
  port: number;
}

export interface EventRecord {
  seq: number;
  at: string;
  sliverId: string | null;
  type: string;
  detail: Record<string, unknown>;
}

export interface RevocationRecord {
  id: string;
  name: string | null;
  at: string;
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
  cpu: number;
  memory_mb: number;
  disk_mb: number;
  pids: number;
  desired: DesiredState;
  observed: ObservedState;
  reason: string | null;
  address: string | null;
  failures: number;
  created_at: string;
  updated_at: string;
}

export interface StoredSliver extends Sliver {
  failures: number;
}

function fromRow(r: SliverRow): StoredSliver {
  return {
    id: r.id,
    spec: {
      name: r.name,
      slice: r.slice,
      template: r.template as TemplateName,
      resources: { cpu: r.cpu, memoryMb: r.memory_mb, diskMb: r.disk_mb, pids: r.pids },
    },
    desired: r.desired,
    observed: r.observed,
    reason: r.reason,
    address: r.address,
    failures: r.failures,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface StoreInit {
  db: Db;
  /** ISO-8601 timestamps come from the caller's clock. */
  now: () => string;
}

export interface Store {
  readonly db: Db;
  transaction<T>(fn: () => T): T;
  insertSliver(id: string, spec: SliverSpec, desired: DesiredState): StoredSliver;
  getSliver(idOrName: string): StoredSliver | undefined;
  listSlivers(): StoredSliver[];
  updateSliver(id: string, patch: SliverPatch): StoredSliver;
  deleteSliver(id: string): void;
  usedAddresses(): Set<string>;
  listForwards(sliverId?: string): PortForwardRecord[];
  insertForward(f: PortForwardRecord): void;
  deleteForward(proto: 'tcp' | 'udp', hostPort: number): boolean;
  appendEvent(sliverId: string | null, type: string, detail?: Record<string, unknown>): void;
  listEvents(opts?: { after?: number; sliverId?: string; limit?: number }): EventRecord[];
  /** Record a revoked gateway; false when it was already revoked. */
  addRevocation(id: string, name: string | null): boolean;
  listRevocations(): RevocationRecord[];
  /** Forget every revocation: they belong to the community this gateway left. */
  clearRevocations(): void;
}

export function createStore({ db, now }: StoreInit): Store {
  const stmts = {
    insert: db.prepare(`INSERT INTO slivers (id, name, slice, template, cpu, memory_mb, disk_mb, pids, desired, observed, created_at, updated_at)
      VALUES (@id, @name, @slice, @template, @cpu, @memoryMb, @diskMb, @pids, @desired, 'requested', @at, @at)`),
    byId: db.prepare('SELECT * FROM slivers WHERE id = ?'),
    byName: db.prepare('SELECT * FROM slivers WHERE name = ?'),
    all: db.prepare('SELECT * FROM slivers ORDER BY created_at, name'),
    del: db.prepare('DELETE FROM slivers WHERE id = ?'),
    addresses: db.prepare('SELECT address FROM slivers WHERE address IS NOT NULL'),
    forwardsAll: db.prepare('SELECT proto, host_port AS hostPort, sliver_id AS sliverId, port FROM forwards ORDER BY proto, host_port'),
    forwardsOf: db.prepare('SELECT proto, host_port AS hostPort, sliver_id AS sliverId, port FROM forwards WHERE sliver_id = ? ORDER BY proto, host_port'),
    insertForward: db.prepare('INSERT INTO forwards (proto, host_port, sliver_id, port) VALUES (@proto, @hostPort, @sliverId, @port)'),
    deleteForward: db.prepare('DELETE FROM forwards WHERE proto = ? AND host_port = ?'),
    event: db.prepare('INSERT INTO events (at, sliver_id, type, detail) VALUES (?, ?, ?, ?)'),
    revoke: db.prepare('INSERT OR IGNORE INTO revocations (id, name, at) VALUES (?, ?, ?)'),
    revocations: db.prepare('SELECT id, name, at FROM revocations ORDER BY at, id'),
    clearRevocations: db.prepare('DELETE FROM revocations'),
  };

  const getSliver = (idOrName: string): StoredSliver | undefined => {
    const row = (stmts.byId.get(idOrName) ?? stmts.byName.get(idOrName)) as SliverRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  };

  return {
    db,
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    insertSliver(id, spec, desired) {
      const at = now();
      stmts.insert.run({
        id, name: spec.name, slice: spec.slice, template: spec.template,
        cpu: spec.resources.cpu, memoryMb: spec.resources.memoryMb, diskMb: spec.resources.diskMb, pids: spec.resources.pids,
        desired, at,
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
    appendEvent(sliverId, type, detail = {}) {
      stmts.event.run(now(), sliverId, type, JSON.stringify(detail));
    },
    listEvents({ after = 0, sliverId, limit = 100 } = {}) {
      const where = ['seq > ?'];
      const args: unknown[] = [after];
      if (sliverId !== undefined) {
        where.push('sliver_id = ?');
        args.push(sliverId);
      }
      args.push(Math.min(Math.max(limit, 1), 1000));
      const rows = db.prepare(`SELECT seq, at, sliver_id, type, detail FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...args) as {
        seq: number; at: string; sliver_id: string | null; type: string; detail: string;
      }[];
      return rows.map((r) => ({ seq: r.seq, at: r.at, sliverId: r.sliver_id, type: r.type, detail: JSON.parse(r.detail) as Record<string, unknown> }));
    },
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
  };
}
