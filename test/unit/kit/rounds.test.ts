// Rounds: never two at once; asks during a round make one more, not one
// each; a failed round is reported and the next runs; stop waits for the
// round under way and ends the rounds, and a change it subscribed to wakes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRounds } from '../../../src/kit/rounds.js';

function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

test('asks during a round make exactly one more round after it, never two at once', async () => {
  let running = 0;
  let most = 0;
  let count = 0;
  const first = gate();
  const rounds = createRounds({
    round: async () => {
      running++;
      most = Math.max(most, running);
      count++;
      if (count === 1) await first.wait;
      running--;
    },
    onError: () => assert.fail('no round fails'),
    intervalMs: 3_600_000,
  });
  rounds.start();
  const a = rounds.tick();
  const b = rounds.tick();
  const c = rounds.tick();
  assert.equal(a, b, 'a tick during a round waits for that round');
  first.open();
  await Promise.all([a, b, c]);
  await rounds.tick();
  await rounds.stop();
  assert.equal(most, 1);
  assert.equal(count, 3, 'the first, one more for the three asks, and the last tick');
});

test('a failed round is reported, and the next one runs', async () => {
  const errors: unknown[] = [];
  let n = 0;
  const rounds = createRounds({
    round: async () => {
      n++;
      if (n === 1) throw new Error('boom');
    },
    onError: (err) => errors.push(err),
    intervalMs: 3_600_000,
  });
  await rounds.tick();
  await rounds.tick();
  assert.equal(n, 2);
  assert.deepEqual(errors.map((e) => (e as Error).message), ['boom']);
});

test('a change it is woken by makes a round at once, until it is stopped', async () => {
  let n = 0;
  const subscribed: (() => void)[] = [];
  const rounds = createRounds({
    round: async () => {
      n++;
    },
    onError: () => assert.fail('no round fails'),
    intervalMs: 3_600_000,
    wake: (tick) => {
      subscribed.push(tick);
      return () => {
        subscribed.splice(subscribed.indexOf(tick), 1);
      };
    },
  });
  assert.equal(subscribed.length, 0, 'not subscribed before start');
  rounds.start();
  subscribed[0]?.();
  assert.equal(n, 1, 'the change started a round');
  await rounds.stop();
  assert.equal(subscribed.length, 0, 'unsubscribed by stop');
});
