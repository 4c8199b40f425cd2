// The peer routes through which other gateways place a slice's slivers
// here: reserve, commit, release, delete, renew, resize, and the list of what
// this gateway hosts. Every route that creates or removes work checks the
// user's signed document itself; the calling gateway's word counts for nothing.
// Must never: act on a document whose signature it did not verify, host an
// index the slice does not have (its spec's, or the user's resize's), or let
// one gateway release another's lease.

import { HearthError } from '../model/errors.js';
import type { Logger } from '../model/logger.js';
import { appShare, installScript, type AppRecipe } from '../model/app.js';
import type { SliceCrashPoint } from './crash-points.js';
import { MAX_LIFETIME_SEC, MAX_SLICE_SLIVERS, MIN_LIFETIME_SEC, SLICE_KINDS, parseResizeBody, parseSliceSpec, type SliceSpec } from '../model/slice.js';
import { DEFAULT_SKEW_SEC, verifyDocument, type SignedDocument } from '../cloud/signed-document.js';
import type { PeerRoute } from '../peer/router.js';
import type { SliceHosting } from '../slivers/hosting.js';
import type { SliverService } from '../slivers/service.js';
import type { SliceRecord, Store, StoredSliver } from '../store/store.js';

export const SLICE_ROUTES = {
  reserve: { method: 'POST', path: '/peer/v1/slices/reserve' },
  commit: { method: 'POST', path: '/peer/v1/slices/commit' },
  release: { method: 'POST', path: '/peer/v1/slices/release' },
  delete: { method: 'POST', path: '/peer/v1/slices/delete' },
  renew: { method: 'POST', path: '/peer/v1/slices/renew' },
  resize: { method: 'POST', path: '/peer/v1/slices/resize' },
  list: { method: 'GET', path: '/peer/v1/slices' },
} as const;

/** A sliver of a slice as its host reports it. */
export interface HostedSliver {
  index: number;
  name: string;
  desired: string;
  observed: string;
  address: string | null;
  reason: string | null;
}

/** One slice as one host knows it (its record, as peers pull it) and its slivers there. */
export interface HostedSlice extends Omit<SliceRecord, 'updatedAt'> {
  slivers: HostedSliver[];
}

export function hostedSliverOf(s: StoredSliver): HostedSliver {
  return { index: s.member?.index ?? -1, name: s.spec.name, desired: s.desired, observed: s.observed, address: s.address, reason: s.reason };
}

/** A slice.create document checked for what a host needs: a good signature, a spec, and a lifetime not yet over. */
export function verifyCreate(document: unknown, nowSec: number): { doc: SignedDocument; user: string; spec: SliceSpec } {
  // The spec travels with the slice for its whole lifetime (a healer presents it days later); freshness is the entry gateway's check.
  const v = verifyDocument(document, { now: nowSec, kind: SLICE_KINDS.create, skewSec: MAX_LIFETIME_SEC });
  if (!v.ok) throw new HearthError(v.fault, v.reason);
  const spec = parseSliceSpec(v.doc.body);
  if (v.doc.at > nowSec + DEFAULT_SKEW_SEC) throw new HearthError('stale_document', `signed ${v.doc.at - nowSec} s in the future`);
  if (v.doc.at + spec.lifetimeSec <= nowSec) throw new HearthError('stale_document', `slice ${spec.name} expired at ${v.doc.at + spec.lifetimeSec}`);
  return { doc: v.doc, user: v.userId, spec };
}

/**
 * A slice.delete document: signed, naming one slice, and fresh, unless
 * `skewSec` says otherwise (a tombstone pulled from a peer carries an old one).
 */
export function verifyDelete(document: unknown, nowSec: number, skewSec = DEFAULT_SKEW_SEC): { doc: SignedDocument; user: string; name: string } {
  const v = verifyDocument(document, { now: nowSec, kind: SLICE_KINDS.delete, skewSec });
  if (!v.ok) throw new HearthError(v.fault, v.reason);
  const body = v.doc.body as { name?: unknown } | null;
  if (typeof body !== 'object' || body === null || typeof body.name !== 'string' || Object.keys(body).length !== 1) {
    throw new HearthError('malformed_document', 'a slice.delete document names one slice: {"name": …}');
  }
  return { doc: v.doc, user: v.userId, name: body.name };
}

