// The host's side of a community slice: hold resources for an entry gateway
// (a lease), turn a lease into a sliver, let a lease go, remove a slice the
// user deleted or that expired, take the user's resize (the indexes a slice
// has). Each step is one store transaction, and the admission inside it is
// the arbiter: slices placed at once from several entry gateways never
// over-commit this gateway, whatever their views said.
// The caller (the peer route) has verified the user's signed document; this
// module takes the verified spec and the user's id.
// Must never: hold a sliver without a user's document behind it, hold one
// whose index the slice's current size does not have, let two users' slices
// share a name here (slivers of one slice name reach each other), or revive
// a slice its user deleted.

import { randomBytes } from 'node:crypto';
import { HearthError } from '../model/errors.js';
import { currentResize, parseSliceSpec, sliverNameOf, type ResizeState, type SliceSpec } from '../model/slice.js';
import { roleAt } from '../model/app.js';
import type { ServiceSpec } from '../model/service.js';
import type { TemplateName } from '../model/sliver.js';
import { admitUser, type OwnerPolicy } from '../model/policy.js';
import { admit, type Contribution } from '../host/contribution.js';
import type { LeaseRecord, SliceRecord, Store, StoredSliver } from '../store/store.js';
import { assignServices, usageWithLeases } from './service.js';

export interface SliceHostingInit {
  store: Store;
  contribution: () => Contribution;
  /** The owner's mode and user policy now. */
  policy: () => OwnerPolicy;
  templates: readonly TemplateName[];
  nowSec: () => number;
  /** Ask the reconciler for a pass. */
  kick: () => void;
}

export interface ReserveRequest {
  lease: string;
  spec: SliceSpec;
  user: string;
  index: number;
  /** The entry gateway. */
  holder: string;
  ttlSec: number;
  /** When the user signed the slice.create document, seconds since the epoch. */
  signedAt: number;
  /** Which incarnation of the slice the create document is: its nonce. */
  incarnation: string;
  /** The user's verified slice.resize document that grew the slice to this index, when the entry gateway has one. */
  resize?: unknown;
}

export interface CommitRequest {
  lease: string;
  spec: SliceSpec;
  user: string;
  index: number;
  /** The signed slice.create document, kept with the record. */
  document: unknown;
  placement: Record<string, string>;
  /** The placement's version: 1 at creation, one more at each healing. */
  version: number;
  /** When the document was signed, seconds since the epoch. */
  signedAt: number;
  /** As in ReserveRequest; kept with the record when it is the slice's current resize. */
  resize?: unknown;
}

export type Reservation = { kind: 'leased'; lease: LeaseRecord } | { kind: 'hosted'; sliver: StoredSliver };

export interface SliceHosting {
  reserve(req: ReserveRequest): Reservation;
  commit(req: CommitRequest): StoredSliver;
  /** Idempotent: a lease that lapsed or was committed is already gone. */
  release(lease: string): boolean;
  /**
   * Marks the slice's slivers here gone and keeps a tombstone (with the user's
   * delete document); returns the slivers it removed. A delete signed strictly
   * before the slice's current create document (timestamps are whole seconds)
   * is an old one replayed, and removes nothing; so is one of the same second
   * that a peer held for another incarnation (`of`, see deleteCovers).
   */
  remove(user: string, name: string, deletedAt: number, why: 'deleted' | 'expired', deleteDocument?: unknown, of?: string): StoredSliver[];
  /** Removes one sliver of a slice that its placement now puts on another gateway; returns it, if it was here. */
  retire(user: string, name: string, index: number, placedAt: string): StoredSliver | undefined;
  /**
   * Moves a live slice's expiry later, keeping the user's renew document that
   * says so; false when there is nothing to renew here, or the renewal was
   * signed before the slice's current create document.
   */
  renew(user: string, name: string, expiresAt: number, renewDocument: unknown, signedAt: number): boolean;
  /**
   * Takes the user's verified slice.resize document when it is newer than the
   * one held (and signed no earlier than the slice's current create): the
   * slice now has its number of slivers, so the slivers and leases here of a
   * higher index go and the placement drops those indexes. `resized` is false
   * when there is nothing here to resize or the document is not newer.
   */
  resize(user: string, name: string, resizeDocument: unknown): { resized: boolean; retired: StoredSliver[] };
  /** The record of one slice here, if any. */
  record(user: string, name: string): SliceRecord | undefined;
  /**
   * Takes a newer placement of a slice this gateway has a record of (the
   * caller decided it wins), without the indexes the slice's size does not
   * have, with an event (slice.sliver-moved) for each index it puts on
   * another gateway; false when that left the record as it was.
   */
  adopt(user: string, name: string, placement: Record<string, string>, version: number): boolean;
  /** Drops lapsed leases and removes expired slices; returns what it did, for the log. */
  sweep(): { lapsed: LeaseRecord[]; expired: SliceRecord[] };
  /** This gateway's slivers of community slices, of one slice or all. */
  slivers(user?: string, name?: string): StoredSliver[];
  records(): SliceRecord[];
  /**
   * The slices neither deleted nor expired at `now`, each with its spec and
   * its current number of slivers (by the resize that holds); a record whose
   * stored spec no longer parses is left out (specs were checked as they came).
   */
  live(now: number): LiveSlice[];
}

