// A slice name's homes: rendezvous hashing picks the same k homes whatever
// the order of the members, moves a name only when a member of its home set
// leaves (or a newcomer outscores one), spreads names evenly, and cannot be
// fooled by fields that run into each other; the home's table keeps one
// entry per holder, forgets what is not refreshed and what a dead member
// registered, and the homes' answers merged let a delete of an incarnation
// win, so a name is taken only by a live slice of another incarnation. A
// holder tells a home what it lacks, everything every refresh, and leaves a
// home that failed alone for a doubling wait.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EMPTY_HOME_TABLE, EMPTY_REGISTRAR, expireHolders, homeCandidates, homeScore, homesOf, holdersOf, mergeHolders, nameTaken, registerHolders,
  registrationsAnswered, registrationsDue, type Holder, type HomeRegistration, type RegistrarState,
} from '../../../src/cloud/slice-homes.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';

const arbMembers = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { minLength: 1, maxLength: 40 });
const arbKey = fc.record({ user: fc.string({ maxLength: 12 }), name: fc.string({ minLength: 1, maxLength: 12 }) });
const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `gw${i + 1}`);

void describe('homesOf: rendezvous hashing over the members', () => {
  test('the same k homes whatever the order of the members, best score first, distinct, and all of them when fewer than k', () => {
    fc.assert(fc.property(arbMembers, arbKey, fc.integer({ min: 1, max: 5 }), (ms, { user, name }, k) => {
      const homes = homesOf(user, name, ms, k);
      assert.equal(homes.length, Math.min(k, ms.length));
      assert.equal(new Set(homes).size, homes.length);
      assert.deepEqual(homesOf(user, name, [...ms].reverse(), k), homes);
      const scores = homes.map((h) => homeScore(user, name, h));
      assert.deepEqual(scores, [...scores].sort().reverse());
      const worst = scores.at(-1) as string;
      for (const m of ms.filter((x) => !homes.includes(x))) assert.ok(homeScore(user, name, m) < worst, `${m} outscores a home`);
    }));
    assert.deepEqual(homesOf('ann', 'web', []), []);
    assert.equal(homesOf('ann', 'web', members(10)).length, 3, 'three homes by default');
  });

  test('a member that joins or leaves moves only the names whose home set it enters or leaves', () => {
    fc.assert(fc.property(arbMembers, fc.stringMatching(/^[A-Z]{1,6}$/), fc.array(arbKey, { minLength: 1, maxLength: 20 }), (ms, newcomer, keys) => {
      for (const { user, name } of keys) {
        const before = homesOf(user, name, ms);
        const joined = homesOf(user, name, [...ms, newcomer]);
        if (!joined.includes(newcomer)) assert.deepEqual(joined, before, 'a newcomer outside the home set changes nothing');
        else assert.deepEqual(joined.filter((h) => h !== newcomer), before.slice(0, joined.length - 1), 'it pushes out only the last home');
        const gone = ms[0] as string;
        const left = homesOf(user, name, ms.slice(1));
        if (!before.includes(gone)) assert.deepEqual(left, before, 'a member outside the home set leaving changes nothing');
        else assert.deepEqual(left.slice(0, before.length - 1), before.filter((h) => h !== gone), 'the others stay, in order');
      }
    }));
  });

  test('names spread evenly: over 50 members, 6000 names give every member between half and twice its share of homes', () => {
    const ms = members(50);
    const count = new Map(ms.map((m) => [m, 0]));
    for (let i = 0; i < 6000; i++) for (const h of homesOf(`user${i % 7}`, `slice-${i}`, ms)) count.set(h, (count.get(h) ?? 0) + 1);
    const share = (6000 * 3) / 50;
    for (const [m, n] of count) assert.ok(n > share / 2 && n < share * 2, `${m} is home of ${n} names, share ${share}`);
  });

  test('the fields cannot run into each other: ("a b", "c") and ("a", "b c") score differently', () => {
    assert.notEqual(homeScore('a b', 'c', 'gw1'), homeScore('a', 'b c', 'gw1'));
    assert.notEqual(homeScore('a\u0000', 'b', 'gw1'), homeScore('a', '\u0000b', 'gw1'));
    assert.notEqual(homeScore('ann', 'web', 'gw1'), homeScore('ann', 'web', 'gw2'));
    assert.equal(homeScore('ann', 'web', 'gw1'), homeScore('ann', 'web', 'gw1'));
  });

  test('candidates are the alive members with decoded tags, as the entry gateway broadcasts to', () => {
    const m = (name: string, status: MemberView['status'], tags: boolean): MemberView => ({
      name, serfAddr: '127.0.0.1:7946', status, tagError: tags ? null : 'bad', coordinate: null,
      tags: tags ? { id: 'a'.repeat(64), api: '127.0.0.1:1', contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, mode: 'production', version: '1', digests: {}, zone: null, access: { quota: null, allowlist: false } } : null,
    });
    const view: ViewState = { members: new Map([m('a', 'alive', true), m('b', 'failed', true), m('c', 'alive', false), m('d', 'left', true), m('e', 'alive', true)].map((x) => [x.name, x])), badTags: 0 };
    assert.deepEqual(homeCandidates(view), ['a', 'e']);
  });
});

