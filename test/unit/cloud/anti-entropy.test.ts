// Anti-entropy by digest, as transcripts of ticks and pull outcomes, and a
// convergence check: members with random grow-only lists that pull from
// each other as the core says end with the same list.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EMPTY_ANTI_ENTROPY, stepAntiEntropy, type AntiEntropyState, type PeerDigest } from '../../../src/cloud/anti-entropy.js';

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

  void test('at most maxInFlight pulls at once, in a stable order', () => {
    const peers = ['e', 'a', 'd', 'b'].map((m) => peer(m, `D-${m}`));
    const step = stepAntiEntropy(EMPTY_ANTI_ENTROPY, { type: 'tick', mine: undefined, peers }, 0, options);
    assert.deepEqual(step.commands.map((c) => c.member), ['a', 'b']);
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
