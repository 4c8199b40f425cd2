// The supervisor of a real `serf agent`: a clean stop is a graceful leave
// others can see, secrets stay out of the process list, and a start that
// cannot succeed fails with a reason instead of hanging or leaving a process.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canSignal } from '../../../src/kit/pid.js';
import { HearthError } from '../../../src/model/errors.js';
import { SERF_GOGC, SERF_GOMAXPROCS, createSerfAgent, serfEnv, type SerfAgentInit } from '../../../src/overlay/serf-agent.js';
import { eventually, freePort, startTestAgent, uniqueSuffix, type Cleanup } from './serf-harness.js';

async function bareInit(t: Cleanup, extra: Partial<SerfAgentInit> = {}): Promise<SerfAgentInit> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-serf-agent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return {
    nodeName: `sup-${uniqueSuffix()}`,
    bindAddress: `127.0.0.1:${await freePort()}`,
    rpcAddress: `127.0.0.1:${await freePort()}`,
    rpcAuthKey: 'k',
    configFile: join(dir, 'serf.json'),
    profile: 'local',
    ...extra,
  };
}

/** pids whose command line mentions `needle` (our config file names one agent). */
async function processesUsing(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readFile(`/proc/${entry}/cmdline`, 'utf8')).includes(needle)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

describe('serf agent supervisor', () => {
  test('stop is a graceful leave: the other member sees left, not failed', async (t) => {
    const a = await startTestAgent(t, { prefix: 'sa' });
    const b = await startTestAgent(t, { prefix: 'sb' });
    await a.rpc.join([b.bindAddress], false);
    await eventually('joined', async () => ((await b.rpc.members()).length === 2 ? true : undefined));
    const pid = a.agent.pid;
    assert.ok(pid !== undefined);
    await a.agent.stop();
    assert.equal(a.agent.pid, undefined);
    assert.equal(canSignal(pid), false);
    assert.equal((await b.rpc.members()).find((m) => m.name === a.name)?.status, 'left');
  });

  test('the RPC and encrypt keys stay out of the process list, in a 0600 config file', async (t) => {
    const encryptKey = Buffer.alloc(32, 5).toString('base64');
    const a = await startTestAgent(t, { encryptKey });
    const pid = a.agent.pid;
    assert.ok(pid !== undefined);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    assert.match(cmdline, /serf agent -config-file=/);
    assert.ok(!cmdline.includes(a.authKey));
    assert.ok(!cmdline.includes(encryptKey));
    assert.equal((await stat(join(a.dir, 'serf.json'))).mode & 0o777, 0o600);
  });

  test('serf runs with the smaller collector target and on one thread unless the owner set them', async (t) => {
    assert.equal(process.env['GOGC'], undefined, 'this test needs GOGC unset in its own environment');
    assert.equal(process.env['GOMAXPROCS'], undefined, 'this test needs GOMAXPROCS unset in its own environment');
    const a = await startTestAgent(t);
    const pid = a.agent.pid;
    assert.ok(pid !== undefined);
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    const go = environ.filter((e) => e.startsWith('GO')).join(' ');
    assert.ok(environ.includes(`GOGC=${SERF_GOGC}`), go);
    assert.ok(environ.includes(`GOMAXPROCS=${SERF_GOMAXPROCS}`), go);
    assert.deepEqual([serfEnv({ GOGC: '200' })['GOGC'], serfEnv({ GOGC: '200' })['GOMAXPROCS']], ['200', SERF_GOMAXPROCS]);
    assert.deepEqual([serfEnv({ GOMAXPROCS: '4' })['GOMAXPROCS'], serfEnv({ GOMAXPROCS: '4' })['GOGC']], ['4', SERF_GOGC]);
  });

  test('a start whose gossip port is taken fails with serf\'s reason and leaves no process', async (t) => {
    const holder = await startTestAgent(t, { prefix: 'holder' });
    const init = await bareInit(t, { bindAddress: holder.bindAddress });
    const agent = createSerfAgent(init);
    t.after(() => agent.stop());
    await assert.rejects(agent.start({ signal: AbortSignal.timeout(20_000) }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.match(err.message, /serf exited .*address already in use/i);
      return true;
    });
    assert.equal(agent.pid, undefined);
    assert.equal(agent.restarts, 0);
  });

  test('a missing serf binary is a clear start error', async (t) => {
    const agent = createSerfAgent(await bareInit(t, { binary: '/nonexistent/serf' }));
    t.after(() => agent.stop());
    await assert.rejects(agent.start(), /nonexistent\/serf|cannot run/);
    assert.equal(agent.pid, undefined);
  });

  test('an aborted start rejects with the signal\'s reason and leaves no process', async (t) => {
    const init = await bareInit(t);
    const agent = createSerfAgent(init);
    t.after(() => agent.stop());
    const controller = new AbortController();
    const started = agent.start({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 50);
    await assert.rejects(started, /shutting down/);
    assert.equal(agent.pid, undefined);
    assert.deepEqual(await processesUsing(init.configFile), []);
  });
});
