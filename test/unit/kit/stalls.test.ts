// The event loop's stall report: a tick later than the interval by at least
// the threshold is a stall, with the CPU and context switches between the
// two samples; an on-time or slightly late tick is none. And the watch
// itself reports a loop held by synchronous work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stallBetween, watchStalls } from '../../../src/kit/stalls.js';
import { silentLogger } from '../../../src/model/logger.js';

const at = (ms: number, cpuUs = 0, voluntary = 0, involuntary = 0) => ({ at: ms, cpuUs, voluntary, involuntary });

test('a tick late by the threshold or more is a stall, with what the process did meanwhile', () => {
  assert.equal(stallBetween(at(0), at(500), 500, 1000), undefined, 'on time');
  assert.equal(stallBetween(at(0), at(1499), 500, 1000), undefined, 'late, under the threshold');
  assert.deepEqual(stallBetween(at(0, 1000, 3, 4), at(2700, 41_000, 10, 90), 500, 1000), {
    ms: 2200, cpuMs: 40, voluntarySwitches: 7, involuntarySwitches: 86,
  });
});

test('the watch reports a loop held by synchronous work', async () => {
  const stalls: unknown[] = [];
  const log = { ...silentLogger, warn: (fields: unknown, msg: string) => void stalls.push({ fields, msg }) } as typeof silentLogger;
  const watch = watchStalls(log, { intervalMs: 20, reportMs: 100 });
  const until = performance.now() + 300;
  while (performance.now() < until) { /* hold the loop */ }
  await new Promise((resolve) => setTimeout(resolve, 60));
  watch.stop();
  assert.ok(stalls.length >= 1, 'reported');
  const { fields, msg } = stalls[0] as { fields: { ms: number; cpuMs: number }; msg: string };
  assert.equal(msg, 'event loop stalled');
  assert.ok(fields.ms >= 100, `${fields.ms} ms late`);
  assert.ok(fields.cpuMs > 0, 'the holding work used CPU');
});
