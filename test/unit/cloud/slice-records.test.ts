// Slice records: placementKey is one string per placement and tells any two
// apart; placementWins is a strict total order on the records of one
// incarnation (higher version first, then the greater placement) and never
// relates records of different slices or incarnations, so merging records in
// any order ends on the same one; slicesDigest ignores the order of records
// and changes with any field that matters (a resize that arrives too);
// records are pulled from the members they name and, once, from each member
// that came back into the view while we hold records (sharersOf, stepSweep).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { placementKey, placementWins, sharersOf, slicesDigest, stepSweep, type RecordState } from '../../../src/cloud/slice-records.js';

const record = (over: Partial<RecordState> = {}): RecordState => ({
  user: 'ann', name: 'web', incarnation: 'n1', placement: { 0: 'gw-a', 1: 'gw-b' }, version: 1, deletedAt: null, expiresAt: 1_800_000_000, resize: null, ...over,
});

/** Realistic records: a few users, slices, incarnations and gateways, so that they collide often. */
const arbPlacement = fc.array(fc.option(fc.constantFrom('gw-a', 'gw-b', 'gw-c', 'gw-d', 'gw-e'), { nil: undefined, freq: 6 }), { maxLength: 4 })
  .map((at) => Object.fromEntries(at.flatMap((g, i) => (g === undefined ? [] : [[String(i), g]]))));
const arbRecord: fc.Arbitrary<RecordState> = fc.record({
  user: fc.constantFrom('ann', 'bob'),
  name: fc.constantFrom('web', 'db'),
  incarnation: fc.constantFrom('n1', 'n2'),
  placement: arbPlacement,
  version: fc.integer({ min: 1, max: 4 }),
  deletedAt: fc.option(fc.integer({ min: 0, max: 2_000_000_000 }), { nil: null }),
  expiresAt: fc.integer({ min: 0, max: 2_000_000_000 }),
  resize: fc.option(fc.constantFrom('r1', 'r2'), { nil: null }),
});
/** Records of one slice and one incarnation. */
const arbSibling: fc.Arbitrary<RecordState> = arbRecord.map((r) => ({ ...r, user: 'ann', name: 'web', incarnation: 'n1' }));
/** Placements as the peer route accepts them: any keys, any gateway names (mostly of characters that could pass for separators). */
const arbText = fc.oneof(fc.stringOf(fc.constantFrom('a', 'b', '0', '1', ',', '=', '%', ' '), { maxLength: 6 }), fc.string({ maxLength: 4 }));
const arbAnyPlacement = fc.dictionary(fc.oneof(fc.nat({ max: 12 }).map(String), arbText), arbText, { maxKeys: 4 });
/** Another placement that a careless "index=gateway,..." would write the same: two entries folded into one. */
const lookalike = (p: Record<string, string>): Record<string, string> => {
  const [first, second, ...rest] = Object.entries(p);
  if (first === undefined || second === undefined) return { ...p, 0: `${p['0'] ?? ''},` };
  return Object.fromEntries([[first[0], `${first[1]},${second[0]}=${second[1]}`], ...rest]);
};
/** Two placements: unrelated, or one and its look-alike. */
const arbTwoPlacements = fc.oneof(fc.tuple(arbAnyPlacement, arbAnyPlacement), arbAnyPlacement.map((a) => [a, lookalike(a)] as const));

