// Healing without a coordinator: rendezvous hashing is deterministic, ignores
// candidate order, keeps its winner when a loser leaves and spreads keys;
// with one shared view exactly one live holder of a slice that lost slivers
// heals it, with the right lost indexes and holders, and no one else does;
// extrasOf never names a sliver the placement puts here or on a gateway that
// is gone; and a story of partitions, healing on each side and a merge ends
// with exactly one sliver per index once extras are removed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { extrasOf, healingDuties, rendezvousWinner, type HealDuty, type HeldSlice, type HostedIndex, type Liveness } from '../../../src/cloud/healing.js';
import { placementWins, type RecordState } from '../../../src/cloud/slice-records.js';

const aliveOnly = (...alive: string[]) => (m: string): Liveness => (alive.includes(m) ? 'alive' : 'gone');
const slice = (placement: Record<string, string>, slivers = Object.keys(placement).length, name = 'web'): HeldSlice => ({ user: 'ann', name, slivers, placement });

/** Gateway names as Serf allows them, a few at a time so that they repeat. */
const arbName = fc.stringMatching(/^[a-z][a-z0-9.-]{0,6}$/);
const arbNames = (min: number, max: number): fc.Arbitrary<string[]> => fc.uniqueArray(arbName, { minLength: min, maxLength: max });

/** A community, who is alive in the one view everybody shares, and a slice placed on it (some indexes maybe never placed). */
interface World { gateways: string[]; alive: Set<string>; slice: HeldSlice }
const arbWorld: fc.Arbitrary<World> = arbNames(1, 7).chain((gateways) => fc.record({
  gateways: fc.constant(gateways),
  alive: fc.subarray(gateways).map((a) => new Set(a)),
  slice: fc.record({
    user: fc.constantFrom('ann', 'bob'),
    name: fc.constantFrom('web', 'db', 'a b'),
    slivers: fc.integer({ min: 1, max: 6 }),
    placement: fc.array(fc.option(fc.constantFrom(...gateways), { nil: undefined, freq: 5 }), { minLength: 6, maxLength: 6 })
      .map((at) => Object.fromEntries(at.flatMap((g, i) => (g === undefined ? [] : [[String(i), g]])))),
  }),
}));
const livenessOf = (w: World) => (m: string): Liveness => (w.alive.has(m) ? 'alive' : 'gone');
/** What a correct core must say, computed the plain way. */
const expected = (w: World): { lost: number[]; holders: string[] } => {
  const lost: number[] = [];
  const holders = new Set<string>();
  for (let i = 0; i < w.slice.slivers; i++) {
    const at = w.slice.placement[String(i)];
    if (at !== undefined && w.alive.has(at)) holders.add(at);
    else lost.push(i);
  }
  return { lost, holders: [...holders].sort() };
};

void describe('rendezvousWinner', () => {
  void test('no candidates, no winner; one candidate wins alone; the same answer every time', () => {
    assert.equal(rendezvousWinner('ann web', []), undefined);
    assert.equal(rendezvousWinner('ann web', ['gw-a']), 'gw-a');
    const once = rendezvousWinner('ann web', ['gw-a', 'gw-b', 'gw-c']);
    assert.ok(once !== undefined && ['gw-a', 'gw-b', 'gw-c'].includes(once));
    assert.equal(rendezvousWinner('ann web', ['gw-a', 'gw-b', 'gw-c']), once);
  });

  void test('over 200 keys each of 4 candidates wins some', () => {
    const candidates = ['gw-a', 'gw-b', 'gw-c', 'gw-d'];
    const wins = new Map<string, number>();
    for (let k = 0; k < 200; k++) {
      const w = rendezvousWinner(`ann slice-${k}`, candidates) as string;
      wins.set(w, (wins.get(w) ?? 0) + 1);
    }
    assert.deepEqual([...wins.keys()].sort(), candidates);
    for (const [name, n] of wins) assert.ok(n >= 20, `${name} won only ${n} of 200`);
  });

  void test('property: a member of the set, whatever the order of the candidates or repeats', () => {
    fc.assert(fc.property(fc.string(), arbNames(1, 8), fc.integer(), (key, candidates, seed) => {
      const w = rendezvousWinner(key, candidates);
      assert.ok(w !== undefined && candidates.includes(w));
      const shuffled = [...candidates, ...candidates].sort((a, b) => ((a + seed).localeCompare(b + seed)));
      assert.equal(rendezvousWinner(key, shuffled), w);
      assert.equal(rendezvousWinner(key, [...candidates].reverse()), w);
    }), { numRuns: 500 });
  });

  void test('property: removing any non-winner leaves the winner; removing the winner picks another member', () => {
    fc.assert(fc.property(fc.string(), arbNames(2, 8), fc.nat(), (key, candidates, pick) => {
      const w = rendezvousWinner(key, candidates) as string;
      const gone = candidates[pick % candidates.length] as string;
      const rest = candidates.filter((c) => c !== gone);
      if (gone !== w) assert.equal(rendezvousWinner(key, rest), w);
      else assert.ok(rest.includes(rendezvousWinner(key, rest) as string));
      // And adding a candidate either keeps the winner or makes the newcomer win.
      const more = rendezvousWinner(key, [...rest, gone]);
      assert.ok(more === rendezvousWinner(key, rest) || more === gone);
    }), { numRuns: 500 });
  });
});

