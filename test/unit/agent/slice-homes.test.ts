// A slice creation's peer calls do not grow with the community: over a fake
// community of 10 and of 50 members (an in-memory caller, fake hosts that
// keep records as a host's do, and the real home routes and registrar), the
// entry gateway asks the name's three homes, then reserves and commits on
// the hosts and reads the slice back from them, and nothing else; a second
// create of the name, at once and through another gateway, is slice_exists
// from the homes' word; a delete frees the name at once; a slice whose
// holders registered nowhere is still found (and still refused) by asking
// everyone, as is every name when no home answers; a holder learns from the
// homes' answers who else holds its slices; a host that commits but answers
// too late is asked again rather than placed around, unless the view has it
// failed. A holder's rounds call only a home that lacks a registration
// (one new to a slice after a failure among them). The home's register route takes
// only a body it checked field by field, under the caller's name, and
// answers each slice's other holders.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createSliceService, type SliceService } from '../../../src/agent/slices.js';
import { SLICE_ROUTES, verifyCreate, verifyDelete, type HostedSlice } from '../../../src/agent/slice-host.js';
import { HOME_ROUTES, createHomeRegistrar, parseRegistrations, sliceHomeRoutes, type HomeRegistrar } from '../../../src/agent/slice-homes.js';
import { homesOf } from '../../../src/cloud/slice-homes.js';
import { signDocument } from '../../../src/cloud/signed-document.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';
import { HearthError, PeerError, PeerTimeout } from '../../../src/model/errors.js';
import { silentLogger } from '../../../src/model/logger.js';
import { SLICE_KINDS } from '../../../src/model/slice.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';
import { memberView } from '../../support/member-view.js';
import type { PeerCaller, PeerRouteRef } from '../../../src/peer/caller.js';
import type { PeerRoute } from '../../../src/peer/router.js';
import type { SliceRecord } from '../../../src/store/store.js';

const alice = generateKeyPairSync('ed25519').privateKey;
const ALICE = userKeyOf(alice).id;
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sign = (kind: string, body: unknown): unknown => signDocument({ kind, body, privateKey: alice, at: nowSec(), nonce: randomBytes(16).toString('base64url') });
const create = (name: string, slivers = 3): unknown => sign(SLICE_KINDS.create, { name, slivers, template: 'busybox' });

const member = (name: string): MemberView => memberView(name);

/**
 * A fake community in memory: every member answers the slice routes as a
 * host would (a record per slice, a first commit registers it with its
 * homes before it is answered, a later one behind the answer, as the real
 * commit route does) and the home routes
 * with the real handlers. It counts every call by caller and route.
 */
