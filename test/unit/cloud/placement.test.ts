// Placement of a slice's slivers: candidates from a hand-built view, examples
// of each rule and fault, and properties over random communities: a
// placement is complete, fits, spreads and keeps off refused gateways; a
// fault is real (checked by brute force on small cases); the same seed gives
// the same answer; and no input the types allow makes it throw.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUSY_SHARE, EXTRA_PROBES, NEAR_BAND_MS, candidatesFrom, placeSlivers, type Candidate, type PlaceInput, type Placement } from '../../../src/cloud/placement.js';
import type { ResourceVector } from '../../../src/model/resources.js';
import type { Spread } from '../../../src/model/slice.js';
import type { SliverResources } from '../../../src/model/sliver.js';
import { createRng } from '../../../src/kit/rng.js';
import type { MemberStatus, SerfCoordinate } from '../../../src/overlay/serf-records.js';
import type { OwnerMode } from '../../../src/overlay/tags.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';

const small: SliverResources = { cpu: 0.5, memoryMb: 128, diskMb: 256, pids: 256, upMbit: 0, downMbit: 0 };
const roomy: ResourceVector = { cpu: 4, memoryMb: 4096, diskMb: 20_000, slivers: 8 };
const cand = (name: string, over: Partial<Candidate> = {}): Candidate => ({ name, free: roomy, contributed: roomy, zone: null, rttMs: null, ...over });
const spec = (spread: Spread = 'gateways', near: string | null = null, resources = small): PlaceInput['spec'] => ({ resources, spread, near });
const gatewaysOf = (p: Placement): string[] => {
  assert.equal(p.ok, true, JSON.stringify(p));
  return p.ok ? p.assignments.map((a) => a.gateway) : [];
};

void describe('candidatesFrom', () => {
  const coord = (x: number): SerfCoordinate => ({ vec: [x, 0], error: 0, adjustment: 0, height: 0 });
  const member = (name: string, over: { status?: MemberStatus; mode?: OwnerMode; tags?: null; zone?: string; coordinate?: SerfCoordinate | null } = {}): MemberView => ({
    name, serfAddr: '10.99.0.1:7946', status: over.status ?? 'alive', tagError: over.tags === null ? 'bad id' : null,
    coordinate: over.coordinate === undefined ? coord(0) : over.coordinate,
    tags: over.tags === null ? null : {
      id: 'a'.repeat(64), api: ':7471', contributed: roomy, free: { ...roomy, slivers: name.length }, mode: over.mode ?? 'production',
      version: '0.1.0', digests: {}, zone: over.zone ?? null, access: { quota: null, allowlist: false },
    },
  });
  const view = (members: MemberView[]): ViewState => ({ members: new Map(members.map((m) => [m.name, m])), badTags: 0 });

  void test('only alive production members with tags, not excluded, sorted by name', () => {
    const v = view([
      member('gw-c', { zone: 'north' }), member('gw-a'), member('failed', { status: 'failed' }), member('left', { status: 'left' }),
      member('leaving', { status: 'leaving' }), member('untagged', { tags: null }), member('safe', { mode: 'safe' }),
      member('drain', { mode: 'drain' }), member('revoked'),
    ]);
    const got = candidatesFrom(v, { near: null, excluded: new Set(['revoked']) });
    assert.deepEqual(got, [
      { name: 'gw-a', free: { ...roomy, slivers: 4 }, contributed: roomy, zone: null, rttMs: null },
      { name: 'gw-c', free: { ...roomy, slivers: 4 }, contributed: roomy, zone: 'north', rttMs: null },
    ]);
  });

  void test('rttMs is the Vivaldi estimate to near, 0 for near itself, null without coordinates', () => {
    const v = view([
      member('home', { coordinate: coord(0) }), member('close', { coordinate: coord(0.004) }), member('far', { coordinate: coord(0.05) }),
      member('lost', { coordinate: null }), member('flat', { coordinate: { vec: [0], error: 0, adjustment: 0, height: 0 } }),
    ]);
    const rtt = new Map(candidatesFrom(v, { near: 'home' }).map((c) => [c.name, c.rttMs]));
    assert.equal(rtt.get('home'), 0);
    assert.ok(Math.abs((rtt.get('close') as number) - 4) < 1e-9);
    assert.ok(Math.abs((rtt.get('far') as number) - 50) < 1e-9);
    assert.equal(rtt.get('lost'), null);
    assert.equal(rtt.get('flat'), null, 'coordinates of another dimension give no estimate');
    // A near gateway without a coordinate, or not in the view at all: no estimates, but near itself is still 0.
    const noCoordinate = view([member('home', { coordinate: null }), member('close')]);
    assert.deepEqual(candidatesFrom(noCoordinate, { near: 'home' }).map((c) => c.rttMs), [null, 0]);
    assert.deepEqual(candidatesFrom(v, { near: 'elsewhere' }).map((c) => c.rttMs), [null, null, null, null, null]);
  });
});