/** A slice.renew document: signed, naming one slice and a lifetime from its signing; fresh unless `skewSec` says otherwise. */
export function verifyRenew(document: unknown, nowSec: number, skewSec = DEFAULT_SKEW_SEC): { doc: SignedDocument; user: string; name: string; expiresAt: number } {
  const v = verifyDocument(document, { now: nowSec, kind: SLICE_KINDS.renew, skewSec });
  if (!v.ok) throw new HearthError(v.fault, v.reason);
  const body = v.doc.body as { name?: unknown; lifetimeSec?: unknown } | null;
  const lifetime = body?.lifetimeSec;
  if (typeof body !== 'object' || body === null || typeof body.name !== 'string' || Object.keys(body).length !== 2
    || typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < MIN_LIFETIME_SEC || lifetime > MAX_LIFETIME_SEC) {
    throw new HearthError('malformed_document', `a slice.renew document names one slice and a lifetime: {"name": …, "lifetimeSec": ${MIN_LIFETIME_SEC}..${MAX_LIFETIME_SEC}}`);
  }
  return { doc: v.doc, user: v.userId, name: body.name, expiresAt: v.doc.at + lifetime };
}

/**
 * A slice.resize document: signed, naming one slice and its new number of
 * slivers (parseResizeBody), fresh unless `skewSec` says otherwise (a resize
 * a healer presents, or pulled from a peer, may be old), and never from
 * beyond the clock skew ahead: a resize from the future would hold over
 * every later one.
 */
export function verifyResize(document: unknown, nowSec: number, skewSec = DEFAULT_SKEW_SEC): { doc: SignedDocument; user: string; name: string; slivers: number } {
  const v = verifyDocument(document, { now: nowSec, kind: SLICE_KINDS.resize, skewSec });
  if (!v.ok) throw new HearthError(v.fault, v.reason);
  if (v.doc.at > nowSec + DEFAULT_SKEW_SEC) throw new HearthError('stale_document', `signed ${v.doc.at - nowSec} s in the future`);
  const body = parseResizeBody(v.doc.body);
  return { doc: v.doc, user: v.userId, name: body.slice, slivers: body.slivers };
}

function field<T>(body: unknown, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = (body as Record<string, unknown> | null)?.[name];
  if (!check(v)) throw new HearthError('invalid_request', `${name} must be ${what}`, { field: name });
  return v;
}

const documentIn = (body: unknown): unknown => field(body, 'document', (v): v is unknown => v !== undefined, 'a signed document');
const isLeaseId = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < MAX_SLICE_SLIVERS;
const isTtl = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const isPlacement = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((g) => typeof g === 'string');

export interface SliceHostInit {
  hosting: SliceHosting;
  store: Store;
  nowSec: () => number;
  crashPoint?: (point: SliceCrashPoint) => void;
  /**
   * Tells the slice's homes what this gateway now holds of it (slice-homes.ts),
   * before a delete or a slice's first commit (placement version 1) is
   * answered: the entry gateway's next name check sees it. A later commit
   * (a heal, a grow, a sliver placed again) is answered first: the slice's
   * other holders registered it already, and the registration begins behind
   * the answer (at 100 gateways on one loaded machine, the homes' answers
   * held a heal's answer back past the healer's 5 s). Bounded in time, and
   * never rejects.
   */
  register?: (user: string, name: string) => Promise<void>;
}

