// Slice names' homes (cloud/slice-homes.ts), in three parts: as a home, this
// gateway keeps the soft table of who holds which slice and answers it over
// two peer routes; as a holder, it registers the slices it holds with their
// homes at once after a commit or a delete, each round (batched per home)
// those a home lacks as they are now (a home new to a slice after a view
// change among them), and all of them every refresh, and learns from the
// homes' answers who else holds them (its keeper pulls their records); as an
// entry gateway, it asks a slice name's homes for its holders. Nothing of it
// is stored: a home that restarts has its table back after one refresh.
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
  EMPTY_HOME_TABLE, EMPTY_REGISTRAR, expireHolders, homeCandidates, homesOf, holdersOf, mergeHolders, registerHolders, registrationsAnswered, registrationsDue,
  type Holder, type HomeRegistration, type HomeTable, type RegistrarState,
} from '../cloud/slice-homes.js';
import { incarnationOf, type SliceHosting } from '../slivers/hosting.js';
import type { SliceRecord } from '../store/store.js';

export const HOME_ROUTES = {
  register: { method: 'POST', path: '/peer/v1/slices/homes' },
  holders: { method: 'GET', path: '/peer/v1/slices/homes' },
} as const;

/** How often a holder looks for homes that lack one of its registrations. */
export const REGISTER_INTERVAL_MS = 2000;
/**
 * How often a holder tells every home all its registrations again. Until
 * session 22 every holder sent them all every round (2 s, with 1.5 s to
 * answer): at 100 gateways on one machine, with 21 slices of 3, that was
 * about 95 calls a second, which loaded the homes past their timeout, and a
 * call given up costs its connection (a new TLS handshake next round):
 * about a thousand failed registrations a minute, and the heal waited
 * behind them (BENCHMARKS.md, run P).
 */
export const REFRESH_MS = 30_000;
/** A registration not refreshed for this long is gone (three refreshes: a loaded holder's may run late, or fail once). */
export const HOME_TTL_MS = 3 * REFRESH_MS;
/** A round's call has this long: nobody waits for it, and one given up costs a new connection next time. */
const ROUND_CALL_TIMEOUT_MS = 10_000;
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
   * The members the homes said hold a slice with this gateway, as of each
   * home's last answer for that slice: its keeper pulls their records, which is
   * how two holders whose placements name neither (a slice healed on both
   * sides of a partition) find each other.
   */
  coHolders(): ReadonlySet<string>;
}

/** The most co-holders taken from one home's answer for one slice: a home is a peer, and its word is bounded. */
const MAX_OTHERS = 64;

/** The members a register reply names as each item's other holders, checked: a malformed reply counts for nothing. */
function othersIn(reply: unknown, items: number): string[][] {
  const others = (reply as { others?: unknown } | undefined)?.others;
  if (!Array.isArray(others) || others.length !== items) return [];
  return others.map((list) => (Array.isArray(list) ? list.slice(0, MAX_OTHERS).filter((m): m is string => typeof m === 'string') : []));
}

