// The gateway's ring of samples over a fake inventory and reservation (named
// in-memory sources): each tick adds one sample of what they say and of the
// box's real processor counters; the ring keeps only the newest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSamples } from '../../../src/agent/samples.js';
import { busyBetween } from '../../../src/host/load.js';
import { silentLogger } from '../../../src/model/logger.js';

test('each tick is one sample of used memory and disk, reservations and running slivers; the ring keeps the newest', async () => {
  let running = 0;
  let minute = 0;
  const samples = createSamples({
    inventory: async () => ({ cpu: 2, memoryMb: 2048, memoryFreeMb: 1536, diskMb: 8192, diskFreeMb: 6144 }),
    reserved: () => ({ cpu: 0.5, memoryMb: 256, diskMb: 1024, slivers: running }),
    running: () => running,
    log: silentLogger,
    now: () => new Date(Date.UTC(2026, 0, 1, 0, minute++)),
    ring: 3,
  });
  for (let i = 0; i < 5; i++) {
    running = i;
    await samples.tick();
  }
  const { intervalSec, items } = samples.list();
  assert.equal(intervalSec, 10);
  assert.deepEqual(items.map((s) => s.running), [2, 3, 4], 'the newest three, oldest first');
  assert.deepEqual(items.map((s) => s.at), ['2026-01-01T00:02:00.000Z', '2026-01-01T00:03:00.000Z', '2026-01-01T00:04:00.000Z']);
  const last = items.at(-1);
  assert.equal(last?.memoryUsedMb, 512);
  assert.equal(last?.diskUsedMb, 2048);
  assert.deepEqual(last?.reserved, { cpu: 0.5, memoryMb: 256, diskMb: 1024, slivers: 4 });
  for (const s of items) assert.ok(s.cpuBusy >= 0 && s.cpuBusy <= 1, `cpuBusy ${s.cpuBusy} is a fraction`);
});

test('the busy fraction is the busy share of the time between two readings, bounded to 0..1', () => {
  assert.equal(busyBetween({ busy: 100, total: 1000 }, { busy: 350, total: 2000 }), 0.25);
  assert.equal(busyBetween({ busy: 100, total: 1000 }, { busy: 100, total: 1000 }), 0, 'no time passed');
  assert.equal(busyBetween({ busy: 0, total: 0 }, { busy: 5, total: 4 }), 1);
});