void describe('healingDuties, by example', () => {
  const placement = { 0: 'gw-a', 1: 'gw-b', 2: 'gw-c' };

  void test('nothing lost: nobody heals', () => {
    for (const self of ['gw-a', 'gw-b', 'gw-c']) {
      assert.deepEqual(healingDuties(self, [slice(placement)], aliveOnly('gw-a', 'gw-b', 'gw-c')), []);
    }
  });

  void test('gw-c failed: one of gw-a and gw-b heals index 2, and it is the rendezvous winner', () => {
    const liveness = aliveOnly('gw-a', 'gw-b');
    const winner = rendezvousWinner('ann web', ['gw-a', 'gw-b']);
    const duties = ['gw-a', 'gw-b'].map((self) => healingDuties(self, [slice(placement)], liveness));
    const duty: HealDuty = { user: 'ann', name: 'web', lost: [2], holders: ['gw-a', 'gw-b'] };
    assert.deepEqual(duties, winner === 'gw-a' ? [[duty], []] : [[], [duty]]);
  });

  void test('never-placed indexes are lost, and so are indexes on gone gateways', () => {
    // The spec asks for 4; index 1 was never placed, index 3 is not in the placement either.
    const held = slice({ 0: 'gw-a', 2: 'gw-c' }, 4);
    const duties = [...healingDuties('gw-a', [held], aliveOnly('gw-a')), ...healingDuties('gw-c', [held], aliveOnly('gw-a'))];
    assert.deepEqual(duties, [{ user: 'ann', name: 'web', lost: [1, 2, 3], holders: ['gw-a'] }]);
  });

  void test('the index on self is never lost, even when the view says self is gone', () => {
    // A view that lags (self not yet alive in it) must not make a gateway re-place its own sliver.
    const duties = healingDuties('gw-a', [slice(placement)], aliveOnly());
    assert.deepEqual(duties, [{ user: 'ann', name: 'web', lost: [1, 2], holders: ['gw-a'] }]);
  });

  void test('a gateway that holds a record but no sliver of the placement never heals', () => {
    assert.deepEqual(healingDuties('gw-x', [slice(placement)], aliveOnly('gw-x')), []);
    assert.deepEqual(healingDuties('gw-x', [slice(placement)], aliveOnly('gw-x', 'gw-a')), []);
    // Indexes beyond the spec's count are not slivers of the slice.
    assert.deepEqual(healingDuties('gw-x', [slice({ 0: 'gw-a', 3: 'gw-x' }, 2)], aliveOnly('gw-x')), []);
  });

  void test('one duty per slice that needs it, in the order held', () => {
    const held = [slice({ 0: 'gw-a', 1: 'gw-b' }, 2, 'one'), slice({ 0: 'gw-a' }, 1, 'two'), slice({ 0: 'gw-a', 1: 'gw-z' }, 2, 'three')];
    const duties = healingDuties('gw-a', held, aliveOnly('gw-a'));
    assert.deepEqual(duties.map((d) => [d.name, d.lost, d.holders]), [['one', [1], ['gw-a']], ['three', [1], ['gw-a']]]);
  });
});