export function sliceHostRoutes({ hosting, store, nowSec, crashPoint, register }: SliceHostInit): PeerRoute[] {
  // Whether the slice has this index is the hosting's to say: a resize may have grown or shrunk it.
  const indexIn = (body: unknown): number => field(body, 'index', isIndex, `a whole number below ${MAX_SLICE_SLIVERS}`);
  /** The slice.resize a reserve or commit carries when the slice grew beyond its spec: the same user's, for the same slice. */
  const resizeIn = (body: unknown, user: string, spec: SliceSpec): unknown => {
    const document = (body as Record<string, unknown> | null)?.['resize'];
    if (document === undefined) return undefined;
    const resize = verifyResize(document, nowSec(), MAX_LIFETIME_SEC);
    if (resize.user !== user || resize.name !== spec.name) {
      throw new HearthError('invalid_request', `the resize is not of slice ${spec.name} by the user who created it`, { field: 'resize' });
    }
    return document;
  };

  /**
   * Registers a committed slice with its homes: awaited at its first placement, begun after the answer later
   * (SliceHostInit.register). Even begun, a registration first works out the homes and opens a connection to each
   * (three TLS sockets made): on a heal's new host, before the answer that the healer waits for.
   */
  const registered = async (user: string, name: string, version: number): Promise<void> => {
    if (register === undefined) return;
    if (version === 1) await register(user, name);
    else setImmediate(() => void register(user, name));
  };

  /** The placement a reserve carries when its sliver is to be committed in the same call (a slice's only pending sliver). */
  const commitIn = (body: unknown): { placement: Record<string, string>; version: number } | undefined => {
    const commit = (body as Record<string, unknown> | null)?.['commit'];
    if (commit === undefined) return undefined;
    return {
      placement: field(commit, 'placement', isPlacement, 'an object of sliver index to gateway'),
      version: field(commit, 'version', isVersion, 'a whole number from 1'),
    };
  };

  return [
    {
      ...SLICE_ROUTES.reserve,
      handler: async (req) => {
        const document = documentIn(req.body);
        const { doc, user, spec } = verifyCreate(document, nowSec());
        const resize = resizeIn(req.body, user, spec);
        const index = indexIn(req.body);
        const lease = field(req.body, 'lease', isLeaseId, 'a lease id of 16-64 base64url characters');
        const ttlSec = field(req.body, 'ttlSec', isTtl, 'whole seconds');
        const commit = commitIn(req.body);
        const r = hosting.reserve({ lease, spec, user, index, holder: req.member, ttlSec, signedAt: doc.at, incarnation: doc.nonce, resize });
        crashPoint?.('slice:leased');
        if (r.kind === 'hosted') return { body: { kind: 'hosted', sliver: hostedSliverOf(r.sliver) } };
        if (commit === undefined) return { body: { kind: 'leased', expiresAt: r.lease.expiresAt } };
        // One sliver alone has no other to wait for: the lease is committed at once, as a commit would.
        crashPoint?.('slice:committing');
        const sliver = hosting.commit({ lease, spec, user, index, document, placement: commit.placement, version: commit.version, signedAt: doc.at, resize });
        await registered(user, spec.name, commit.version);
        return { body: { kind: 'hosted', sliver: hostedSliverOf(sliver) } };
      },
    },
    {
      ...SLICE_ROUTES.commit,
      handler: async (req) => {
        const document = documentIn(req.body);
        const { doc, user, spec } = verifyCreate(document, nowSec());
        const resize = resizeIn(req.body, user, spec);
        const index = indexIn(req.body);
        const lease = field(req.body, 'lease', isLeaseId, 'a lease id of 16-64 base64url characters');
        const placement = field(req.body, 'placement', isPlacement, 'an object of sliver index to gateway');
        const version = field(req.body, 'version', isVersion, 'a whole number from 1');
        crashPoint?.('slice:committing');
        const sliver = hosting.commit({ lease, spec, user, index, document, placement, version, signedAt: doc.at, resize });
        await registered(user, spec.name, version);
        return { status: 201, body: hostedSliverOf(sliver) };
      },
    },
    {
      ...SLICE_ROUTES.release,
      handler: async (req) => {
        const id = field(req.body, 'lease', isLeaseId, 'a lease id of 16-64 base64url characters');
        const lease = store.getLease(id);
        if (lease !== undefined && lease.holder !== req.member) throw new HearthError('forbidden', 'only the gateway that took a lease may release it');
        hosting.release(id);
        return {};
      },
    },
    {
      ...SLICE_ROUTES.delete,
      handler: async (req) => {
        const document = documentIn(req.body);
        const { doc, user, name } = verifyDelete(document, nowSec());
        const removed = hosting.remove(user, name, doc.at, 'deleted', document).length;
        if (hosting.record(user, name) !== undefined) await register?.(user, name);
        return { body: { removed } };
      },
    },
    {
      ...SLICE_ROUTES.renew,
      handler: async (req) => {
        const document = documentIn(req.body);
        const { doc, user, name, expiresAt } = verifyRenew(document, nowSec());
        return { body: { renewed: hosting.renew(user, name, expiresAt, document, doc.at) } };
      },
    },
    {
      // A grown slice's entry gateway sends the placement of its new slivers with the resize, so that no holder sees them lost meanwhile.
      ...SLICE_ROUTES.resize,
      handler: async (req) => {
        const document = documentIn(req.body);
        const { user, name } = verifyResize(document, nowSec());
        const placed = (req.body as Record<string, unknown>)['placement'] === undefined ? undefined : {
          placement: field(req.body, 'placement', isPlacement, 'an object of sliver index to gateway'),
          version: field(req.body, 'version', isVersion, 'a whole number from 1'),
        };
        const { resized, retired } = hosting.resize(user, name, document);
        const record = hosting.record(user, name);
        if (placed !== undefined && record?.deletedAt === null && placed.version > record.version) hosting.adopt(user, name, placed.placement, placed.version);
        return { body: { resized, retired: retired.length } };
      },
    },
    {
      ...SLICE_ROUTES.list,
      handler: async () => {
        const slivers = hosting.slivers();
        const items: HostedSlice[] = hosting.records().map(({ updatedAt: _, ...r }) => ({
          ...r, slivers: slivers.filter((s) => s.member?.user === r.user && s.spec.slice === r.name).map(hostedSliverOf),
        }));
        return { body: { items } };
      },
    },
  ];
}

