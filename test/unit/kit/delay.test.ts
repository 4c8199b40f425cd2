import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { delay } from '../../../src/kit/delay.js';
import type { Timers } from '../../../src/kit/timers.js';

/** Timers that fire only when the test says so. */
function manualTimers(): Timers & { pending: () => number; fire: () => void } {
  const due = new Map<number, () => void>();
  let next = 0;
  return {
    setTimeout(fn) {
      due.set(++next, fn);
      return next;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    pending: () => due.size,
    fire() {
      const fns = [...due.values()];
      due.clear();
      for (const fn of fns) fn();
    },
  };
}

void describe('delay', () => {
  void test('resolves when its timer fires, on the timers it is given', async () => {
    const timers = manualTimers();
    let done = false;
    const waiting = delay(1000, { timers }).then(() => (done = true));
    await Promise.resolve();
    assert.equal(done, false);
    timers.fire();
    await waiting;
    assert.equal(done, true);
  });

  void test('an abort rejects with the signal reason and clears the timer', async () => {
    const timers = manualTimers();
    const controller = new AbortController();
    const waiting = delay(1000, { signal: controller.signal, timers });
    const why = new Error('stopped by the test');
    controller.abort(why);
    await assert.rejects(waiting, (err) => err === why);
    assert.equal(timers.pending(), 0);
  });

  void test('an already aborted signal rejects at once without a timer', async () => {
    const timers = manualTimers();
    const why = new Error('already over');
    await assert.rejects(delay(1000, { signal: AbortSignal.abort(why), timers }), (err) => err === why);
    assert.equal(timers.pending(), 0);
  });

  void test('real timers by default', async () => {
    const started = performance.now();
    await delay(20);
    assert.ok(performance.now() - started >= 15);
  });
});