void describe('healingDuties, properties', () => {
  void test('with one shared view, exactly one live holder heals a slice that lost an index, with the right lost and holders', () => {
    fc.assert(fc.property(arbWorld, (w) => {
      const want = expected(w);
      const liveness = livenessOf(w);
      const healers = w.gateways.filter((g) => w.alive.has(g)).flatMap((g) => healingDuties(g, [w.slice], liveness).map((d) => ({ g, d })));
      if (want.lost.length === 0 || want.holders.length === 0) {
        assert.deepEqual(healers, []);
        return;
      }
      assert.equal(healers.length, 1, JSON.stringify(healers));
      const [{ g, d }] = healers as [{ g: string; d: HealDuty }];
      assert.ok(want.holders.includes(g), 'the healer is a live holder');
      assert.equal(g, rendezvousWinner(`${w.slice.user} ${w.slice.name}`, want.holders));
      assert.deepEqual(d, { user: w.slice.user, name: w.slice.name, ...want });
    }), { numRuns: 1000 });
  });

  void test('a gateway not in the placement never heals; one in it never counts its own indexes lost', () => {
    const arb = arbWorld.chain((w) => fc.tuple(fc.constant(w), fc.oneof(fc.constantFrom(...w.gateways), arbName)));
    fc.assert(fc.property(arb, ([w, self]) => {
      const liveness = livenessOf(w);
      const placedHere = Object.entries(w.slice.placement).filter(([i, g]) => g === self && Number(i) < w.slice.slivers).map(([i]) => Number(i));
      if (placedHere.length === 0) assert.deepEqual(healingDuties(self, [w.slice], liveness), []);
      // Also with self gone in its own view.
      const pessimist = (m: string): Liveness => (m === self ? 'gone' : liveness(m));
      for (const view of [liveness, pessimist]) {
        for (const d of healingDuties(self, [w.slice], view)) {
          assert.ok(d.holders.includes(self));
          for (const i of placedHere) assert.ok(!d.lost.includes(i), `own index ${i} called lost`);
          // Every index not lost is on a holder; every lost one is missing or on another gateway that is not alive.
          for (let i = 0; i < w.slice.slivers; i++) {
            const at = w.slice.placement[String(i)];
            if (d.lost.includes(i)) assert.ok(at === undefined || (at !== self && view(at) === 'gone'));
            else assert.ok(at !== undefined && d.holders.includes(at));
          }
        }
      }
    }), { numRuns: 1000 });
  });

  void test('several slices at once are the duties of each alone', () => {
    fc.assert(fc.property(fc.array(arbWorld, { minLength: 1, maxLength: 4 }), fc.nat(), (worlds, pick) => {
      const all = worlds.flatMap((w) => w.gateways);
      const self = all[pick % all.length] as string;
      const liveness = (m: string): Liveness => ((worlds[0] as World).alive.has(m) ? 'alive' : 'gone');
      const together = healingDuties(self, worlds.map((w) => w.slice), liveness);
      assert.deepEqual(together, worlds.flatMap((w) => healingDuties(self, [w.slice], liveness)));
    }), { numRuns: 300 });
  });
});

