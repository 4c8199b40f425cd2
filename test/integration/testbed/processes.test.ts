// A testbed agent starts as nsenter → unshare → sh → node, each exec'ing the
// next in place. While a process is inside execve the kernel shows an empty
// command line; taking that for "not our process" made `up` and `restart`
// report a healthy agent as "exited while starting". Real processes, polled
// as hard as the controller ever polls them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isOurProcess } from '../../../src/testbed/processes.js';

test('a process is ours through every exec of its start, and not ours once it is gone', async () => {
  let lost = 0;
  let reads = 0;
  for (let run = 0; run < 30; run++) {
    const marker = `marker-${run}-${process.pid}`;
    const child = spawn('nsenter', ['--', 'unshare', '--', 'sh', '-c', 'exec "$@"', 'sh', 'sh', '-c', 'sleep 0.3', marker], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const started = performance.now();
    while (performance.now() - started < 150) {
      reads++;
      if (!isOurProcess(child.pid ?? null, marker)) lost++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await exited;
    assert.equal(isOurProcess(child.pid ?? null, marker), false, 'gone once it exited');
  }
  assert.ok(reads > 1000, `polled ${reads} times`);
  assert.equal(lost, 0, `the process looked gone ${lost} times of ${reads} while it was starting`);
});
