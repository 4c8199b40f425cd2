// A testbed agent starts as nsenter → unshare → sh → node, each exec'ing the
// next in place. While a process is inside execve the kernel shows an empty
// command line; taking that for "not our process" made `up` and `restart`
// report a healthy agent as "exited while starting". Real processes, polled
// as hard as the controller ever polls them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOurProcess } from '../../../src/testbed/processes.js';
import { waitForApi } from '../../../src/testbed/gateway-process.js';
import { runIp } from '../../../src/testbed/netns.js';

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

// An agent whose API takes the connection but never answers (its event loop
// stuck) must not hold `up` past its deadline: the wait gives up on time and
// says what the last attempt got and what the kernel says the agent is doing.
test('an API that takes connections but never answers fails the wait on time, saying so', async (t) => {
  const namespace = `t${String.fromCharCode(97 + randomInt(26))}pa-gw1`;
  await runIp(['netns', 'add', namespace]);
  t.after(() => runIp(['netns', 'delete', namespace]).catch(() => undefined));
  await runIp(['-n', namespace, 'link', 'set', 'lo', 'up']);
  const dataDir = mkdtempSync(join(tmpdir(), 'silent-api-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  writeFileSync(join(dataDir, 'owner.token'), 'token\n');
  const gateway = { name: 'gw1', namespace, dataDir, apiPort: 7470 };
  // Listens, then blocks its event loop: connections are accepted by the kernel and never answered.
  const silent = spawn('nsenter', [`--net=/var/run/netns/${namespace}`, process.execPath, '-e',
    "require('node:net').createServer().listen(7470, '127.0.0.1', () => { for (;;); })", dataDir], { stdio: 'ignore' });
  t.after(() => silent.kill('SIGKILL'));
  const pid = silent.pid ?? null;
  assert.ok(isOurProcess(pid, dataDir));
  // Wait until it listens in its namespace.
  const listening = `:${gateway.apiPort.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
  while (!readFileSync(`/proc/${String(pid)}/net/tcp`, 'utf8').includes(listening)) await sleep(50);
  await assert.rejects(waitForApi(gateway, pid, { timeoutMs: 1_000 }), (error: Error) => {
    assert.match(error.message, /did not answer within 1 s .*last attempt: connected, but no answer within 5 s/);
    assert.match(error.message, new RegExp(`pid ${String(pid)}: main thread R`));
    return true;
  });
});