function fakeCommunity(size: number, opts: {
  registers?: boolean; listFails?: (self: string) => boolean; lateCommit?: (self: string) => boolean; refusesReserve?: (self: string) => boolean;
} = {}) {
  const names = Array.from({ length: size }, (_, i) => `gw${String(i + 1).padStart(2, '0')}`);
  const members = new Map(names.map((n) => [n, member(n)]));
  const view: ViewState = { members, badTags: 0 };
  /** The view sees `name` fail. */
  const fail = (name: string): void => void members.set(name, { ...(members.get(name) as MemberView), status: 'failed' });
  const down = new Set<string>();
  const calls: { from: string; as: 'entry' | 'holder'; to: string; route: string }[] = [];
  const records = new Map(names.map((n) => [n, new Map<string, SliceRecord>()]));
  const routes = new Map<string, PeerRoute[]>();
  const registrars = new Map<string, HomeRegistrar>();

  const callerFor = (from: string, as: 'entry' | 'holder'): PeerCaller => ({
    async call(to: string, route: PeerRouteRef, body?: unknown): Promise<unknown> {
      const url = new URL(route.path, 'https://peer.invalid');
      calls.push({ from, as, to, route: `${route.method} ${url.pathname}` });
      if (down.has(to)) throw new PeerError(to, `${to} does not answer`);
      const handler = routes.get(to)?.find((r) => r.method === route.method && r.path === url.pathname)?.handler;
      if (handler === undefined) throw new PeerError(to, 'no such route', { type: 'about:blank', title: 'not found', status: 404, code: 'not_found' } as never);
      try {
        const reply = (await handler({ member: from, fingerprint: '', method: route.method, path: url.pathname, params: {}, query: url.searchParams, body, signal: new AbortController().signal })).body;
        // A busy host: it did the work, but its answer came after the caller gave up.
        const commits = route === SLICE_ROUTES.commit || (route === SLICE_ROUTES.reserve && (body as { commit?: unknown }).commit !== undefined);
        if (commits && opts.lateCommit?.(to) === true) throw new PeerTimeout(to, `${to} did not answer in time`);
        return reply;
      } catch (err) {
        if (err instanceof HearthError) throw new PeerError(to, err.message, err.toProblem());
        throw err;
      }
    },
  });
  const communityOf = (self: string, as: 'entry' | 'holder') => ({ view: () => view, caller: callerFor(self, as) });

  for (const self of names) {
    const mine = records.get(self) as Map<string, SliceRecord>;
    const hosting = {
      record: (user: string, name: string) => mine.get(`${user} ${name}`),
      live: (now: number) => [...mine.values()].filter((r) => r.deletedAt === null && r.expiresAt > now).map((record) => ({ record, spec: undefined as never, size: 0 })),
    };
    const registrar = createHomeRegistrar({ hosting, community: communityOf(self, 'holder'), log: silentLogger, nowSec });
    registrars.set(self, registrar);
    const commit = async (document: unknown, placement: Record<string, string>, version: number): Promise<void> => {
      const { user, spec, doc } = verifyCreate(document, nowSec());
      mine.set(`${user} ${spec.name}`, {
        user, name: spec.name, document, placement, version, expiresAt: doc.at + spec.lifetimeSec,
        deletedAt: null, deleteDocument: null, renewDocument: null, resizeDocument: null, updatedAt: '',
      });
      // As the real routes: the first placement is registered before the answer, a later one behind it.
      const registered = opts.registers === false ? undefined : registrar.register(user, spec.name);
      if (version === 1) await registered;
    };
    const hostRoutes: PeerRoute[] = [
      {
        ...SLICE_ROUTES.reserve,
        handler: async (req) => {
          const b = req.body as { document: unknown; commit?: { placement: Record<string, string>; version: number } };
          if (opts.refusesReserve?.(self) === true) throw new HearthError('insufficient_resources', 'no room here');
          if (b.commit === undefined) return { body: { kind: 'leased', expiresAt: nowSec() + 30 } };
          // One sliver alone: reserved and committed in the same call.
          await commit(b.document, b.commit.placement, b.commit.version);
          return { body: { kind: 'hosted', sliver: {} } };
        },
      },
      { ...SLICE_ROUTES.release, handler: async () => ({}) },
      {
        ...SLICE_ROUTES.commit,
        handler: async (req) => {
          const b = req.body as { document: unknown; placement: Record<string, string>; version: number };
          await commit(b.document, b.placement, b.version);
          return { status: 201, body: {} };
        },
      },
      {
        ...SLICE_ROUTES.delete,
        handler: async (req) => {
          const document = (req.body as { document: unknown }).document;
          const { user, name, doc } = verifyDelete(document, nowSec());
          const r = mine.get(`${user} ${name}`);
          if (r === undefined) return { body: { removed: 0 } };
          mine.set(`${user} ${name}`, { ...r, deletedAt: doc.at, deleteDocument: document });
          if (opts.registers !== false) await registrar.register(user, name);
          return { body: { removed: 1 } };
        },
      },
      {
        ...SLICE_ROUTES.list,
        handler: async () => {
          if (opts.listFails?.(self) === true) throw new HearthError('internal', 'too busy to answer');
          return {
          body: {
            items: [...mine.values()].map(({ updatedAt: _, ...r }): HostedSlice => ({
              ...r, slivers: Object.entries(r.placement).filter(([, g]) => g === self && r.deletedAt === null)
                .map(([i]) => ({ index: Number(i), name: `${r.name}-${i}`, desired: 'running', observed: 'running', address: null, reason: null })),
            })),
          },
          };
        },
      },
    ];
    routes.set(self, [...hostRoutes, ...sliceHomeRoutes({ community: { view: () => view }, nowMs: () => performance.now() })]);
  }

  const service = (entry: string): SliceService => createSliceService({ community: communityOf(entry, 'entry'), log: silentLogger });
  const byEntry = (entry: string): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const c of calls.filter((x) => x.from === entry && x.as === 'entry')) counts[c.route] = (counts[c.route] ?? 0) + 1;
    return counts;
  };
  return { names, fail, down, calls, records, registrars, service, byEntry, reset: () => void calls.splice(0) };
}