export interface LiveSlice {
  record: SliceRecord;
  spec: SliceSpec;
  size: number;
}

const MAX_LEASE_SEC = 120;

/** Which incarnation of a slice a stored create document is: its nonce. */
export const incarnationOf = (document: unknown): string => String((document as { nonce?: unknown } | null)?.nonce ?? '');
/** When a stored create document was signed, seconds since the epoch. */
export const signedAtOf = (document: unknown): number => Number((document as { at?: unknown } | null)?.at ?? 0);

/**
 * Whether a delete signed at `del.at` removes the incarnation of a slice
 * created at `create.at`. Documents carry whole seconds, so a user may delete
 * a slice and make it again within one: a delete signed later than the create
 * covers it, an earlier one does not, and one of the same second covers it
 * unless the delete is known to be for another incarnation (the one before).
 */
export const deleteCovers = (del: { at: number; incarnation: string | undefined }, create: { at: number; incarnation: string }): boolean =>
  del.at > create.at || (del.at === create.at && (del.incarnation === undefined || del.incarnation === create.incarnation));

/** What a stored (or just verified) slice.resize document says; undefined for none. */
export function resizeOf(document: unknown): ResizeState | undefined {
  if (document === null || typeof document !== 'object') return undefined;
  const d = document as { at?: unknown; nonce?: unknown; body?: { slivers?: unknown } | null };
  return { at: Number(d.at ?? 0), nonce: String(d.nonce ?? ''), slivers: Number(d.body?.slivers ?? 0) };
}

/** Of these slice.resize documents (or nulls), the one that holds for a slice created at `createdAt` (model/slice.ts: currentResize). */
export function currentResizeOf(createdAt: number, documents: readonly unknown[]): { document: unknown; state: ResizeState } | undefined {
  const states = documents.map(resizeOf);
  const state = currentResize(createdAt, states);
  return state === undefined ? undefined : { document: documents[states.indexOf(state)], state };
}

/** How many slivers a slice created at `createdAt` has now: the number of its current resize, else its spec's. */
export function sizeOf(createdAt: number, spec: Pick<SliceSpec, 'slivers'>, resizeDocuments: readonly unknown[]): number {
  return currentResizeOf(createdAt, resizeDocuments)?.state.slivers ?? spec.slivers;
}

/** The placement without the indexes a slice of `size` slivers does not have. */
const within = (placement: Readonly<Record<string, string>>, size: number): Record<string, string> =>
  Object.fromEntries(Object.entries(placement).filter(([i]) => Number(i) < size));

const samePlacement = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([i, g]) => Object.hasOwn(b, i) && b[i] === g);

/** The services sliver `index` of a slice of `size` offers: its app role's, or the slice's own. */
export function servicesOf(spec: SliceSpec, size: number, index: number): ServiceSpec[] {
  return spec.app === null ? spec.services : roleAt(spec.app, size, index)?.services ?? [];
}