const reg = (over: Partial<HomeRegistration> = {}): HomeRegistration => ({ user: 'ann', name: 'web', incarnation: 'one', version: 1, deleted: false, expiresAt: 5000, ...over });
const everyone = (): boolean => true;

void describe('a home\'s table of holders', () => {
  test('one entry per holder, replaced by its next registration; other holders and slices untouched', () => {
    let t = registerHolders(EMPTY_HOME_TABLE, 'gw1', [reg(), reg({ name: 'db' })], 0);
    t = registerHolders(t, 'gw2', [reg()], 10);
    t = registerHolders(t, 'gw1', [reg({ version: 2 })], 20);
    assert.deepEqual(holdersOf(t, 'ann', 'web', 30, 100, everyone), [
      { member: 'gw1', incarnation: 'one', version: 2, deleted: false, expiresAt: 5000 },
      { member: 'gw2', incarnation: 'one', version: 1, deleted: false, expiresAt: 5000 },
    ]);
    assert.deepEqual(holdersOf(t, 'ann', 'db', 30, 100, everyone).map((h) => h.member), ['gw1']);
    assert.deepEqual(holdersOf(t, 'bob', 'web', 30, 100, everyone), [], 'another user\'s name is another key');
    assert.deepEqual(holdersOf(registerHolders(EMPTY_HOME_TABLE, 'gw1', [reg({ user: 'a b', name: 'c' })], 0), 'a', 'b c', 0, 100, everyone), []);
  });

  test('a registration not refreshed within the time to live is gone, and so is one of a member not alive now', () => {
    let t = registerHolders(EMPTY_HOME_TABLE, 'gw1', [reg()], 0);
    t = registerHolders(t, 'gw2', [reg()], 50);
    assert.deepEqual(holdersOf(t, 'ann', 'web', 99, 100, everyone).map((h) => h.member), ['gw1', 'gw2']);
    assert.deepEqual(holdersOf(t, 'ann', 'web', 100, 100, everyone).map((h) => h.member), ['gw2']);
    assert.deepEqual(holdersOf(t, 'ann', 'web', 60, 100, (m) => m !== 'gw2').map((h) => h.member), ['gw1']);
    const expired = expireHolders(t, 120, 100);
    assert.equal(expired.size, 1);
    assert.deepEqual(holdersOf(expired, 'ann', 'web', 120, 1000, everyone).map((h) => h.member), ['gw2']);
    assert.equal(expireHolders(t, 500, 100).size, 0, 'a slice with no holder left is dropped');
  });
});

void describe('the homes\' answers', () => {
  const h = (member: string, over: Partial<Holder> = {}): Holder => ({ member, incarnation: 'one', version: 1, deleted: false, expiresAt: 5000, ...over });

  test('merged one per member and incarnation: a delete wins, the greatest version and expiry are kept', () => {
    const merged = mergeHolders([[h('gw1'), h('gw2', { version: 3 })], [h('gw1', { deleted: true, version: 2 }), h('gw2', { incarnation: 'two' })], []]);
    assert.deepEqual(merged, [
      h('gw1', { deleted: true, version: 2 }),
      h('gw2', { version: 3 }),
      h('gw2', { incarnation: 'two' }),
    ]);
  });

  test('a name is taken by a live, unexpired registration of another incarnation only', () => {
    assert.equal(nameTaken([], 'one', 100), false);
    assert.equal(nameTaken([h('gw1')], 'one', 100), false, 'the same document again (a retry) is not a second slice');
    assert.equal(nameTaken([h('gw1')], 'two', 100), true);
    assert.equal(nameTaken([h('gw1', { deleted: true })], 'two', 100), false, 'a deleted slice frees its name');
    assert.equal(nameTaken([h('gw1', { expiresAt: 100 })], 'two', 100), false, 'so does an expired one');
    assert.equal(nameTaken([h('gw1', { deleted: true }), h('gw2')], 'two', 100), true, 'one holder that did not hear the delete keeps it');
  });
});