const LIST = `${SLICE_ROUTES.list.method} ${SLICE_ROUTES.list.path}`;
const HOLDERS = `${HOME_ROUTES.holders.method} ${HOME_ROUTES.holders.path}`;
const REGISTER = `${HOME_ROUTES.register.method} ${HOME_ROUTES.register.path}`;
const RESERVE = `${SLICE_ROUTES.reserve.method} ${SLICE_ROUTES.reserve.path}`;
const COMMIT = `${SLICE_ROUTES.commit.method} ${SLICE_ROUTES.commit.path}`;

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof HearthError ? err.code : String(err);
  }
  assert.fail('expected a refusal');
}

void describe('a slice creation asks the name\'s homes, not the community', () => {
  for (const size of [10, 50]) {
    test(`with ${size} members: three homes, then one reserve, one commit and one read per sliver; each host registers with the three homes`, async () => {
      const c = fakeCommunity(size);
      const view = await c.service('gw01').create(create('web'));
      assert.equal(view.state, 'running');
      assert.equal(view.slivers.length, 3);
      assert.deepEqual(c.byEntry('gw01'), { [HOLDERS]: 3, [RESERVE]: 3, [COMMIT]: 3, [LIST]: 3 }, 'independent of the community\'s size');
      const hosts = view.slivers.map((s) => s.gateway as string);
      const homes = homesOf(ALICE, 'web', c.names);
      for (const host of hosts) {
        assert.deepEqual(c.calls.filter((x) => x.from === host && x.as === 'holder').map((x) => `${x.route} ${x.to}`).sort(), homes.map((h) => `${REGISTER} ${h}`).sort());
      }
      assert.equal(c.calls.length, 3 + 3 * 3 + 3 * 3, 'nobody else called anybody');
    });
  }

  test('a slice placed whose hosts do not answer the read-back: the answer is its placement, starting, not slice_not_found', async () => {
    const c = fakeCommunity(10, { listFails: () => true });
    const view = await c.service('gw01').create(create('web'));
    assert.equal(view.state, 'starting');
    assert.equal(new Set(view.slivers.map((s) => s.gateway)).size, 3);
    assert.ok(view.slivers.every((s) => s.observed === 'unknown' && s.gateway !== null));
    assert.deepEqual([...view.unreachable].sort(), view.slivers.map((s) => s.gateway).sort());
  });

  test('a slice placed one of whose hosts does not answer the read-back: that sliver is shown on its host, unknown, and the slice degraded', async () => {
    // The host of sliver 0 falls silent once the slice is placed: known only then.
    const silenced = new Set<string>();
    const c = fakeCommunity(10, { listFails: (self) => silenced.has(self) });
    const service = c.service('gw01');
    const first = await service.create(create('probe'));
    const silent = first.slivers[0]?.gateway as string;
    silenced.add(silent);
    const view = await service.get('probe', ALICE);
    assert.equal(view.state, 'degraded');
    assert.deepEqual(view.slivers.map((s) => s.gateway), first.slivers.map((s) => s.gateway), 'every sliver named on its host');
    assert.deepEqual(view.slivers.map((s) => s.observed), ['unknown', 'running', 'running']);
    assert.equal(view.slivers[0]?.reason, `${silent} did not answer`);
    assert.deepEqual(view.unreachable, [silent]);
  });

  test('a host that commits but answers too late is asked again, once: the slice stays where it was placed, at version 1', async () => {
    const late = new Set<string>();
    const c = fakeCommunity(10, { lateCommit: (self) => late.delete(self) });
    // Every host's first commit answers late, its second in time.
    for (const n of c.names) late.add(n);
    const view = await c.service('gw01').create(create('web'));
    assert.equal(view.version, 1, 'not placed again elsewhere');
    assert.equal(view.state, 'running');
    const hosts = view.slivers.map((s) => s.gateway as string).sort();
    assert.deepEqual(c.calls.filter((x) => x.from === 'gw01' && x.route === COMMIT).map((x) => x.to).sort(), [...hosts, ...hosts].sort(), 'two commits to each host, none to any other');
    assert.deepEqual(c.names.filter((n) => c.records.get(n)?.size === 1).sort(), hosts, 'only the three hosts keep a record');
  });

  test('a host that does not answer its commit in time and that the view has failed is not asked again: its sliver goes elsewhere', async () => {
    let dying: string | undefined;
    const c = fakeCommunity(10, { lateCommit: (self) => {
      if (dying !== undefined) return false;
      // The first host asked to commit times out as the view sees it fail.
      dying = self;
      c.fail(self);
      return true;
    } });
    const view = await c.service('gw01').create(create('web'));
    assert.ok(dying !== undefined);
    assert.equal(view.version, 2, 'its sliver placed again under the next version');
    assert.equal(view.state, 'running');
    assert.ok(!view.slivers.some((s) => s.gateway === dying), 'on another gateway');
    const commits = c.calls.filter((x) => x.from === 'gw01' && x.route === COMMIT);
    assert.equal(commits.filter((x) => x.to === dying).length, 1, 'asked once');
    assert.equal(commits.length, 3, 'the three first hosts');
    const again = c.calls.filter((x) => x.from === 'gw01' && x.route === RESERVE).slice(3);
    assert.equal(again.length, 1, 'the sliver alone is placed again by one reserve that commits');
    assert.notEqual(again[0]?.to, dying);
  });

  /** A slice of three placed through gw01, and its host of sliver 0 failed: what its healer (the holder of sliver 1) needs. */
  async function lostOne(c: ReturnType<typeof fakeCommunity>) {
    const document = create('web');
    const view = await c.service('gw01').create(document);
    const [lost, healer, third] = view.slivers.map((s) => s.gateway as string) as [string, string, string];
    c.fail(lost);
    c.reset();
    const heal = () => c.service(healer).heal({ create: document, resize: null }, { indexes: [0], kept: { 1: healer, 2: third }, version: 2 });
    const reserves = () => c.calls.filter((x) => x.from === healer && x.as === 'entry' && x.route === RESERVE).map((x) => x.to);
    const commits = () => c.calls.filter((x) => x.from === healer && x.as === 'entry' && x.route === COMMIT).length;
    return { lost, healer, third, heal, reserves, commits };
  }

  test('a heal of one sliver is one call to its new host, a reserve that commits, with the placement at the next version', async () => {
    const c = fakeCommunity(10);
    const { lost, healer, third, heal, reserves, commits } = await lostOne(c);
    const placed = await heal();
    assert.equal(placed.version, 2);
    const moved = placed.placement[0] as string;
    assert.ok(![lost, healer, third].includes(moved), `on a fourth gateway, not ${moved}`);
    assert.deepEqual(reserves(), [moved], 'one reserve');
    assert.equal(commits(), 0, 'and no commit call');
    const record = [...(c.records.get(moved)?.values() ?? [])][0];
    assert.deepEqual({ placement: record?.placement, version: record?.version }, { placement: { 0: moved, 1: healer, 2: third }, version: 2 });
  });

  test('a reserve that commits and answers too late is asked again, once: the sliver stays on that host, at the same version', async () => {
    // Armed once the slice is placed: the heal's first committing call answers late, the next in time.
    let late = false;
    const c = fakeCommunity(10, { lateCommit: () => (late ? !(late = false) : false) });
    const { heal, reserves } = await lostOne(c);
    late = true;
    const placed = await heal();
    assert.equal(placed.version, 2, 'not placed again elsewhere');
    const moved = placed.placement[0] as string;
    assert.deepEqual(reserves(), [moved, moved]);
  });

  test('a reserve that commits and times out as the view sees its host fail: the sliver goes elsewhere under the next version', async () => {
    let armed = false;
    let dying: string | undefined;
    const c = fakeCommunity(10, { lateCommit: (self) => {
      if (!armed || dying !== undefined) return false;
      dying = self;
      c.fail(self);
      return true;
    } });
    const { heal, reserves } = await lostOne(c);
    armed = true;
    const placed = await heal();
    assert.ok(dying !== undefined);
    // It may have committed at version 2 before it failed: the same version elsewhere would tie with it.
    assert.equal(placed.version, 3);
    assert.notEqual(placed.placement[0], dying);
    assert.deepEqual(reserves(), [dying, placed.placement[0]], 'the dying host asked once');
  });

  test('a host that refuses a reserve that commits committed nothing: the sliver goes to another at the same version', async () => {
    let armed = false;
    let refuser: string | undefined;
    const c = fakeCommunity(10, { refusesReserve: (self) => (armed && refuser === undefined ? ((refuser = self), true) : false) });
    const { heal, reserves } = await lostOne(c);
    armed = true;
    const placed = await heal();
    assert.ok(refuser !== undefined);
    assert.equal(placed.version, 2);
    assert.notEqual(placed.placement[0], refuser);
    assert.deepEqual(reserves(), [refuser, placed.placement[0]]);
  });

  test('a second create of the name at once, through another gateway, is slice_exists from three calls', async () => {
    const c = fakeCommunity(50);
    const first = create('web');
    await c.service('gw01').create(first);
    c.reset();
    assert.equal(await refusal(c.service('gw30').create(create('web'))), 'slice_exists');
    assert.deepEqual(c.byEntry('gw30'), { [HOLDERS]: 3 });
  });

  test('a delete frees the name at once: the holders register the tombstone before they answer', async () => {
    const c = fakeCommunity(20);
    await c.service('gw01').create(create('web', 2));
    await c.service('gw05').remove('web', sign(SLICE_KINDS.delete, { name: 'web' }));
    const again = await c.service('gw09').create(create('web', 2));
    assert.equal(again.state, 'running');
  });

  test('get by user and name asks the homes, then only the holders they name', async () => {
    const c = fakeCommunity(50);
    const made = await c.service('gw01').create(create('web'));
    c.reset();
    const seen = await c.service('gw40').get('web', ALICE);
    assert.deepEqual(seen.slivers.map((s) => s.gateway), made.slivers.map((s) => s.gateway));
    assert.deepEqual(c.byEntry('gw40'), { [HOLDERS]: 3, [LIST]: 3 });
  });

  test('holders that registered with no home: the lookup asks every member, and still finds the slice', async () => {
    const c = fakeCommunity(12, { registers: false });
    await c.service('gw01').create(create('web'));
    c.reset();
    assert.equal((await c.service('gw02').get('web', ALICE)).slivers.length, 3);
    assert.deepEqual(c.byEntry('gw02'), { [HOLDERS]: 3, [LIST]: 12 });
  });

  test('no home answers: the name check asks every member rather than guess', async () => {
    const c = fakeCommunity(12);
    // A slice with a host beyond its homes: placement is random, and one whose hosts are all homes would have no host left to tell.
    let name = '';
    for (let i = 0; name === '' && i < 10; i++) {
      const view = await c.service('gw01').create(create(`web${i}`));
      const homes = homesOf(ALICE, `web${i}`, c.names);
      if (view.slivers.some((s) => !homes.includes(s.gateway as string))) name = `web${i}`;
    }
    for (const h of homesOf(ALICE, name, c.names)) c.down.add(h);
    c.reset();
    const entry = c.names.find((n) => !c.down.has(n)) as string;
    assert.equal(await refusal(c.service(entry).create(create(name))), 'slice_exists');
    assert.equal(c.byEntry(entry)[LIST], 12);
  });

  test('a registrar\'s round registers every live slice it holds, one call per home, and not the deleted ones', async () => {
    const c = fakeCommunity(30, { registers: false });
    await c.service('gw01').create(create('a', 1));
    await c.service('gw01').create(create('b', 1));
    const host = c.names.find((n) => (c.records.get(n)?.size ?? 0) > 0) as string;
    c.reset();
    await c.registrars.get(host)?.tick();
    const mine = [...(c.records.get(host) as Map<string, SliceRecord>).values()];
    const homes = new Set(mine.flatMap((r) => homesOf(r.user, r.name, c.names)));
    assert.equal(c.calls.filter((x) => x.from === host && x.route === REGISTER).length, homes.size);
  });

  test('a registrar\'s next round calls nobody; once a home fails, only the slice\'s new home is called, with what it lacks', async () => {
    const c = fakeCommunity(30, { registers: false });
    await c.service('gw01').create(create('a', 1));
    const host = c.names.find((n) => (c.records.get(n)?.size ?? 0) > 0) as string;
    const registrar = c.registrars.get(host) as HomeRegistrar;
    await registrar.tick();
    c.reset();
    await registrar.tick();
    assert.equal(c.calls.length, 0, 'every home has it already');
    const [gone] = homesOf(ALICE, 'a', c.names) as [string];
    c.fail(gone);
    const now = homesOf(ALICE, 'a', c.names.filter((n) => n !== gone));
    const newcomer = now.find((h) => !homesOf(ALICE, 'a', c.names).includes(h));
    await registrar.tick();
    assert.deepEqual(c.calls.map((x) => `${x.from} ${x.route} ${x.to}`), [`${host} ${REGISTER} ${newcomer ?? ''}`]);
  });

  test('a registrar learns from the homes who else holds its slices: those its keeper pulls records from', async () => {
    const c = fakeCommunity(30, { registers: false });
    const made = await c.service('gw01').create(create('web', 3));
    const hosts = made.slivers.map((s) => s.gateway as string);
    const [first, ...rest] = hosts as [string, ...string[]];
    assert.equal(c.registrars.get(first)?.coHolders().size, 0, 'nothing known before a round');
    // The others register first; then the first host's round is answered with them.
    for (const h of rest) await c.registrars.get(h)?.tick();
    await c.registrars.get(first)?.tick();
    assert.deepEqual([...(c.registrars.get(first)?.coHolders() ?? [])].sort(), [...rest].sort());
    // Only members holding the same incarnation: another user's slice of the same name, or a stranger, is not named.
    const stranger = c.names.find((n) => !hosts.includes(n)) as string;
    assert.ok(!c.registrars.get(first)?.coHolders().has(stranger));
  });
});

