import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeadlineQueue } from '../../../src/kit/deadline-queue.js';
import { createRng } from '../../../src/kit/rng.js';

void describe('createDeadlineQueue', () => {
  void test('pops only what is due, earliest first, equal deadlines in arrival order', () => {
    const q = createDeadlineQueue<string>();
    q.push(30, 'c');
    q.push(10, 'a1');
    q.push(20, 'b');
    q.push(10, 'a2');
    assert.equal(q.nextDeadline(), 10);
    assert.deepEqual(q.popDue(5), []);
    assert.deepEqual(q.popDue(20), ['a1', 'a2', 'b']);
    assert.equal(q.size, 1);
    assert.equal(q.nextDeadline(), 30);
    q.clear();
    assert.equal(q.nextDeadline(), undefined);
  });

  void test('thousands of random deadlines come out sorted', () => {
    const rng = createRng(1);
    const q = createDeadlineQueue<number>();
    const deadlines = Array.from({ length: 5000 }, () => Math.floor(rng() * 1000));
    for (const d of deadlines) q.push(d, d);
    const out = [...q.popDue(499), ...q.popDue(Infinity)];
    assert.deepEqual(out, [...deadlines].sort((a, b) => a - b));
  });
});