void describe('extrasOf', () => {
  const placements = new Map([['ann web', { 0: 'gw-a', 1: 'gw-b' }]]);
  const placementOf = (user: string, name: string): Record<string, string> | undefined => placements.get(`${user} ${name}`);
  const hosted = (index: number, name = 'web'): HostedIndex => ({ user: 'ann', name, index });

  void test('a sliver whose index is placed on another alive gateway is extra; here, on a gone gateway, unplaced or unknown is not', () => {
    const mine = [hosted(0), hosted(1), hosted(2), hosted(0, 'db')];
    assert.deepEqual(extrasOf('gw-a', mine, placementOf, aliveOnly('gw-a', 'gw-b')), [{ user: 'ann', name: 'web', index: 1, placedAt: 'gw-b' }]);
    assert.deepEqual(extrasOf('gw-a', mine, placementOf, aliveOnly('gw-a')), [], 'gw-b gone: keep its index');
    assert.deepEqual(extrasOf('gw-c', [hosted(0), hosted(1)], placementOf, aliveOnly('gw-a', 'gw-b', 'gw-c')).map((e) => e.index), [0, 1]);
  });

  void test('property: exactly the slivers placed on another alive gateway, never one placed here or on a gone one', () => {
    const arb = arbWorld.chain((w) => fc.record({
      w: fc.constant(w),
      self: fc.constantFrom(...w.gateways),
      hosted: fc.array(fc.integer({ min: 0, max: 7 }).map((i) => hosted(i)), { maxLength: 8 }),
    }));
    fc.assert(fc.property(arb, ({ w, self, hosted: mine }) => {
      const liveness = livenessOf(w);
      const extras = extrasOf(self, mine, () => w.slice.placement, liveness);
      for (const e of extras) {
        assert.equal(e.placedAt, w.slice.placement[String(e.index)]);
        assert.notEqual(e.placedAt, self);
        assert.equal(liveness(e.placedAt), 'alive');
      }
      const want = mine.filter((h) => {
        const at = w.slice.placement[String(h.index)];
        return at !== undefined && at !== self && w.alive.has(at);
      });
      assert.deepEqual(extras.map(({ placedAt: _, ...h }) => h), want);
    }), { numRuns: 1000 });
  });
});

// ---------------------------------------------------------------------------
// The story: gateways split into sides a few times; on each side the records
// merge, the side's extras go, and the healer its members agree on re-places
// what the side cannot see; at the end all meet, every record merges to the
// winner, and removing the extras leaves one sliver per index, on the
// gateway the placement names.

interface Gateway { record: RecordState | undefined; hosts: Set<number> }

/** Adopts every record of `group` into every other, pairwise in the given order, until nothing changes. */
function mergeRecords(group: Gateway[]): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const a of group) {
      for (const b of group) {
        if (a.record === undefined || b.record === undefined) continue;
        if (placementWins(a.record, b.record)) { a.record = b.record; changed = true; }
      }
    }
  }
}

function removeExtras(members: Map<string, Gateway>, names: readonly string[], liveness: (m: string) => Liveness): void {
  for (const name of names) {
    const g = members.get(name) as Gateway;
    const record = g.record;
    const mine = [...g.hosts].map((index) => ({ user: 'ann', name: 'web', index }));
    for (const e of extrasOf(name, mine, () => record?.placement, liveness)) g.hosts.delete(e.index);
  }
}

interface Story { gateways: string[]; slivers: number; rounds: { side: number[]; pick: number[] }[] }
const arbStory: fc.Arbitrary<Story> = arbNames(3, 8).chain((gateways) => fc.record({
  gateways: fc.constant(gateways),
  slivers: fc.integer({ min: 1, max: Math.min(4, gateways.length) }),
  rounds: fc.array(fc.record({
    // Which side of the partition each gateway is on this round (1 side: the partition healed).
    side: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: gateways.length, maxLength: gateways.length }),
    // The healer's choice of gateways: an arbitrary order of preference.
    pick: fc.array(fc.nat(), { minLength: gateways.length, maxLength: gateways.length }),
  }), { minLength: 1, maxLength: 4 }),
}));