void describe('placeSlivers, by example', () => {
  void test('spread over gateways: one sliver per gateway, every index once', () => {
    const p = placeSlivers({ spec: spec(), indexes: [0, 1, 2], candidates: ['a', 'b', 'c', 'd'].map((n) => cand(n)), holders: [], rng: createRng(1) });
    assert.equal(p.ok, true);
    if (!p.ok) return;
    assert.deepEqual(p.assignments.map((a) => a.index), [0, 1, 2]);
    assert.equal(new Set(p.assignments.map((a) => a.gateway)).size, 3);
  });

  void test('spread over zones: no two in a zone, and a gateway without a zone is a zone of its own', () => {
    const candidates = [cand('a1', { zone: 'north' }), cand('a2', { zone: 'north' }), cand('b1', { zone: 'south' }), cand('loner')];
    for (let seed = 0; seed < 20; seed++) {
      const got = gatewaysOf(placeSlivers({ spec: spec('zones'), indexes: [0, 1, 2], candidates, holders: [], rng: createRng(seed) }));
      assert.equal(got.filter((g) => g.startsWith('a')).length, 1, got.join());
      assert.ok(got.includes('b1') && got.includes('loner'), got.join());
    }
    const four = placeSlivers({ spec: spec('zones'), indexes: [0, 1, 2, 3], candidates, holders: [], rng: createRng(1) });
    assert.equal(four.ok ? 'ok' : four.fault, 'too_few_gateways');
  });

  void test('holders count: their gateways, and under zones their zones, are taken', () => {
    const candidates = [cand('a'), cand('b', { zone: 'north' }), cand('c', { zone: 'north' }), cand('d', { zone: 'south' })];
    // Healing sliver 1 of a slice whose sliver 0 is on a (no zone) and sliver 2 on b (north).
    const holders = [{ name: 'a', zone: null }, { name: 'b', zone: 'north' }];
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec('zones'), indexes: [1], candidates, holders, d: Infinity, rng: createRng(1) })), ['d']);
    for (let seed = 0; seed < 10; seed++) {
      const [g] = gatewaysOf(placeSlivers({ spec: spec('gateways'), indexes: [1], candidates, holders, rng: createRng(seed) }));
      assert.ok(g === 'c' || g === 'd', g);
    }
  });

  void test('refused gateways are never chosen', () => {
    const candidates = ['a', 'b', 'c'].map((n) => cand(n));
    for (let seed = 0; seed < 20; seed++) {
      const got = gatewaysOf(placeSlivers({ spec: spec(), indexes: [0, 1], candidates, holders: [], refused: new Set(['b']), rng: createRng(seed) }));
      assert.deepEqual([...got].sort(), ['a', 'c']);
    }
    const p = placeSlivers({ spec: spec(), indexes: [0, 1, 2], candidates, holders: [], refused: new Set(['b']), rng: createRng(1) });
    assert.equal(p.ok ? 'ok' : p.fault, 'too_few_gateways');
  });

  void test('near: the nearest band first, unknown RTT as far, balance within a band', () => {
    const candidates = [
      cand('far', { rttMs: 80 }), cand('unknown', { rttMs: null }),
      cand('close-full', { rttMs: 2, free: { ...roomy, slivers: 1 } }), cand('close-empty', { rttMs: NEAR_BAND_MS - 1 }),
    ];
    const look = (near: string | null, indexes: number[]): string[] =>
      gatewaysOf(placeSlivers({ spec: spec('gateways', near), indexes, candidates, holders: [], d: Infinity, rng: createRng(1) }));
    assert.deepEqual(look('home', [0]), ['close-empty']);
    assert.deepEqual(look('home', [0, 1, 2, 3]), ['close-empty', 'close-full', 'far', 'unknown']);
    // Without near, RTT plays no part: the emptiest first, then by name.
    assert.deepEqual(look(null, [0, 1, 2, 3]), ['close-empty', 'far', 'unknown', 'close-full']);
  });

  void test('balance: the lowest share of what its owner offers once the sliver is there, its most used resource deciding', () => {
    const big: ResourceVector = { cpu: 16, memoryMb: 16_384, diskMb: 100_000, slivers: 32 };
    const candidates = [
      // Half of a big box used: 0.5 + 0.5/16 of its cpu.
      cand('big-half', { contributed: big, free: { cpu: 8, memoryMb: 8192, diskMb: 50_000, slivers: 16 } }),
      // A small box a quarter used, memory the most: (1024 + 128) / 4096.
      cand('small-quarter', { free: { cpu: 3.5, memoryMb: 3072, diskMb: 19_000, slivers: 7 } }),
      // Its memory almost all used, though its cpu is free: (4096 - 256 + 128) / 4096.
      cand('small-no-memory', { free: { ...roomy, memoryMb: 256 } }),
      // One slot of 8 left: 8 / 8.
      cand('one-slot', { free: { ...roomy, slivers: 1 } }),
    ];
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0, 1, 2, 3], candidates, holders: [], d: 99, rng: createRng(1) })),
      ['small-quarter', 'big-half', 'small-no-memory', 'one-slot']);
    // By absolute room the big box would come first: it could take 16 more such slivers, the small one 7.
  });

  void test('a resource its owner offers none of does not count', () => {
    const candidates = [
      cand('no-disk-offered', { contributed: { ...roomy, diskMb: 0 }, free: { ...roomy, cpu: 3, diskMb: 0 } }),
      cand('busier', { free: { ...roomy, cpu: 2 } }),
    ];
    const diskless = { ...small, diskMb: 0 };
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec('gateways', null, diskless), indexes: [0, 1], candidates, holders: [], d: 99, rng: createRng(1) })), ['no-disk-offered', 'busier']);
  });

  void test('with d = 2 each sliver takes the better of two sampled, so the fullest is never taken while two others fit', () => {
    const candidates = [cand('full', { free: { ...roomy, slivers: 1 } }), cand('b', { free: { ...roomy, slivers: 5 } }), cand('c', { free: { ...roomy, slivers: 6 } })];
    const firsts = new Set<string>();
    for (let seed = 0; seed < 50; seed++) {
      const [g] = gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates, holders: [], rng: createRng(seed) }));
      firsts.add(g as string);
    }
    assert.deepEqual([...firsts].sort(), ['b', 'c'], 'c when the sample holds it, b when the sample is {full, b}');
  });

  // An rng that always draws the first left: the sample is the first candidates by name.
  const first = (): number => 0;
  const loaded = (name: string, used: number): Candidate => cand(name, { free: { ...roomy, slivers: roomy.slivers - used } });

  void test('threshold: while the best drawn would be loaded above the average, d more are drawn, up to EXTRA_PROBES times', () => {
    // Five loaded gateways first by name, then twenty empty ones: the average once placed is low.
    const candidates = [...['a1', 'a2', 'a3', 'a4', 'a5'].map((n) => loaded(n, 6)), ...Array.from({ length: 20 }, (_, i) => loaded(`b${String(i).padStart(2, '0')}`, 0))];
    // Drawn: a1 a2, then a3 a4, then a5 b00: b00 is below the average.
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates, holders: [], rng: first })), ['b00']);
    // Twenty loaded first: after 2 + 2 × EXTRA_PROBES drawn, all loaded, the best of them is taken.
    const many = [...Array.from({ length: 20 }, (_, i) => loaded(`a${String(i).padStart(2, '0')}`, i === 7 ? 5 : 6)), ...Array.from({ length: 30 }, (_, i) => loaded(`b${String(i).padStart(2, '0')}`, 0))];
    assert.equal(2 + 2 * EXTRA_PROBES, 18);
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates: many, holders: [], rng: first })), ['a07']);
  });

  void test('threshold: the average is weighted by what each contributes, so small boxes a big sliver would fill do not lift it', () => {
    const box = (cores: number): ResourceVector => ({ cpu: cores, memoryMb: 1024 * cores, diskMb: 20_000, slivers: 8 });
    const oneCore = (name: string): Candidate => cand(name, { contributed: box(1), free: box(1) });
    const candidates = [
      // A 2-core box with half a core used: a 1-core sliver takes it to 0.75.
      cand('a1', { contributed: box(2), free: { ...box(2), cpu: 1.5, slivers: 7 } }),
      // Empty 1-core boxes: the sliver would fill them (1.0); empty 4-core ones: 0.25.
      ...['a2', 'b0', 'b1'].map(oneCore), cand('c0', { contributed: box(4), free: box(4) }), cand('c1', { contributed: box(4), free: box(4) }),
      ...Array.from({ length: 8 }, (_, i) => oneCore(`e${i}`)),
    ];
    const core = { cpu: 1, memoryMb: 256, diskMb: 256, pids: 256, upMbit: 0, downMbit: 0 };
    // The plain average once placed is (0.75 + 11 × 1 + 2 × 0.25) / 14 = 0.875, and a1 would pass; weighted by
    // cores it is (0.5 + 14) / 21 = 0.69: a1 is above, and so are a2, b0, b1 drawn next; c0 is below.
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec('gateways', null, core), indexes: [0], candidates, holders: [], rng: first })), ['c0']);
  });

  void test('threshold: in a busy community (average share from BUSY_SHARE) only d are drawn', () => {
    const busy = Math.ceil(BUSY_SHARE * roomy.slivers);
    const candidates = [loaded('a1', roomy.slivers - 1), loaded('a2', roomy.slivers - 1), ...Array.from({ length: 10 }, (_, i) => loaded(`b${i}`, busy))];
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates, holders: [], rng: first })), ['a1'], 'the better of the two drawn, full as it is');
    const calmer = candidates.map((c) => (c.name.startsWith('b') ? loaded(c.name, busy - 2) : c));
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates: calmer, holders: [], rng: first })), ['b0']);
  });

  void test('only fitting gateways are taken: cpu, memory, disk and a sliver slot', () => {
    const candidates = [
      cand('no-cpu', { free: { ...roomy, cpu: 0.499 } }), cand('no-memory', { free: { ...roomy, memoryMb: 127 } }),
      cand('no-disk', { free: { ...roomy, diskMb: 255 } }), cand('no-slot', { free: { ...roomy, slivers: 0 } }),
      cand('exact', { free: { cpu: 0.5, memoryMb: 128, diskMb: 256, slivers: 1 } }),
    ];
    assert.deepEqual(gatewaysOf(placeSlivers({ spec: spec(), indexes: [0], candidates, holders: [], rng: createRng(1) })), ['exact']);
  });

  void test('too_few_gateways says how many are eligible against how many are needed, and the spread', () => {
    const p = placeSlivers({
      spec: spec('zones'), indexes: [0, 1, 2], holders: [{ name: 'x', zone: 'west' }], refused: new Set(['c']),
      candidates: [cand('a', { zone: 'north' }), cand('b', { zone: 'north' }), cand('c', { zone: 'south' }), cand('w', { zone: 'west' }), cand('e')],
      rng: createRng(1),
    });
    assert.deepEqual(p, {
      ok: false, fault: 'too_few_gateways',
      reason: '3 slivers spread over zones need as many zones, but only 2 eligible zones are left (not refused, not already holding a sliver of the slice)',
    });
  });

  void test('no_capacity names the most free seen against what was asked, and places nothing', () => {
    const p = placeSlivers({
      spec: spec('gateways', null, { cpu: 2, memoryMb: 2048, diskMb: 1024, pids: 256, upMbit: 0, downMbit: 0 }), indexes: [0, 1],
      candidates: [
        cand('a', { free: { cpu: 1.5, memoryMb: 4096, diskMb: 4096, slivers: 2 } }), cand('b', { free: { cpu: 3, memoryMb: 1024, diskMb: 4096, slivers: 1 } }),
        cand('c', { free: { cpu: 2, memoryMb: 2048, diskMb: 1024, slivers: 1 } }),
      ],
      holders: [], rng: createRng(1),
    });
    assert.deepEqual(p, {
      ok: false, fault: 'no_capacity',
      reason: '2 slivers of 2 cpu, 2048 MB memory and 1024 MB disk spread over gateways, but 1 of 3 eligible gateways can take one; ' +
        'the most free seen: 3 cpu, 4096 MB memory, 4096 MB disk, 2 sliver slots',
    });
  });

  void test('healing places only the indexes asked for; nothing to place is an empty placement', () => {
    const candidates = ['a', 'b', 'c'].map((n) => cand(n));
    const p = placeSlivers({ spec: spec(), indexes: [4, 1], candidates, holders: [{ name: 'a', zone: null }], rng: createRng(3) });
    assert.ok(p.ok);
    assert.deepEqual(p.assignments.map((a) => a.index), [4, 1]);
    assert.deepEqual(p.assignments.map((a) => a.gateway).sort(), ['b', 'c']);
    assert.deepEqual(placeSlivers({ spec: spec(), indexes: [], candidates: [], holders: [], rng: createRng(3) }), { ok: true, assignments: [] });
  });

  void test('the same seed gives the same placement; other seeds spread the load', () => {
    const candidates = 'abcdefghij'.split('').map((n) => cand(n));
    const place = (seed: number): Placement => placeSlivers({ spec: spec(), indexes: [0, 1, 2], candidates, holders: [], rng: createRng(seed) });
    assert.deepEqual(place(42), place(42));
    const outcomes = new Set(Array.from({ length: 30 }, (_, seed) => JSON.stringify(place(seed))));
    assert.ok(outcomes.size > 5, `${outcomes.size} distinct placements`);
  });
});

