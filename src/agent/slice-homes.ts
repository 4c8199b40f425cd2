// Slice names' homes (cloud/slice-homes.ts), in three parts: as a home, this
// gateway keeps the soft table of who holds which slice and answers it over
// two peer routes; as a holder, it registers the slices it holds with their
// homes at once after a commit or a delete, and all its live ones, batched
// per home, every round, and learns from the homes' answers who else holds
// them (its keeper pulls their records); as an entry gateway, it asks a
// slice name's homes for its holders. Nothing of it is stored: a home that restarts has its
// table back after one round of registrations.
// Must never: record a registration under any member but the caller that
// made it, take a body it did not check field by field, or fail a commit or
// a delete because a home did not answer.

import { HearthError } from '../model/errors.js';
import { isObject } from '../model/json-object.js';
import type { Logger } from '../model/logger.js';
import { USER_ID } from '../model/policy.js';
import { checkSliceName } from '../model/slice.js';
import { createRounds, type Rounds } from '../kit/rounds.js';
import type { ViewState } from '../overlay/view.js';
import type { PeerCaller } from '../peer/caller.js';
import type { PeerRoute } from '../peer/router.js';
import { NONCE } from '../cloud/signed-document.js';
import {
  EMPTY_HOME_TABLE, expireHolders, homeCandidates, homesOf, holdersOf, mergeHolders, registerHolders,
  type Holder, type HomeRegistration, type HomeTable,
} from '../cloud/slice-homes.js';
import { incarnationOf, type SliceHosting } from '../slivers/hosting.js';
import type { SliceRecord } from '../store/store.js';

export const HOME_ROUTES = {
  register: { method: 'POST', path: '/peer/v1/slices/homes' },
  holders: { method: 'GET', path: '/peer/v1/slices/homes' },
} as const;

/** How often every holder registers its live slices again. */
export const REGISTER_INTERVAL_MS = 2000;
/** A registration not refreshed for this long is gone (five rounds: a loaded gateway's round may run late). */
export const HOME_TTL_MS = 5 * REGISTER_INTERVAL_MS;
/** Most registrations in one call; a holder of more sends several. */
export const MAX_REGISTRATIONS = 500;

/** What a gateway needs of the community to be a home, a holder or an entry gateway. */
export interface HomesCommunity {
  view(): ViewState;
  readonly caller: PeerCaller;
}

const bad = (detail: string, field: string): HearthError => new HearthError('invalid_request', detail, { field });

function userIn(value: unknown, field: string): string {
  if (typeof value !== 'string' || !USER_ID.test(value)) throw bad(`${field} must be a user id (SHA256:…)`, field);
  return value;
}

/** One registration, exactly these fields, each checked. */
function registrationIn(value: unknown, at: string): HomeRegistration {
  if (!isObject(value)) throw bad(`${at} must be an object`, at);
  const extra = Object.keys(value).filter((k) => !['user', 'name', 'incarnation', 'version', 'deleted', 'expiresAt'].includes(k));
  if (extra.length > 0) throw bad(`${at} has unknown fields: ${extra.slice(0, 4).join(', ')}`, at);
  const { incarnation, version, deleted, expiresAt } = value;
  if (typeof incarnation !== 'string' || !NONCE.test(incarnation)) throw bad(`${at}.incarnation must be a create document's nonce`, `${at}.incarnation`);
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw bad(`${at}.version must be a whole number from 1`, `${at}.version`);
  if (typeof deleted !== 'boolean') throw bad(`${at}.deleted must be true or false`, `${at}.deleted`);
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt < 0) throw bad(`${at}.expiresAt must be whole seconds since the epoch`, `${at}.expiresAt`);
  return { user: userIn(value['user'], `${at}.user`), name: checkSliceName(value['name'], `${at}.name`), incarnation, version, deleted, expiresAt };
}

/** A register body: `{items: [registration, …]}`, 1 to MAX_REGISTRATIONS of them. */
export function parseRegistrations(body: unknown): HomeRegistration[] {
  if (!isObject(body) || Object.keys(body).some((k) => k !== 'items')) throw bad('the body is {"items": [registration, …]}', 'items');
  const items = body['items'];
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_REGISTRATIONS) {
    throw bad(`items must be a list of 1 to ${MAX_REGISTRATIONS} registrations`, 'items');
  }
  return items.map((item, i) => registrationIn(item, `items[${i}]`));
}

/** The home's side: its table and the two routes. `nowMs` is monotonic. */
export function sliceHomeRoutes(init: { community: Pick<HomesCommunity, 'view'>; nowMs: () => number; ttlMs?: number }): PeerRoute[] {
  const ttlMs = init.ttlMs ?? HOME_TTL_MS;
  let table: HomeTable = EMPTY_HOME_TABLE;
  let expiredAt = init.nowMs();
  return [
    {
      ...HOME_ROUTES.register,
      handler: async (req) => {
        const items = parseRegistrations(req.body);
        const now = init.nowMs();
        if (now - expiredAt >= ttlMs) {
          table = expireHolders(table, now, ttlMs);
          expiredAt = now;
        }
        table = registerHolders(table, req.member, items, now);
        // Each slice's other holders of the same incarnation: the registrar's keeper pulls records from them.
        const view = init.community.view();
        const alive = (m: string): boolean => view.members.get(m)?.status === 'alive';
        const others = items.map((r) => holdersOf(table, r.user, r.name, now, ttlMs, alive)
          .filter((h) => h.member !== req.member && h.incarnation === r.incarnation).map((h) => h.member));
        return { body: { registered: items.length, others } };
      },
    },
    {
      ...HOME_ROUTES.holders,
      handler: async (req) => {
        const user = userIn(req.query.get('user') ?? undefined, 'user');
        const name = checkSliceName(req.query.get('name') ?? undefined, 'name');
        const view = init.community.view();
        const alive = (m: string): boolean => view.members.get(m)?.status === 'alive';
        return { body: { holders: holdersOf(table, user, name, init.nowMs(), ttlMs, alive) } };
      },
    },
  ];
}