function tell(s: Story): Map<string, Gateway> {
  const members = new Map<string, Gateway>(s.gateways.map((g) => [g, { record: undefined, hosts: new Set<number>() }]));
  const first: RecordState = {
    user: 'ann', name: 'web', incarnation: 'n1', version: 1, deletedAt: null, expiresAt: 1_800_000_000, resize: null,
    placement: Object.fromEntries(s.gateways.slice(0, s.slivers).map((g, i) => [String(i), g])),
  };
  s.gateways.slice(0, s.slivers).forEach((g, i) => {
    const m = members.get(g) as Gateway;
    m.record = first;
    m.hosts.add(i);
  });
  for (const round of s.rounds) {
    for (const sideNo of [0, 1, 2]) {
      const side = s.gateways.filter((_, k) => round.side[k] === sideNo);
      if (side.length === 0) continue;
      const liveness = (m: string): Liveness => (side.includes(m) ? 'alive' : 'gone');
      const group = side.map((g) => members.get(g) as Gateway);
      mergeRecords(group);
      removeExtras(members, side, liveness);
      const holding = side.filter((g) => members.get(g)?.record !== undefined);
      const duties = holding.flatMap((g) => {
        const r = members.get(g)?.record as RecordState;
        return healingDuties(g, [{ user: r.user, name: r.name, slivers: s.slivers, placement: r.placement }], liveness).map((d) => ({ g, d }));
      });
      assert.ok(duties.length <= 1, `two healers on one side: ${JSON.stringify(duties)}`);
      const [duty] = duties;
      if (duty === undefined) continue;
      const healer = members.get(duty.g) as Gateway;
      const old = healer.record as RecordState;
      // Re-place each lost index on a gateway of this side not in the placement yet, as the healer prefers.
      const used = new Set(Object.values(old.placement).filter((g) => side.includes(g)));
      const free = side.filter((g) => !used.has(g)).sort((a, b) => (round.pick[s.gateways.indexOf(a)] as number) - (round.pick[s.gateways.indexOf(b)] as number));
      if (free.length < duty.d.lost.length) continue; // not enough room: the healer fails, nothing changes
      const placement: Record<string, string> = { ...old.placement };
      duty.d.lost.forEach((i, k) => { placement[String(i)] = free[k] as string; });
      const next: RecordState = { ...old, placement, version: old.version + 1 };
      duty.d.lost.forEach((i, k) => (members.get(free[k] as string) as Gateway).hosts.add(i));
      // The commit carries the new placement to the new hosts; the others on this side learn it by anti-entropy.
      for (const g of side) {
        const m = members.get(g) as Gateway;
        if (m.record !== undefined || Object.values(placement).includes(g)) m.record = next;
      }
    }
  }
  return members;
}

void describe('partition, healing on both sides, merge', () => {
  void test('an example: a two-way split, both sides heal, the greater placement wins, extras go', () => {
    // The slice is on gw-a (0) and gw-b (1). Split gw-a, gw-c | gw-b, gw-d; then all meet again.
    const members = tell({ gateways: ['gw-a', 'gw-b', 'gw-c', 'gw-d'], slivers: 2, rounds: [{ side: [0, 1, 0, 1], pick: [0, 0, 0, 0] }] });
    const hosts = (): Record<string, number[]> => Object.fromEntries([...members].map(([g, m]) => [g, [...m.hosts].sort()]));
    // Each side healed the other's index onto its spare gateway: two placements of version 2.
    assert.deepEqual(hosts(), { 'gw-a': [0], 'gw-b': [1], 'gw-c': [1], 'gw-d': [0] });
    assert.deepEqual((members.get('gw-a') as Gateway).record?.placement, { 0: 'gw-a', 1: 'gw-c' });
    assert.deepEqual((members.get('gw-b') as Gateway).record?.placement, { 0: 'gw-d', 1: 'gw-b' });
    // They meet: '0=gw-d,1=gw-b' is the greater placement, everyone adopts it, and gw-a and gw-c remove theirs.
    mergeRecords([...members.values()]);
    for (const m of members.values()) assert.deepEqual(m.record?.placement, { 0: 'gw-d', 1: 'gw-b' });
    removeExtras(members, [...members.keys()], () => 'alive');
    assert.deepEqual(hosts(), { 'gw-a': [], 'gw-b': [1], 'gw-c': [], 'gw-d': [0] });
  });

  void test('property: after any partitions and a merge with everyone alive, one sliver per index, on the placement\'s gateway', () => {
    fc.assert(fc.property(arbStory, (s) => {
      const members = tell(s);
      const all = [...members.values()];
      mergeRecords(all);
      const records = new Set(all.map((m) => m.record).filter((r) => r !== undefined));
      assert.equal(records.size, 1, 'every holder adopted one record');
      removeExtras(members, s.gateways, () => 'alive');
      const [winner] = records as Set<RecordState>;
      for (let i = 0; i < s.slivers; i++) {
        const at = [...members].filter(([, m]) => m.hosts.has(i)).map(([g]) => g);
        assert.deepEqual(at, [winner?.placement[String(i)]], `index ${i} hosted on ${at.join(', ')} (placement ${JSON.stringify(winner?.placement)})`);
      }
    }), { numRuns: 1000 });
  });
});