/**
 * The command that writes the keys on its stdin to root's authorized_keys in a sliver: aside, then
 * renamed, so that sshd (or anyone) never reads the file half-written or empty.
 */
export const WRITE_SSH_KEYS: readonly string[] = [
  '/bin/sh', '-c', 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys.new && mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys',
];

/** Whether the sliver's event log holds an event of `type`: what each once-only set-up step leaves behind. */
const done = (store: Store, sliverId: string, type: string): boolean => store.listEvents({ sliverId, limit: 1000 }).some((e) => e.type === type);

/** Writes a slice's ssh keys to root's authorized_keys in one of its running slivers, once (an event marks it done). */
export async function installSshKeys(slivers: Pick<SliverService, 'exec'>, store: Store, sliver: StoredSliver, keys: readonly string[]): Promise<void> {
  if (done(store, sliver.id, 'slice.ssh-keys')) return;
  const result = await slivers.exec(sliver.id, {
    command: [...WRITE_SSH_KEYS],
    stdin: `${keys.join('\n')}\n`,
    timeoutSec: 20,
  });
  if (result.exitCode !== 0) throw new Error(`writing authorized_keys exited ${result.exitCode}: ${result.stderr.toString('utf8').slice(0, 200)}`);
  store.appendEvent(sliver.id, 'slice.ssh-keys', { count: keys.length });
}

/**
 * Installs sliver's share of the slice's app (its files, its boot script)
 * and runs it, once: an event records it, and the sliver's own marker keeps
 * a second run (after a crash between the two) from running the commands
 * again. Commands that fail are recorded, not retried: the app's services'
 * health checks tell the rest. A sliver that cannot be reached is tried
 * again (the caller's next round).
 */
export async function installApp(
  slivers: Pick<SliverService, 'exec'>, store: Store, log: Logger, sliver: StoredSliver, recipe: AppRecipe, size: number,
): Promise<void> {
  if (done(store, sliver.id, 'app.installed')) return;
  const index = sliver.member?.index ?? 0;
  const share = appShare(recipe, sliver.spec.slice, Math.max(size, index + 1), index);
  const result = await slivers.exec(sliver.id, { command: ['/bin/sh', '-s'], stdin: installScript(recipe.name, share), timeoutSec: 300 });
  const stderr = result.stderr.toString('utf8').slice(-500);
  if (result.exitCode !== 0) log.warn({ sliver: sliver.spec.name, app: recipe.name, role: share.role, exitCode: result.exitCode, stderr }, 'the app\'s boot commands failed');
  else log.info({ sliver: sliver.spec.name, app: recipe.name, role: share.role }, 'app installed');
  store.appendEvent(sliver.id, 'app.installed', { app: recipe.name, role: share.role, exitCode: result.exitCode, ...(result.exitCode === 0 ? {} : { stderr }) });
}

/** Lets lapsed leases go and removes expired slices, every `intervalMs`, and once at start (a gateway back from away catches up). */
export function startSliceSweeper(init: { hosting: SliceHosting; log: Logger; intervalMs?: number }): { stop(): void } {
  const sweep = (): void => {
    try {
      const { lapsed, expired } = init.hosting.sweep();
      for (const l of lapsed) init.log.info({ slice: l.slice, index: l.index, holder: l.holder }, 'a lease lapsed');
      for (const r of expired) init.log.info({ slice: r.name, user: r.user }, 'slice expired; its slivers here are removed');
    } catch (err) {
      init.log.warn({ err: (err as Error).message }, 'sweeping slices failed');
    }
  };
  sweep();
  const timer = setInterval(sweep, init.intervalMs ?? 5000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