export function createSliceHosting(init: SliceHostingInit): SliceHosting {
  const { store } = init;

  const membersOf = (user?: string, name?: string): StoredSliver[] => store.listSlivers().filter((s) =>
    s.member !== null && (user === undefined || s.member.user === user) && (name === undefined || s.spec.slice === name));

  const hostedAt = (user: string, name: string, index: number): StoredSliver | undefined =>
    membersOf(user, name).find((s) => s.member?.index === index && s.desired !== 'gone');

  /** How many slivers a recorded slice has now (its documents were verified when they came). */
  const sizeOfRecord = (r: SliceRecord): number =>
    sizeOf(signedAtOf(r.document), parseSliceSpec((r.document as { body?: unknown } | null)?.body), [r.resizeDocument]);

  /**
   * Refusals that hold whatever the resources: an index the slice does not
   * have (by the newest resize held here or presented, else the spec), a
   * slice whose delete held here covers this spec, a name another user or
   * the owner has here.
   */
  const checkHostable = ({ spec, user, index, signedAt, incarnation, resize }: Pick<ReserveRequest, 'spec' | 'user' | 'index' | 'signedAt' | 'incarnation' | 'resize'>): void => {
    const record = store.getSlice(user, spec.name);
    const size = sizeOf(signedAt, spec, [record?.resizeDocument ?? null, resize ?? null]);
    if (index >= size) throw new HearthError('invalid_request', `slice ${spec.name} has ${size} slivers; there is no index ${index}`, { field: 'index' });
    if (record !== undefined && record.deletedAt !== null
      && deleteCovers({ at: record.deletedAt, incarnation: incarnationOf(record.document) }, { at: signedAt, incarnation })) {
      throw new HearthError('slice_not_found', `slice ${spec.name} was deleted by its user after this spec was signed`);
    }
    const clash = store.listSlivers().find((s) => s.spec.slice === spec.name && s.desired !== 'gone' && s.member?.user !== user);
    if (clash !== undefined) throw new HearthError('name_taken', `the slice name ${spec.name} is in use on this gateway by another user or its owner`);
    const name = sliverNameOf(spec.name, index);
    const taken = store.getSliver(name);
    if (taken !== undefined && (taken.member?.user !== user || taken.member.index !== index)) {
      throw new HearthError('name_taken', `a sliver named ${name} already exists on this gateway`);
    }
    if (!init.templates.includes(spec.template)) {
      throw new HearthError('unknown_template', `template ${spec.template} is not available on this gateway; available: ${init.templates.join(', ')}`);
    }
    // A fixed gateway port of the sliver's services must be free here (or this very sliver's already).
    const held = store.listForwards().filter((f) => taken === undefined || f.sliverId !== taken.id);
    const clashPort = servicesOf(spec, size, index).find((sv) => sv.hostPort !== null && held.some((f) => f.proto === sv.protocol && f.hostPort === sv.hostPort));
    if (clashPort !== undefined) {
      throw new HearthError('port_taken', `${clashPort.protocol} port ${String(clashPort.hostPort)} of this gateway, which service ${clashPort.name} asks for, is already forwarded`);
    }
  };

  /**
   * Logs each index a newer placement puts on another gateway than the
   * record had it (a healing, or two healings converging): the history of
   * the slice that its holders know, since the gateway it left may be gone.
   */
  const noteMoves = (record: SliceRecord, placement: Readonly<Record<string, string>>, version: number): void => {
    for (const [index, to] of Object.entries(placement)) {
      const from = record.placement[index];
      if (from !== undefined && from !== to) {
        store.appendEvent(null, 'slice.sliver-moved', { slice: record.name, user: record.user, index: Number(index), from, to, version });
      }
    }
  };

  const remove = (user: string, name: string, deletedAt: number, why: 'deleted' | 'expired', deleteDocument: unknown = null, of?: string): StoredSliver[] => {
    const removed = store.transaction(() => {
      const record = store.getSlice(user, name);
      if (record !== undefined && !deleteCovers({ at: deletedAt, incarnation: of }, { at: signedAtOf(record.document), incarnation: incarnationOf(record.document) })) return [];
      const live = membersOf(user, name).filter((s) => s.desired !== 'gone');
      for (const s of live) {
        store.appendEvent(s.id, `slice.sliver-${why}`, { slice: name, user });
        store.updateSliver(s.id, { desired: 'gone' });
      }
      for (const l of store.listLeases().filter((x) => x.user === user && x.slice === name)) store.deleteLease(l.id);
      if (record !== undefined && (record.deletedAt === null || record.deletedAt < deletedAt)) store.putSlice({ ...record, deletedAt, deleteDocument });
      return live;
    });
    if (removed.length > 0) init.kick();
    return removed;
  };

  return {
    reserve(req) {
      if (!Number.isInteger(req.ttlSec) || req.ttlSec < 1 || req.ttlSec > MAX_LEASE_SEC) {
        throw new HearthError('invalid_request', `a lease lasts 1 to ${MAX_LEASE_SEC} s`);
      }
      return store.transaction((): Reservation => {
        const hosted = hostedAt(req.user, req.spec.name, req.index);
        if (hosted !== undefined) return { kind: 'hosted', sliver: hosted };
        checkHostable(req);
        const now = init.nowSec();
        const existing = store.getLease(req.lease);
        if (existing !== undefined && (existing.user !== req.user || existing.slice !== req.spec.name || existing.index !== req.index)) {
          throw new HearthError('invalid_request', 'that lease id holds another sliver');
        }
        // Renewing a lease re-admits nothing: its resources are already counted.
        const others = store.listLeases().find((l) => l.user === req.user && l.slice === req.spec.name && l.index === req.index && l.id !== req.lease);
        if (others !== undefined && others.expiresAt >= now) {
          throw new HearthError('invalid_state', `sliver ${req.index} of slice ${req.spec.name} is already reserved here by ${others.holder}`);
        }
        if (others !== undefined) store.deleteLease(others.id);
        if (existing === undefined) {
          const held = membersOf(req.user).filter((s) => s.desired !== 'gone').length
            + store.listLeases().filter((l) => l.user === req.user && l.expiresAt >= now).length;
          admitUser(init.policy(), req.user, held);
          admit(init.contribution(), usageWithLeases(store, now), req.spec.resources);
        }
        const { pids: _pids, ...held } = req.spec.resources;
        const lease: LeaseRecord = {
          id: req.lease, slice: req.spec.name, user: req.user, index: req.index,
          resources: held, holder: req.holder, expiresAt: now + req.ttlSec,
        };
        store.putLease(lease);
        return { kind: 'leased', lease };
      });
    },

    commit(req) {
      const sliver = store.transaction(() => {
        const hosted = hostedAt(req.user, req.spec.name, req.index);
        if (hosted !== undefined) return hosted;
        const lease = store.getLease(req.lease);
        if (lease === undefined || lease.expiresAt < init.nowSec() || lease.user !== req.user || lease.slice !== req.spec.name || lease.index !== req.index) {
          throw new HearthError('lease_not_found', `no live lease ${req.lease} for sliver ${req.index} of slice ${req.spec.name}; reserve again`);
        }
        checkHostable({ ...req, incarnation: incarnationOf(req.document) });
        store.deleteLease(lease.id);
        const previous = store.getSlice(req.user, req.spec.name);
        // A record of this incarnation keeps what it learnt meanwhile (a newer placement, a renewal); anything else is replaced.
        // The resize kept is the newer of the one held and the one presented.
        const same = previous !== undefined && previous.deletedAt === null && incarnationOf(previous.document) === incarnationOf(req.document);
        const placed = same && previous.version > req.version ? previous : { placement: req.placement, version: req.version };
        const resize = currentResizeOf(req.signedAt, [previous?.resizeDocument ?? null, req.resize ?? null]);
        const placement = within(placed.placement, resize?.state.slivers ?? req.spec.slivers);
        if (same && placed.version > previous.version) noteMoves(previous, placement, placed.version);
        store.putSlice({
          ...(same ? previous : {
            user: req.user, name: req.spec.name, document: req.document, expiresAt: req.signedAt + req.spec.lifetimeSec,
            deletedAt: null, deleteDocument: null, renewDocument: null,
          }),
          placement, version: placed.version, resizeDocument: resize?.document ?? null,
        });
        const name = sliverNameOf(req.spec.name, req.index);
        const created = store.insertSliver(randomBytes(6).toString('hex'), {
          name, template: req.spec.template, packages: req.spec.packages, resources: req.spec.resources, slice: req.spec.name,
        }, 'running', { user: req.user, index: req.index });
        const services = servicesOf(req.spec, resize?.state.slivers ?? req.spec.slivers, req.index);
        if (services.length > 0) assignServices(store, created.id, services);
        store.appendEvent(created.id, 'slice.sliver-hosted', { slice: req.spec.name, user: req.user, index: req.index, entry: lease.holder });
        return created;
      });
      init.kick();
      return sliver;
    },

    release: (lease) => store.transaction(() => store.deleteLease(lease)),

    remove,

    retire(user, name, index, placedAt) {
      const retired = store.transaction(() => {
        const s = hostedAt(user, name, index);
        if (s === undefined) return undefined;
        store.appendEvent(s.id, 'slice.sliver-extra', { slice: name, user, index, keptOn: placedAt });
        return store.updateSliver(s.id, { desired: 'gone' });
      });
      if (retired !== undefined) init.kick();
      return retired;
    },

    renew(user, name, expiresAt, renewDocument, signedAt) {
      return store.transaction(() => {
        const record = store.getSlice(user, name);
        if (record === undefined || record.deletedAt !== null || expiresAt <= record.expiresAt || signedAt < signedAtOf(record.document)) return false;
        store.putSlice({ ...record, expiresAt, renewDocument });
        return true;
      });
    },

    resize(user, name, resizeDocument) {
      const done = store.transaction(() => {
        const record = store.getSlice(user, name);
        if (record === undefined || record.deletedAt !== null) return { resized: false, retired: [] };
        // The one held wins a tie: the same document sent again changes nothing.
        const current = currentResizeOf(signedAtOf(record.document), [record.resizeDocument, resizeDocument]);
        if (current === undefined || current.document !== resizeDocument) return { resized: false, retired: [] };
        const size = current.state.slivers;
        const retired = membersOf(user, name).filter((s) => s.desired !== 'gone' && (s.member?.index ?? 0) >= size).map((s) => {
          store.appendEvent(s.id, 'slice.sliver-resized', { slice: name, user, index: s.member?.index, slivers: size });
          return store.updateSliver(s.id, { desired: 'gone' });
        });
        for (const l of store.listLeases()) if (l.user === user && l.slice === name && l.index >= size) store.deleteLease(l.id);
        store.putSlice({ ...record, resizeDocument, placement: within(record.placement, size) });
        return { resized: true, retired };
      });
      if (done.retired.length > 0) init.kick();
      return done;
    },

    adopt(user, name, placement, version) {
      return store.transaction(() => {
        const record = store.getSlice(user, name);
        if (record === undefined || record.deletedAt !== null) return false;
        const kept = within(placement, sizeOfRecord(record));
        if (version === record.version && samePlacement(kept, record.placement)) return false;
        store.putSlice({ ...record, placement: kept, version });
        noteMoves(record, kept, version);
        return true;
      });
    },

    sweep() {
      const now = init.nowSec();
      const lapsed = store.transaction(() => store.deleteLapsedLeases(now));
      const expired = store.listSlices().filter((r) => r.deletedAt === null && r.expiresAt <= now);
      for (const r of expired) remove(r.user, r.name, r.expiresAt, 'expired');
      return { lapsed, expired };
    },

    slivers: membersOf,
    records: () => store.listSlices(),

    live(now) {
      return store.listSlices().flatMap((record) => {
        if (record.deletedAt !== null || record.expiresAt <= now) return [];
        try {
          const spec = parseSliceSpec((record.document as { body?: unknown } | null)?.body);
          return [{ record, spec, size: sizeOf(signedAtOf(record.document), spec, [record.resizeDocument]) }];
        } catch {
          return [];
        }
      });
    },
    record: (user, name) => store.getSlice(user, name),
  };
}