// ---- properties ----

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const ZONES = [null, 'north', 'south', 'east'];

/** Cpu on the thousandth grid tags gossip, so sums below are exact in thousandths. */
const milli = (n: number): number => Math.round(n * 1000);
const arbZone = fc.constantFrom(...ZONES);
const arbFree = fc.record({
  cpu: fc.integer({ min: 0, max: 4000 }).map((m) => m / 1000),
  memoryMb: fc.integer({ min: 0, max: 4096 }),
  diskMb: fc.integer({ min: 0, max: 8192 }),
  slivers: fc.integer({ min: 0, max: 3 }),
});
const arbCandidates = (max: number): fc.Arbitrary<Candidate[]> => fc.uniqueArray(
  fc.record({ name: fc.constantFrom(...NAMES.slice(0, max + 2)), free: arbFree, contributed: arbFree, zone: arbZone, rttMs: fc.option(fc.double({ min: 0, max: 200, noNaN: true })) }),
  { maxLength: max, selector: (c) => c.name },
);
type Case = Omit<PlaceInput, 'rng'> & { seed: number };
const arbCase = (maxCandidates: number, maxSlivers: number): fc.Arbitrary<Case> => fc.record({
  spec: fc.record({
    resources: fc.record({
      cpu: fc.integer({ min: 10, max: 2000 }).map((m) => m / 1000),
      memoryMb: fc.integer({ min: 16, max: 2048 }),
      diskMb: fc.integer({ min: 16, max: 4096 }),
      pids: fc.constant(256), upMbit: fc.constant(0), downMbit: fc.constant(0),
    }),
    spread: fc.constantFrom<Spread>('gateways', 'zones'),
    near: fc.option(fc.constantFrom(...NAMES)),
  }),
  indexes: fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: maxSlivers }),
  candidates: arbCandidates(maxCandidates),
  holders: fc.uniqueArray(fc.record({ name: fc.constantFrom(...NAMES, 'gone'), zone: arbZone }), { maxLength: 2, selector: (h) => h.name }),
  refused: fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 3 }).map((r) => new Set(r)),
  d: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer(),
}, { requiredKeys: ['spec', 'indexes', 'candidates', 'holders', 'seed'] });
/** A fresh generator per run, so a shrunk counterexample replays as it failed. */
const inputOf = ({ seed, ...rest }: Case): PlaceInput => ({ ...rest, rng: createRng(seed) });