/** The holder's side: registers its slices with their homes, at once when asked, and in rounds what a home lacks or is due. */
export function createHomeRegistrar(init: {
  hosting: Pick<SliceHosting, 'record' | 'live'>;
  community: HomesCommunity;
  log: Logger;
  nowSec: () => number;
  intervalMs?: number;
  /** Per call asked at once: short, as a commit waits for the registration of its slice. */
  callTimeoutMs?: number;
}): HomeRegistrar {
  const nowMs = (): number => performance.now();
  const timings = { refreshMs: REFRESH_MS, retryMs: init.intervalMs ?? REGISTER_INTERVAL_MS };
  let state: RegistrarState = EMPTY_REGISTRAR;
  /** What each home last answered of each slice's other holders, by home and slice: the co-holders are their union. */
  const others = new Map<string, Map<string, string[]>>();
  let coHolders: ReadonlySet<string> = new Set();
  const gather = (): void => {
    coHolders = new Set([...others.values()].flatMap((bySlice) => [...bySlice.values()].flat()));
  };
  /** Tells `home` of `items` (`all`: every registration it should have), in calls of at most MAX_REGISTRATIONS; it took them only if every call went through. */
  const send = async (home: string, items: HomeRegistration[], all: boolean, timeoutMs: number): Promise<void> => {
    const chunks: HomeRegistration[][] = [];
    for (let i = 0; i < items.length; i += MAX_REGISTRATIONS) chunks.push(items.slice(i, i + MAX_REGISTRATIONS));
    const answers = await Promise.allSettled(chunks.map(async (chunk) => {
      const reply = await init.community.caller.call(home, HOME_ROUTES.register, { items: chunk }, { timeoutMs });
      const named = othersIn(reply, chunk.length);
      const bySlice = others.get(home) ?? new Map<string, string[]>();
      chunk.forEach((r, i) => bySlice.set(`${r.user} ${r.name}`, named[i] ?? []));
      others.set(home, bySlice);
    }));
    const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed !== undefined) {
      init.log.debug({ home, slices: items.length, err: (failed.reason as Error).message }, 'a home did not take our registrations; trying again later');
    }
    state = registrationsAnswered(state, home, items, { all, ok: failed === undefined }, nowMs(), timings);
  };
  /** Each slice's homes, worked out once for as long as the candidates stay the same (a round asks for every live slice's). */
  let known: { candidates: string; homes: Map<string, string[]> } = { candidates: '', homes: new Map() };
  /** `items` grouped by their homes in this gateway's view (none when it is in no community); `all`: they are every live slice, forget the others' homes. */
  const byHome = (items: readonly HomeRegistration[], all: boolean): Map<string, HomeRegistration[]> => {
    const homes = new Map<string, HomeRegistration[]>();
    let candidates: string[];
    try {
      candidates = homeCandidates(init.community.view());
    } catch {
      return homes; // not in a community now
    }
    const key = candidates.join('\n');
    const before = key === known.candidates ? known.homes : new Map<string, string[]>();
    known = { candidates: key, homes: all ? new Map() : before };
    for (const item of items) {
      const slice = `${item.user} ${item.name}`;
      const its = before.get(slice) ?? homesOf(item.user, item.name, candidates);
      known.homes.set(slice, its);
      for (const home of its) {
        const batch = homes.get(home);
        if (batch === undefined) homes.set(home, [item]);
        else batch.push(item);
      }
    }
    return homes;
  };
  const rounds = createRounds({
    round: async () => {
      const now = init.nowSec();
      const wanted = byHome(init.hosting.live(now).map((l) => registrationOf(l.record, now)), true);
      // Co-holders only of the slices each home is still a home of.
      for (const [home, bySlice] of others) {
        const keys = new Set((wanted.get(home) ?? []).map((r) => `${r.user} ${r.name}`));
        for (const key of bySlice.keys()) if (!keys.has(key)) bySlice.delete(key);
        if (bySlice.size === 0) others.delete(home);
      }
      const step = registrationsDue(state, wanted, nowMs(), timings);
      state = step.state;
      await Promise.all(step.due.map(({ home, items }) => send(home, items, true, ROUND_CALL_TIMEOUT_MS)));
      gather();
    },
    onError: (err) => init.log.warn({ err: (err as Error).message }, 'registering slices with their homes failed'),
    intervalMs: init.intervalMs ?? REGISTER_INTERVAL_MS,
  });
  return {
    ...rounds,
    async register(user, name) {
      const record = init.hosting.record(user, name);
      if (record === undefined) return;
      const homes = byHome([registrationOf(record, init.nowSec())], false);
      await Promise.all([...homes].map(([home, items]) => send(home, items, false, init.callTimeoutMs ?? 1500)));
      gather();
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
