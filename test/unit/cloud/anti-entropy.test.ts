// Anti-entropy by digest, as transcripts of ticks and pull outcomes, and a
// convergence check: members with random grow-only lists that pull from
// each other as the core says end with the same list.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMPTY_ANTI_ENTROPY, holdsNothingNew, stepAntiEntropy, type AntiEntropyState, type PeerDigest } from '../../../src/cloud/anti-entropy.js';

const options = { maxInFlight: 2, retryMs: 1000, maxRetryMs: 4000 };
const peer = (member: string, digest: string | undefined, reachable = true): PeerDigest => ({ member, digest, reachable });

void describe('anti-entropy by digest', () => {
  void test('pulls from members whose digest differs, once per digest, never from the unreachable', () => {
    const peers = [peer('b', 'X'), peer('c', 'MINE'), peer('d', undefined), peer('e', 'Y', false)];
    let step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: 'MINE', peers }, 0, options);
    assert.deepEqual(step.commands, [{ type: 'pull', member: 'b', digest: 'X' }]);
    // Still under way: not asked again.
    step = stepAntiEntropy(step.state, { type: 'tick', mine: 'MINE', peers }, 1, options);
    assert.deepEqual(step.commands, []);
    step = stepAntiEntropy(step.state, { type: 'pulled', member: 'b', digest: 'X' }, 2, options);
    // Pulled, but our list did not change (their list was a subset): not pulled again for the same digest.
    assert.deepEqual(stepAntiEntropy(step.state, { type: 'tick', mine: 'MINE', peers }, 3, options).commands, []);
    // A new digest from b is pulled again.
    assert.deepEqual(stepAntiEntropy(step.state, { type: 'tick', mine: 'MINE', peers: [peer('b', 'X2')] }, 4, options).commands,
      [{ type: 'pull', member: 'b', digest: 'X2' }]);
  });

  void test('at most maxInFlight pulls at once, the same ones for the same puller', () => {
    const peers = ['e', 'a', 'd', 'b'].map((m) => peer(m, `D-${m}`));
    const first = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers, self: 'p1' }, 0, options);
    assert.equal(first.commands.length, 2);
    const again = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers: [...peers].reverse(), self: 'p1' }, 0, options);
    assert.deepEqual(again.commands, first.commands, 'not the order the peers came in');
  });

  void test('the difference seen first is pulled first, whatever the names', () => {
    const one = { ...options, maxInFlight: 1 };
    let step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers: [peer('z', 'Z')], self: 'p' }, 0, one);
    assert.deepEqual(step.commands.map((c) => c.member), ['z']);
    // While z is pulled, m changes, then a: both wait.
    step = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers: [peer('z', 'Z'), peer('m', 'M')], self: 'p' }, 1000, one);
    step = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers: [peer('z', 'Z'), peer('m', 'M'), peer('a', 'A')], self: 'p' }, 2000, one);
    assert.deepEqual(step.commands, []);
    step = stepAntiEntropy(step.state, { type: 'pulled', member: 'z', digest: 'Z' }, 3000, one);
    const peers = [peer('a', 'A'), peer('m', 'M'), peer('z', 'Z')];
    const next = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers, self: 'p' }, 4000, one);
    assert.deepEqual(next.commands.map((c) => c.member), ['m'], 'm waited longest');
    // m's list changes again before it is pulled: the new difference is new, and a's is older now.
    const changed = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers: [peer('a', 'A'), peer('m', 'M2'), peer('z', 'Z')], self: 'p' }, 4000, one);
    assert.deepEqual(changed.commands.map((c) => c.member), ['a']);
  });

  void test('a member seen while unreachable keeps its place in the queue', () => {
    const one = { ...options, maxInFlight: 1 };
    let step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers: [peer('y', 'Y', false)], self: 'p' }, 0, one);
    assert.deepEqual(step.commands, []);
    step = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers: [peer('y', 'Y'), peer('b', 'B')], self: 'p' }, 1000, one);
    assert.deepEqual(step.commands.map((c) => c.member), ['y']);
  });

  void test('pullers that see the same changes at once do not all start at the same member', () => {
    const peers = Array.from({ length: 20 }, (_, i) => peer(`host${String(i).padStart(2, '0')}`, `D${i}`));
    const firsts = new Set<string>();
    for (let p = 0; p < 50; p++) {
      const step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers, self: `gw${p}` }, 0, options);
      for (const c of step.commands) firsts.add(c.member);
    }
    // In name order all 50 would start at host00 and host01.
    assert.ok(firsts.size >= 15, `first pulls went to ${firsts.size} of 20 members`);
  });

  void test('a failed pull waits, doubling up to the cap, before asking that member again', () => {
    const peers = [peer('b', 'X')];
    let state: AntiEntropyState = EMPTY_ANTI_ENTROPY;
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const asked = stepAntiEntropy(state, { type: 'tick', mine: undefined, peers }, now, options);
      assert.equal(asked.commands.length, 1);
      state = stepAntiEntropy(asked.state, { type: 'pull-failed', member: 'b', digest: 'X' }, now, options).state;
      const until = state.failures.get('b')?.until ?? 0;
      waits.push(until - now);
      assert.deepEqual(stepAntiEntropy(state, { type: 'tick', mine: undefined, peers }, until - 1, options).commands, [], 'not before the wait');
      now = until;
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 4000]);
    state = stepAntiEntropy(stepAntiEntropy(state, { type: 'tick', mine: undefined, peers }, now, options).state, { type: 'pulled', member: 'b', digest: 'X' }, now, options).state;
    assert.equal(state.failures.size, 0, 'a success forgets the failures');
  });

  void test('a member that agreed with us and has not changed since is not pulled when our list changes', () => {
    // b and c agreed with us at A; then our list changes (a heal here): they differ, but only by our change.
    let step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: 'A', peers: [peer('b', 'A'), peer('c', 'A')] }, 0, options);
    assert.deepEqual(step.commands, []);
    step = stepAntiEntropy(step.state, { type: 'tick', mine: 'A2', peers: [peer('b', 'A'), peer('c', 'A')] }, 1, options);
    assert.deepEqual(step.commands, [], 'they pull our change; a pull from them would bring nothing');
    assert.equal(holdsNothingNew(step.state, 'b', 'A'), true);
    // c takes our change and more of its own: its new digest is news.
    step = stepAntiEntropy(step.state, { type: 'tick', mine: 'A2', peers: [peer('b', 'A'), peer('c', 'C')] }, 2, options);
    assert.deepEqual(step.commands, [{ type: 'pull', member: 'c', digest: 'C' }]);
    assert.equal(holdsNothingNew(step.state, 'c', 'C'), false);
    // A member never seen equal to us is pulled as before.
    assert.deepEqual(stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: 'A2', peers: [peer('b', 'A')] }, 0, options).commands,
      [{ type: 'pull', member: 'b', digest: 'A' }]);
    // A member that leaves takes its agreement along: back with the same digest, it is pulled.
    step = stepAntiEntropy(step.state, { type: 'tick', mine: 'A2', peers: [peer('c', 'C')] }, 3, options);
    assert.equal(step.state.agreed.has('b'), false);
    assert.deepEqual(stepAntiEntropy(step.state, { type: 'tick', mine: 'A2', peers: [peer('b', 'A')] }, 4, options).commands,
      [{ type: 'pull', member: 'b', digest: 'A' }]);
  });

  void test('members that left the community are forgotten', () => {
    let step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers: [peer('b', 'X'), peer('c', 'Y')] }, 0, options);
    step = stepAntiEntropy(step.state, { type: 'pulled', member: 'b', digest: 'X' }, 1, options);
    step = stepAntiEntropy(step.state, { type: 'tick', mine: undefined, peers: [peer('c', 'Y')] }, 2, options);
    assert.equal(step.state.pulled.has('b'), false);
  });

  void test('grow-only lists converge when every member follows the core (seeded rounds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      let x = seed;
      const random = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const names = Array.from({ length: 2 + Math.floor(random() * 7) }, (_, i) => `m${i}`);
      const lists = new Map(names.map((n) => [n, new Set(Array.from({ length: Math.floor(random() * 4) }, () => `r${Math.floor(random() * 10)}`))]));
      const digest = (set: Set<string>): string | undefined => (set.size === 0 ? undefined : createHash('sha256').update([...set].sort().join('\n')).digest('hex'));
      const states = new Map<string, AntiEntropyState>(names.map((n) => [n, EMPTY_ANTI_ENTROPY]));
      for (let round = 0; round < 30; round++) {
        for (const me of names) {
          // In the first rounds, lists also change here and there on their own (a revocation, a heal): agreements go stale.
          if (round < 10 && random() < 0.2) (lists.get(me) as Set<string>).add(`r${Math.floor(random() * 20)}`);
          const peers = names.filter((n) => n !== me).map((n) => peer(n, digest(lists.get(n) as Set<string>), random() > 0.2));
          let step = stepAntiEntropy(states.get(me) as AntiEntropyState, { type: 'tick', mine: digest(lists.get(me) as Set<string>), peers }, round * 1000, options);
          for (const pull of step.commands) {
            if (random() < 0.1) {
              step = stepAntiEntropy(step.state, { type: 'pull-failed', member: pull.member, digest: pull.digest }, round * 1000, options);
              continue;
            }
            for (const item of lists.get(pull.member) as Set<string>) (lists.get(me) as Set<string>).add(item);
            step = stepAntiEntropy(step.state, { type: 'pulled', member: pull.member, digest: pull.digest }, round * 1000, options);
          }
          states.set(me, step.state);
        }
      }
      const union = new Set(names.flatMap((n) => [...(lists.get(n) as Set<string>)]));
      for (const n of names) assert.deepEqual([...(lists.get(n) as Set<string>)].sort(), [...union].sort(), `seed ${seed}: ${n} has every revocation`);
    }
  });
});