/** The registration of a holder's record of a slice at `nowSec`. */
export function registrationOf(record: SliceRecord, nowSec: number): HomeRegistration {
  return {
    user: record.user, name: record.name, incarnation: incarnationOf(record.document), version: record.version,
    deleted: record.deletedAt !== null || record.expiresAt <= nowSec, expiresAt: record.expiresAt,
  };
}

export interface HomeRegistrar extends Rounds {
  /** Registers this gateway's record of one slice (live or not) with its homes now; resolves once they answered or timed out, never rejects. */
  register(user: string, name: string): Promise<void>;
  /**
   * The members the homes said hold a slice with this gateway, as of the
   * last round of registrations: its keeper pulls their records, which is
   * how two holders whose placements name neither (a slice healed on both
   * sides of a partition) find each other.
   */
  coHolders(): ReadonlySet<string>;
}

/** The most co-holders taken from one home's answer for one slice: a home is a peer, and its word is bounded. */
const MAX_OTHERS = 64;

/** The members a register reply names as other holders, checked: a malformed reply counts for nothing. */
function othersIn(reply: unknown, items: number): string[] {
  const others = (reply as { others?: unknown } | undefined)?.others;
  if (!Array.isArray(others) || others.length !== items) return [];
  return others.flatMap((list) => (Array.isArray(list) ? list.slice(0, MAX_OTHERS).filter((m): m is string => typeof m === 'string') : []));
}

/** The holder's side: registers its slices with their homes, at once when asked and every round. */
export function createHomeRegistrar(init: {
  hosting: Pick<SliceHosting, 'record' | 'live'>;
  community: HomesCommunity;
  log: Logger;
  nowSec: () => number;
  intervalMs?: number;
  /** Per call: short, as a commit waits for the registration of its slice. */
  callTimeoutMs?: number;
}): HomeRegistrar {
  const timeoutMs = init.callTimeoutMs ?? 1500;
  /** Co-holders of the last whole round, and of the round under way. */
  let coHolders: ReadonlySet<string> = new Set();
  let gathering = new Set<string>();
  const send = async (home: string, items: HomeRegistration[]): Promise<void> => {
    try {
      const reply = await init.community.caller.call(home, HOME_ROUTES.register, { items }, { timeoutMs });
      for (const m of othersIn(reply, items.length)) gathering.add(m);
    } catch (err) {
      init.log.debug({ home, slices: items.length, err: (err as Error).message }, 'a home did not take our registrations; the next round tries again');
    }
  };
  /** Sends `items` to their homes in this gateway's view, grouped by home and cut into calls of at most MAX_REGISTRATIONS. */
  const sendAll = async (items: HomeRegistration[]): Promise<void> => {
    let candidates: string[];
    try {
      candidates = homeCandidates(init.community.view());
    } catch {
      return; // not in a community now
    }
    const byHome = new Map<string, HomeRegistration[]>();
    for (const item of items) {
      for (const home of homesOf(item.user, item.name, candidates)) {
        const batch = byHome.get(home);
        if (batch === undefined) byHome.set(home, [item]);
        else batch.push(item);
      }
    }
    await Promise.all([...byHome].flatMap(([home, all]) => {
      const calls: Promise<void>[] = [];
      for (let i = 0; i < all.length; i += MAX_REGISTRATIONS) calls.push(send(home, all.slice(i, i + MAX_REGISTRATIONS)));
      return calls;
    }));
  };
  const rounds = createRounds({
    round: async () => {
      const now = init.nowSec();
      gathering = new Set();
      await sendAll(init.hosting.live(now).map((l) => registrationOf(l.record, now)));
      coHolders = gathering;
    },
    onError: (err) => init.log.warn({ err: (err as Error).message }, 'registering slices with their homes failed'),
    intervalMs: init.intervalMs ?? REGISTER_INTERVAL_MS,
  });
  return {
    ...rounds,
    async register(user, name) {
      const record = init.hosting.record(user, name);
      if (record !== undefined) await sendAll([registrationOf(record, init.nowSec())]);
    },
    coHolders: () => coHolders,
  };
}

/** A holder as a home answers it, checked: a home's reply is a peer's word, and a malformed one counts for nothing. */
const isHolder = (v: unknown): v is Holder => isObject(v) && typeof v['member'] === 'string' && typeof v['incarnation'] === 'string'
  && typeof v['deleted'] === 'boolean' && typeof v['version'] === 'number' && typeof v['expiresAt'] === 'number';

/** The entry gateway's side: what the homes of (user, name) in its view know of its holders, and how many of them answered. */
export async function askHomes(community: HomesCommunity, user: string, name: string, timeoutMs: number): Promise<{ asked: number; answered: number; holders: Holder[] }> {
  const homes = homesOf(user, name, homeCandidates(community.view()));
  const route = { method: HOME_ROUTES.holders.method, path: `${HOME_ROUTES.holders.path}?${new URLSearchParams({ user, name }).toString()}` };
  const settled = await Promise.allSettled(homes.map((h) => community.caller.call(h, route, undefined, { timeoutMs })));
  const answers = settled.flatMap((s) => {
    const holders = s.status === 'fulfilled' ? (s.value as { holders?: unknown } | undefined)?.holders : undefined;
    return Array.isArray(holders) ? [holders.filter(isHolder)] : [];
  });
  return { asked: homes.length, answered: answers.length, holders: mergeHolders(answers) };
}