void describe('a holder\'s registrations: what each home is told, and when', () => {
  const timings = { refreshMs: 30_000, retryMs: 2_000 };
  const reg = (name: string, version = 1): HomeRegistration => ({ user: 'ann', name, incarnation: `n-${name}`, version, deleted: false, expiresAt: 2_000_000_000 });
  const dueAt = (state: RegistrarState, wanted: ReadonlyMap<string, readonly HomeRegistration[]>, nowMs: number): string[] =>
    registrationsDue(state, wanted, nowMs, timings).due.map((d) => `${d.home}:${d.items.map((r) => `${r.name}@${r.version}`).join(',')}`);
  /** The state once every home of `wanted` took all of its registrations at `nowMs`. */
  const tookAll = (wanted: ReadonlyMap<string, readonly HomeRegistration[]>, nowMs: number): RegistrarState =>
    [...wanted].reduce((s, [home, items]) => registrationsAnswered(s, home, items, { all: true, ok: true }, nowMs, timings), registrationsDue(EMPTY_REGISTRAR, wanted, nowMs, timings).state);

  test('a home is told all its registrations once, then nothing until one changes or the refresh is due', () => {
    const wanted = new Map([['h1', [reg('a'), reg('b')]], ['h2', [reg('a')]]]);
    assert.deepEqual(dueAt(EMPTY_REGISTRAR, wanted, 0), ['h1:a@1,b@1', 'h2:a@1']);
    const told = tookAll(wanted, 0);
    assert.deepEqual(dueAt(told, wanted, 29_999), [], 'nothing new, no refresh due');
    assert.deepEqual(dueAt(told, new Map([['h1', [reg('a'), reg('b', 2)]], ['h2', [reg('a')]]]), 1000), ['h1:a@1,b@2'], 'a new version: that home, all of its items (one call either way)');
    assert.deepEqual(dueAt(told, new Map([['h1', [reg('a'), reg('b'), reg('c')]], ['h2', [reg('a')]]]), 1000), ['h1:a@1,b@1,c@1'], 'a new slice');
    assert.deepEqual(dueAt(told, new Map([['h1', [reg('a')]], ['h2', [reg('a')]]]), 1000), [], 'a slice no longer live is not a reason to call');
    assert.deepEqual(dueAt(told, wanted, 30_000), ['h1:a@1,b@1', 'h2:a@1'], 'the refresh: everything again');
  });

  test('a home new to a slice (the view changed) is told at once; one no longer a home is forgotten, and told everything if it comes back', () => {
    const told = tookAll(new Map([['h1', [reg('a')]]]), 0);
    const moved = new Map([['h3', [reg('a')]]]);
    assert.deepEqual(dueAt(told, moved, 100), ['h3:a@1']);
    const step = registrationsDue(told, moved, 100, timings);
    assert.ok(!step.state.has('h1'), 'h1 is no home of ours now');
    assert.deepEqual(dueAt(step.state, new Map([['h1', [reg('a')]]]), 200), ['h1:a@1']);
  });

  test('a home that failed waits 2, 4, 8 … s (up to the refresh) before it is called again, and is told all it lacks then', () => {
    const wanted = new Map([['h1', [reg('a')]]]);
    let state = registrationsDue(EMPTY_REGISTRAR, wanted, 0, timings).state;
    let at = 0;
    for (const wait of [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
      state = registrationsAnswered(state, 'h1', [reg('a')], { all: true, ok: false }, at, timings);
      assert.deepEqual(dueAt(state, wanted, at + wait - 1), [], `not before ${wait} ms`);
      assert.deepEqual(dueAt(state, wanted, at + wait), ['h1:a@1']);
      at += wait;
    }
    state = registrationsAnswered(state, 'h1', [reg('a')], { all: true, ok: true }, at, timings);
    assert.deepEqual(dueAt(state, wanted, at + 1), [], 'taken: no failures left, nothing due');
    state = registrationsAnswered(state, 'h1', [reg('a')], { all: true, ok: false }, at + 1, timings);
    assert.deepEqual(dueAt(state, wanted, at + 2_001), [], 'a failure after a success waits, and the home has what it took');
  });

  test('one registration taken at once (a commit\'s) counts for that slice: a home new to the state is told only what it lacks', () => {
    let state = registrationsAnswered(EMPTY_REGISTRAR, 'h1', [reg('a')], { all: false, ok: true }, 0, timings);
    assert.deepEqual(dueAt(state, new Map([['h1', [reg('a')]]]), 1000), [], 'it has it');
    assert.deepEqual(dueAt(state, new Map([['h1', [reg('a'), reg('b')]]]), 1000), ['h1:a@1,b@1']);
    state = tookAll(new Map([['h1', [reg('a'), reg('b')]]]), 0);
    state = registrationsAnswered(state, 'h1', [reg('b', 2)], { all: false, ok: true }, 20_000, timings);
    assert.deepEqual(dueAt(state, new Map([['h1', [reg('a'), reg('b', 2)]]]), 29_999), [], 'the refresh still counts from the last time it took everything');
    assert.deepEqual(dueAt(state, new Map([['h1', [reg('a'), reg('b', 2)]]]), 30_000), ['h1:a@1,b@2']);
  });
});