/** The spread rule as the spec states it, apart from the code under test. */
const keyOf = (spread: Spread, g: { name: string; zone: string | null }): string => (spread === 'gateways' ? `gw:${g.name}` : g.zone ?? `gw:${g.name}`);
const eligibleOf = (input: PlaceInput): Candidate[] => input.candidates.filter((c) =>
  input.refused?.has(c.name) !== true
  && !input.holders.some((h) => h.name === c.name || keyOf(input.spec.spread, h) === keyOf(input.spec.spread, c)));
const distinctKeys = (input: PlaceInput, cs: readonly Candidate[]): number => new Set(cs.map((c) => keyOf(input.spec.spread, c))).size;
const fitsOnce = (free: ResourceVector, r: SliverResources): boolean =>
  milli(free.cpu) >= milli(r.cpu) && free.memoryMb >= r.memoryMb && free.diskMb >= r.diskMb && free.slivers >= 1;

/** Whether the placement's assignments are complete, fit, spread, and use only eligible candidates. */
function checkAssignments(input: PlaceInput, assignments: readonly { index: number; gateway: string }[]): void {
  const { spread, resources: r } = input.spec;
  assert.deepEqual(assignments.map((a) => a.index).sort((x, y) => x - y), [...input.indexes].sort((x, y) => x - y), 'every index exactly once');
  const byName = new Map(input.candidates.map((c) => [c.name, c]));
  const load = new Map<string, number>();
  for (const a of assignments) load.set(a.gateway, (load.get(a.gateway) ?? 0) + 1);
  for (const [name, n] of load) {
    const c = byName.get(name);
    assert.ok(c !== undefined, `${name} is a candidate`);
    assert.ok(input.refused?.has(name) !== true, `${name} refused`);
    assert.ok(milli(c.free.cpu) >= n * milli(r.cpu) && c.free.memoryMb >= n * r.memoryMb && c.free.diskMb >= n * r.diskMb && c.free.slivers >= n, `${name} over-committed`);
  }
  // Holders may share among themselves (a zone set after the fact); what is placed shares with nothing.
  const holderKeys = new Set(input.holders.flatMap((h) => [keyOf(spread, h), `gw:${h.name}`]));
  const placed = assignments.map((a) => keyOf(spread, byName.get(a.gateway) as Candidate));
  assert.equal(new Set(placed).size, placed.length, `spread over ${spread} broken: ${placed.join()}`);
  assert.ok(placed.every((k) => !holderKeys.has(k)), `spread over ${spread} broken by holders: ${placed.join()}`);
  assert.ok(assignments.every((a) => !holderKeys.has(`gw:${a.gateway}`)), 'a sliver placed on a holder');
}