void describe('the home routes', () => {
  const user = `SHA256:${'A'.repeat(43)}`;
  const item = { user, name: 'web', incarnation: 'n'.repeat(22), version: 1, deleted: false, expiresAt: 1_900_000_000 };

  test('a register body is checked field by field: bad input is invalid_request (or invalid_name) naming the field', () => {
    assert.deepEqual(parseRegistrations({ items: [item] }), [item]);
    const code = (body: unknown): string => {
      try {
        parseRegistrations(body);
      } catch (err) {
        assert.ok(err instanceof HearthError);
        return `${err.code} ${String(err.extra['field'])}`;
      }
      return 'accepted';
    };
    assert.equal(code(null), 'invalid_request items');
    assert.equal(code({ items: [] }), 'invalid_request items');
    assert.equal(code({ items: [item], extra: 1 }), 'invalid_request items');
    assert.equal(code({ items: Array.from({ length: 501 }, () => item) }), 'invalid_request items');
    assert.equal(code({ items: [{ ...item, user: 'ann' }] }), 'invalid_request items[0].user');
    assert.equal(code({ items: [item, { ...item, name: 'Not A Name!' }] }), 'invalid_name items[1].name');
    assert.equal(code({ items: [{ ...item, incarnation: 'short' }] }), 'invalid_request items[0].incarnation');
    assert.equal(code({ items: [{ ...item, version: 0 }] }), 'invalid_request items[0].version');
    assert.equal(code({ items: [{ ...item, deleted: 'no' }] }), 'invalid_request items[0].deleted');
    assert.equal(code({ items: [{ ...item, expiresAt: 1.5 }] }), 'invalid_request items[0].expiresAt');
    assert.equal(code({ items: [{ ...item, holder: 'gw9' }] }), 'invalid_request items[0]');
  });

  test('a registration is the caller\'s own, lapses after the time to live, and a lookup needs a user and a name', async () => {
    let now = 0;
    const view: ViewState = { members: new Map(['gw1', 'gw2'].map((n) => [n, member(n)])), badTags: 0 };
    const [register, holders] = sliceHomeRoutes({ community: { view: () => view }, nowMs: () => now, ttlMs: 100 }) as [PeerRoute, PeerRoute];
    const req = (from: string, query: Record<string, string>, body?: unknown) => ({
      member: from, fingerprint: '', method: 'GET' as const, path: '', params: {}, query: new URLSearchParams(query), body, signal: new AbortController().signal,
    });
    assert.deepEqual((await register.handler(req('gw1', {}, { items: [item] }))).body, { registered: 1, others: [[]] });
    now = 50;
    // The answer names each slice's other holders (of the same incarnation): gw1 for web, nobody yet for db.
    assert.deepEqual((await register.handler(req('gw2', {}, { items: [{ ...item, deleted: true }, { ...item, name: 'db' }] }))).body, { registered: 2, others: [['gw1'], []] });
    const ask = async (): Promise<unknown> => (await holders.handler(req('gw1', { user, name: 'web' }))).body;
    assert.deepEqual(await ask(), { holders: [{ member: 'gw1', incarnation: item.incarnation, version: 1, deleted: false, expiresAt: item.expiresAt }, { member: 'gw2', incarnation: item.incarnation, version: 1, deleted: true, expiresAt: item.expiresAt }] });
    now = 120;
    assert.deepEqual(((await ask()) as { holders: { member: string }[] }).holders.map((h) => h.member), ['gw2']);
    await assert.rejects(holders.handler(req('gw1', { name: 'web' })), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request');
    await assert.rejects(holders.handler(req('gw1', { user, name: '' })), (err: unknown) => err instanceof HearthError);
  });
});