/** The entries of a placement, in a canonical order: what "the same placement" means. */
const content = (p: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const sameState = (a: RecordState, b: RecordState): boolean => a.version === b.version && content(a.placement) === content(b.placement);

void describe('placementKey', () => {
  void test('index=gateway, by index as a number', () => {
    assert.equal(placementKey({}), '');
    assert.equal(placementKey({ 10: 'gw-k', 2: 'gw-c', 0: 'gw-a' }), '0=gw-a,2=gw-c,10=gw-k');
  });

  void test('two placements that differ have different keys, even with "," or "=" in a gateway name', () => {
    assert.notEqual(placementKey({ 0: 'a,1=b' }), placementKey({ 0: 'a', 1: 'b' }));
    assert.notEqual(placementKey({ 0: 'a=b' }), placementKey({ '0=a': 'b' }));
  });

  void test('the same placement has one key, whatever order its keys came in', () => {
    // JSON from a peer may list keys that are not indexes in any order.
    assert.equal(placementKey(JSON.parse('{"0":"a","x":"b","01":"c"}') as Record<string, string>), placementKey(JSON.parse('{"01":"c","x":"b","0":"a"}') as Record<string, string>));
  });

  void test('property: equal keys exactly when the placements are the same', () => {
    const reordered = (p: Record<string, string>, seed: number): Record<string, string> =>
      Object.fromEntries(Object.entries(p).sort(([a], [b]) => ((a + seed) < (b + seed) ? 1 : -1)));
    fc.assert(fc.property(arbTwoPlacements, fc.integer(), ([a, b], seed) => {
      assert.equal(placementKey(a), placementKey(reordered(a, seed)));
      assert.equal(placementKey(a) === placementKey(b), content(a) === content(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }), { numRuns: 3000 });
  });
});

void describe('placementWins, by example', () => {
  void test('a higher version wins whatever the placement; a lower one never does', () => {
    assert.equal(placementWins(record({ version: 1, placement: { 0: 'gw-z' } }), record({ version: 2, placement: { 0: 'gw-a' } })), true);
    assert.equal(placementWins(record({ version: 2, placement: { 0: 'gw-a' } }), record({ version: 1, placement: { 0: 'gw-z' } })), false);
  });

  void test('two healers made the same version: the greater placement wins, on both sides', () => {
    const left = record({ version: 2, placement: { 0: 'gw-a', 1: 'gw-c' } });
    const right = record({ version: 2, placement: { 0: 'gw-d', 1: 'gw-b' } });
    assert.equal(placementWins(left, right), true);
    assert.equal(placementWins(right, left), false);
  });

  void test('a record never wins over itself, nor over one with the same placement and version', () => {
    const r = record();
    assert.equal(placementWins(r, r), false);
    assert.equal(placementWins(r, record({ deletedAt: 5 })), false, 'a tombstone is not a placement');
  });

  void test('another user, slice or incarnation never wins, however new', () => {
    const mine = record();
    for (const over of [{ user: 'bob' }, { name: 'db' }, { incarnation: 'n2' }]) {
      assert.equal(placementWins(mine, record({ ...over, version: 9 })), false, JSON.stringify(over));
      assert.equal(placementWins(record({ ...over, version: 9 }), mine), false, JSON.stringify(over));
    }
  });
});

void describe('placementWins, properties', () => {
  void test('irreflexive and asymmetric', () => {
    fc.assert(fc.property(arbRecord, arbRecord, (a, b) => {
      assert.equal(placementWins(a, a), false);
      assert.equal(placementWins(a, { ...a, placement: { ...a.placement } }), false);
      assert.ok(!(placementWins(a, b) && placementWins(b, a)));
    }), { numRuns: 2000 });
  });

  void test('transitive', () => {
    fc.assert(fc.property(arbSibling, arbSibling, arbSibling, (a, b, c) => {
      if (placementWins(a, b) && placementWins(b, c)) assert.equal(placementWins(a, c), true);
    }), { numRuns: 3000 });
  });

  void test('total on one incarnation: of two different states, one wins', () => {
    fc.assert(fc.property(arbSibling, arbSibling, (a, b) => {
      assert.equal(placementWins(a, b) || placementWins(b, a), !sameState(a, b));
    }), { numRuns: 2000 });
  });

  void test('total even for placements with any names a peer may send', () => {
    const version = fc.integer({ min: 1, max: 2 });
    fc.assert(fc.property(arbTwoPlacements, version, version, ([x, y], vx, vy) => {
      const a = record({ placement: x, version: vx });
      const b = record({ placement: y, version: vy });
      assert.equal(placementWins(a, b) || placementWins(b, a), !sameState(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.ok(!(placementWins(a, b) && placementWins(b, a)));
    }), { numRuns: 3000 });
  });

  void test('never across users, slices or incarnations', () => {
    fc.assert(fc.property(arbRecord, arbRecord, (a, b) => {
      if (a.user !== b.user || a.name !== b.name || a.incarnation !== b.incarnation) assert.equal(placementWins(a, b), false);
    }), { numRuns: 2000 });
  });

  void test('a higher version always wins', () => {
    fc.assert(fc.property(arbSibling, arbSibling, (a, b) => {
      if (b.version > a.version) assert.equal(placementWins(a, b), true);
      if (b.version < a.version) assert.equal(placementWins(a, b), false);
    }), { numRuns: 2000 });
  });

  void test('merging in any order ends on the same record, the greatest', () => {
    const arb = fc.array(arbSibling, { minLength: 1, maxLength: 8 }).chain((records) => fc.tuple(
      fc.constant(records),
      // Several gateways, each starting from one record and hearing from the others in its own order.
      fc.array(fc.tuple(fc.nat({ max: records.length - 1 }), fc.shuffledSubarray(records, { minLength: records.length })), { minLength: 2, maxLength: 5 }),
    ));
    fc.assert(fc.property(arb, ([records, gateways]) => {
      const ends = gateways.map(([start, heard]) => heard.reduce((mine, theirs) => (placementWins(mine, theirs) ? theirs : mine), records[start] as RecordState));
      const greatest = ends[0] as RecordState;
      for (const end of ends) assert.ok(sameState(end, greatest), `${JSON.stringify(end)} vs ${JSON.stringify(greatest)}`);
      for (const r of records) assert.equal(placementWins(greatest, r), false, 'nothing beats the end');
    }), { numRuns: 1000 });
  });
});

void describe('slicesDigest', () => {
  void test('none for no records; 11 base64url characters otherwise', () => {
    assert.equal(slicesDigest([]), undefined);
    assert.match(slicesDigest([record()]) as string, /^[A-Za-z0-9_-]{11}$/);
  });

  void test('changes with version, placement, deletion, incarnation or resize; a deletion at 0 is a deletion', () => {
    const base = slicesDigest([record()]);
    const changed = [
      record({ version: 2 }), record({ placement: { 0: 'gw-a', 1: 'gw-c' } }), record({ placement: { 0: 'gw-a' } }),
      record({ deletedAt: 0 }), record({ deletedAt: 1_700_000_000 }), record({ incarnation: 'n2' }), record({ user: 'bob' }), record({ name: 'db' }),
      record({ resize: 'r1' }), record({ resize: 'r2' }),
    ].map((r) => slicesDigest([r]));
    assert.equal(new Set([base, ...changed]).size, changed.length + 1);
  });

  void test('property: the order of the records does not matter', () => {
    fc.assert(fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 6 }).chain((rs) => fc.tuple(fc.constant(rs), fc.shuffledSubarray(rs, { minLength: rs.length }))), ([rs, shuffled]) => {
      const d = slicesDigest(rs);
      assert.match(d as string, /^[A-Za-z0-9_-]{11}$/);
      assert.equal(slicesDigest(shuffled), d);
    }), { numRuns: 1000 });
  });

  void test('property: changing the version, placement, deletion, incarnation or resize of one record changes the digest', () => {
    const arbChange = fc.oneof(
      fc.integer({ min: 1, max: 5 }).map((version) => ({ version })),
      arbAnyPlacement.map((placement) => ({ placement })),
      fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }).map((deletedAt) => ({ deletedAt })),
      fc.constantFrom('n1', 'n2', 'n3').map((incarnation) => ({ incarnation })),
      fc.option(fc.constantFrom('r1', 'r2', 'r3'), { nil: null }).map((resize) => ({ resize })),
      fc.constant('look-alike placement' as const),
    );
    fc.assert(fc.property(fc.array(arbRecord, { minLength: 1, maxLength: 4 }), fc.nat(), arbChange, (rs, pick, change) => {
      const k = pick % rs.length;
      const before = rs[k] as RecordState;
      const after = change === 'look-alike placement' ? { ...before, placement: lookalike(before.placement) } : { ...before, ...change };
      const same = before.version === after.version && before.incarnation === after.incarnation && before.deletedAt === after.deletedAt
        && before.resize === after.resize && content(before.placement) === content(after.placement);
      const changed = rs.map((r, i) => (i === k ? after : r));
      assert.equal(slicesDigest(changed) === slicesDigest(rs), same, `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    }), { numRuns: 2000 });
  });
});

void describe('whom to pull records from', () => {
  test('sharersOf: every gateway our placements name, tombstones too, never ourselves', () => {
    const rs = [record({ placement: { 0: 'gw-a', 1: 'gw-b' } }), record({ name: 'db', placement: { 0: 'gw-c', 1: 'gw-a' }, deletedAt: 5 })];
    assert.deepEqual([...sharersOf('gw-a', rs)].sort(), ['gw-b', 'gw-c']);
    assert.equal(sharersOf('gw-a', []).size, 0);
  });

  const sweep = (over: Partial<Parameters<typeof stepSweep>[0]> = {}): ReturnType<typeof stepSweep> => stepSweep({
    owed: new Set(), wasAlive: new Set(), alive: new Map(), sharers: new Set(), holding: true, settled: () => false, round: 0, ...over,
  });
  const pulledOnly = (pulled: ReadonlyMap<string, string>) => (m: string, d: string): boolean => pulled.get(m) === d;

  test('stepSweep: members that came back are owed a pull, once their digest is news; those that stayed are not', () => {
    const alive = new Map<string, string | undefined>([['gw-d', 'x'], ['gw-c', 'y'], ['gw-e', undefined], ['gw-f', 'z'], ['gw-g', 'w']]);
    const pulled = new Map([['gw-f', 'z'], ['gw-c', 'old']]);
    // gw-g stayed in the view; gw-e holds no records and gw-f's are pulled: gw-c and gw-d are owed, taken in turn.
    const wasAlive = new Set(['gw-g']);
    const settled = pulledOnly(pulled);
    assert.deepEqual([0, 1, 2, 3].map((round) => sweep({ alive, settled, wasAlive, round }).pick), ['gw-c', 'gw-d', 'gw-c', 'gw-d']);
    assert.deepEqual([...sweep({ alive, settled, wasAlive }).owed].sort(), ['gw-c', 'gw-d']);
    // Next round, with gw-c pulled: only gw-d is still owed, though all five stayed in the view.
    const next = sweep({ owed: new Set(['gw-c', 'gw-d']), wasAlive: new Set(alive.keys()), alive, settled: pulledOnly(new Map([...pulled, ['gw-c', 'y']])) });
    assert.deepEqual([...next.owed], ['gw-d']);
    assert.equal(next.pick, 'gw-d');
    // A new digest of a member that stayed is nobody's news but its sharers'.
    assert.equal(sweep({ wasAlive: new Set(alive.keys()), alive: new Map([...alive, ['gw-g', 'changed']]) }).pick, undefined);
  });

  test('stepSweep: a gateway that holds no records owes nobody; a sharer is owed but not picked (it is pulled anyway)', () => {
    const alive = new Map<string, string | undefined>([['gw-c', 'y'], ['gw-d', 'x']]);
    assert.deepEqual(sweep({ alive, holding: false, owed: new Set(['gw-c']) }), { owed: new Set(), pick: undefined });
    const shared = sweep({ alive, sharers: new Set(['gw-c']) });
    assert.deepEqual([...shared.owed].sort(), ['gw-c', 'gw-d']);
    assert.equal(shared.pick, 'gw-d');
  });

  test('stepSweep: over as many rounds as members, every member that came back with news is picked', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.option(fc.constantFrom('a', 'b'), { nil: undefined })), fc.nat(1000), (dict, start) => {
      const alive = new Map(Object.entries(dict));
      const due = [...alive].filter(([, d]) => d !== undefined).map(([m]) => m);
      const picked = new Set(Array.from({ length: due.length }, (_, i) => sweep({ alive, round: start + i }).pick));
      assert.deepEqual([...picked].filter((m) => m !== undefined).sort(), [...due].sort());
    }));
  });
});