/** Whether any assignment of the indexes exists, by trying them all (small cases only). */
function assignable(input: PlaceInput): boolean {
  const eligible = eligibleOf(input);
  const go = (left: number, usedKeys: ReadonlySet<string>, load: ReadonlyMap<string, number>): boolean => {
    if (left === 0) return true;
    return eligible.some((c) => {
      const key = keyOf(input.spec.spread, c);
      const n = (load.get(c.name) ?? 0) + 1;
      const r = input.spec.resources;
      const fitsN = milli(c.free.cpu) >= n * milli(r.cpu) && c.free.memoryMb >= n * r.memoryMb && c.free.diskMb >= n * r.diskMb && c.free.slivers >= n;
      return !usedKeys.has(key) && load.get(c.name) === undefined && fitsN
        && go(left - 1, new Set([...usedKeys, key]), new Map([...load, [c.name, n]]));
    });
  };
  return go(input.indexes.length, new Set(), new Map());
}

void describe('placeSlivers, by property', () => {
  void test('a placement is complete, fits, spreads (holders counted) and keeps off refused and unknown gateways; a fault is real', () => {
    fc.assert(fc.property(arbCase(8, 6).map(inputOf), (input) => {
      const p = placeSlivers(input);
      const eligible = eligibleOf(input);
      if (p.ok) {
        checkAssignments(input, p.assignments);
      } else if (p.fault === 'too_few_gateways') {
        assert.ok(distinctKeys(input, eligible) < input.indexes.length, p.reason);
      } else {
        assert.ok(distinctKeys(input, eligible) >= input.indexes.length, 'no_capacity where too few gateways are eligible');
        assert.ok(distinctKeys(input, eligible.filter((c) => fitsOnce(c.free, input.spec.resources))) < input.indexes.length, p.reason);
      }
    }), { numRuns: 2000 });
  });

  void test('on small cases the placement succeeds exactly when brute force finds an assignment', () => {
    fc.assert(fc.property(arbCase(5, 3), (c) => {
      assert.equal(placeSlivers(inputOf(c)).ok, assignable(inputOf(c)));
    }), { numRuns: 2000 });
  });

  void test('the same seed gives the same placement', () => {
    fc.assert(fc.property(arbCase(8, 6), (c) => {
      assert.deepEqual(placeSlivers(inputOf(c)), placeSlivers(inputOf(c)));
    }), { numRuns: 300 });
  });

  void test('no input the types allow makes it throw, and a success still places every distinct index once', () => {
    const num = fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 }));
    const vector = fc.record({ cpu: num, memoryMb: num, diskMb: num, slivers: num });
    const wild = fc.record({
      spec: fc.record({
        resources: fc.record({ cpu: num, memoryMb: num, diskMb: num, pids: num, upMbit: num, downMbit: num }),
        spread: fc.constantFrom<Spread>('gateways', 'zones'),
        near: fc.option(fc.string()),
      }),
      indexes: fc.array(num, { maxLength: 6 }),
      candidates: fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c', ''), free: vector, contributed: vector, zone: fc.option(fc.string()), rttMs: fc.option(num) }), { maxLength: 6 }),
      holders: fc.array(fc.record({ name: fc.string(), zone: fc.option(fc.string()) }), { maxLength: 3 }),
      refused: fc.array(fc.string()).map((r) => new Set(r)),
      d: num,
      draws: fc.array(num, { minLength: 1 }),
    }, { requiredKeys: ['spec', 'indexes', 'candidates', 'holders', 'draws'] });
    fc.assert(fc.property(wild, ({ draws, ...rest }) => {
      let i = 0;
      const p = placeSlivers({ ...rest, rng: () => draws[i++ % draws.length] as number });
      if (p.ok) assert.deepEqual(new Set(p.assignments.map((a) => a.index)), new Set(rest.indexes));
      if (p.ok) assert.equal(p.assignments.length, new Set(rest.indexes).size);
    }), { numRuns: 2000 });
  });
});
