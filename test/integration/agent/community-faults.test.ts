// The agent outlives its community, told as a story on two real gateways
// with real Serf: whatever happens to gw2's serf (it leaves on its own, it is
// killed again and again, its port is taken, its keyring is garbage, its
// binary is missing, its key is out of date), gw2's agent keeps running, keeps
// serving and reconciling its slivers, answers its API, and says what is
// wrong in `community status`, `status`, `/metrics`, the event log and
// `doctor`, with the fix where there is one; and it comes back by itself
// once the cause is gone.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, createTestGateway, type TestGateway } from '../../support/gateway.js';
import { until } from '../../support/until.js';
import { serfPidOf } from '../../support/serf-child.js';
import { createSerfRpc } from '../../../src/overlay/serf-rpc.js';
import { ApiProblem } from '../../../src/cli/client.js';
import type { CommunityStatus } from '../../../src/agent/community.js';
import type { NodeRow } from '../../../src/overlay/view.js';

const run = promisify(execFile);
let gw1: TestGateway;
let gw2: TestGateway;

before(async () => {
  gw1 = await createTestGateway({ name: `fa-${Math.random().toString(36).slice(2, 6)}` });
  gw2 = await createTestGateway({ name: `fb-${Math.random().toString(36).slice(2, 6)}` });
  await gw1.start();
  await gw2.start();
  await gw1.api.request('POST', '/api/v1/community', { name: 'faults' });
  await joinWithInvite();
});
after(async () => {
  await gw2?.destroy();
  await gw1?.destroy();
});

async function joinWithInvite(): Promise<void> {
  const { token } = await gw1.api.request<{ token: string }>('POST', '/api/v1/community/invites', { expiresInSec: 600 });
  await gw2.api.request('POST', '/api/v1/community/join', { token });
  await gw1SeesGw2('alive');
}

const community = (gw: TestGateway): Promise<CommunityStatus> => gw.api.request<CommunityStatus>('GET', '/api/v1/community');

async function gw1SeesGw2(status: string, timeoutMs = 30_000): Promise<void> {
  await until(`gw1 sees gw2 ${status}`, async () => {
    const rows = (await gw1.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
    return rows.find((n) => n.name === gw2.config.name)?.status === status ? true : undefined;
  }, timeoutMs);
}

async function stateOf(gw: TestGateway, state: string, timeoutMs = 30_000): Promise<CommunityStatus> {
  return until(`${gw.config.name} is ${state}`, async () => {
    const s = await community(gw);
    return s.state === state ? s : undefined;
  }, timeoutMs);
}

function pid(gw: TestGateway): number {
  const p = gw.pid();
  if (p === undefined) throw new Error(`${gw.config.name}'s agent is not running:\n${gw.log().slice(-2000)}`);
  return p;
}

/** `hearth doctor --json` against gw2, as its owner would run it. */
async function doctor(gw: TestGateway): Promise<{ name: string; ok: boolean; detail: string; fix?: string }[]> {
  const { command, args } = cliEntry();
  const out = await run(command, [...args, '--data-dir', gw.dataDir, 'doctor', '--json']).catch((err: { stdout: string }) => err);
  return JSON.parse(out.stdout) as { name: string; ok: boolean; detail: string; fix?: string }[];
}

function editConfig(gw: TestGateway, edit: (c: Record<string, Record<string, unknown>>) => void): void {
  const file = join(gw.dataDir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  edit(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
}

void describe('the agent outlives its community', () => {
  test('serf leaves on its own: the agent stays, says retrying, and rejoins by itself', async () => {
    const agent = pid(gw2);
    const { rpcAuthKey } = JSON.parse(readFileSync(join(gw2.dataDir, 'community.json'), 'utf8')) as { rpcAuthKey: string };
    const rpc = createSerfRpc({ address: `127.0.0.1:${gw2.config.community.rpcPort}`, authKey: rpcAuthKey });
    await rpc.connect();
    await rpc.leave().catch(() => undefined);
    await rpc.close();
    const retrying = await stateOf(gw2, 'retrying');
    assert.match(retrying.reason ?? '', /left the community on its own/);
    assert.ok(retrying.retryAt !== null, 'it says when it tries again');
    await stateOf(gw2, 'joined');
    await gw1SeesGw2('alive');
    assert.equal(pid(gw2), agent, 'the same agent process all along');
    const events = await gw2.api.request<{ items: { type: string; detail: { state?: string } }[] }>('GET', '/api/v1/events?limit=1000');
    const states = events.items.filter((e) => e.type === 'community.state').map((e) => e.detail.state);
    assert.deepEqual(states.slice(-2), ['retrying', 'joined'], 'the event log tells the story');
  });

  test('serf killed three times in a row: restarted each time, the agent never stops', async () => {
    const agent = pid(gw2);
    const before = (await community(gw2)).serfRestarts;
    for (let i = 0; i < 3; i++) {
      const serf = await until('gw2 runs a serf', async () => serfPidOf(agent));
      process.kill(serf, 'SIGKILL');
      await until('gw2 runs a new serf', async () => {
        const next = serfPidOf(agent);
        return next !== undefined && next !== serf ? next : undefined;
      });
    }
    const s = await stateOf(gw2, 'joined');
    assert.equal(s.serfRestarts, before + 3);
    const metrics = await (await fetch(`http://127.0.0.1:${gw2.config.api.port}/metrics`)).text();
    assert.match(metrics, new RegExp(`^hearth_serf_restarts_total ${before + 3}$`, 'm'));
    assert.match(metrics, /^hearth_community_state\{state="joined"\} 1$/m);
    assert.equal(pid(gw2), agent);
    await gw1SeesGw2('alive');
  });

  test('its gossip port is taken: the agent serves slivers while retrying, and joins once the port is free', async () => {
    await gw2.stop();
    const bind = gw2.config.community.bind;
    const port = Number(bind.slice(bind.lastIndexOf(':') + 1));
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      await gw2.start();
      const s = await stateOf(gw2, 'retrying');
      assert.match(s.reason ?? '', /address already in use/);
      assert.match(s.fix ?? '', /community\.bind/);
      // The sliver side does not care: a real container is made and runs.
      await gw2.api.request('POST', '/api/v1/slivers', { name: 'steady', resources: { memoryMb: 64, cpu: 0.25 } });
      await until('the sliver runs', async () => ((await gw2.api.request<{ observed: string }>('GET', '/api/v1/slivers/steady')).observed === 'running' ? true : undefined), 60_000);
      // Each new attempt is 'starting' for a moment before it fails again: every view is read until it shows 'retrying'.
      await until('the node to say retrying', async () => {
        const node = await gw2.api.request<{ community: { state: string; reason: string | null } | null }>('GET', '/api/v1/node');
        return node.community?.state === 'retrying' ? true : undefined;
      }, 20_000, 100);
      const metrics = await until('the metrics to say retrying', async () => {
        const text = await (await fetch(`http://127.0.0.1:${gw2.config.api.port}/metrics`)).text();
        return /^hearth_community_state\{state="retrying"\} 1$/m.test(text) ? text : undefined;
      }, 20_000, 100);
      assert.match(metrics, /^hearth_community_failed_attempts [1-9]/m);
      const line = await until('hearth doctor to say retrying', async () => {
        const found = (await doctor(gw2)).find((c) => c.name === 'community');
        return found !== undefined && /retrying: /.test(found.detail) ? found : undefined;
      }, 30_000, 200);
      assert.equal(line.ok, false);
      assert.match(line.detail, /retrying: .*address already in use/);
      await assert.rejects(gw2.api.request('GET', '/api/v1/nodes'), (err: unknown) => err instanceof ApiProblem && err.problem.code === 'overlay_unavailable');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    // Back-off is at most a few seconds at this point: it comes back by itself.
    await stateOf(gw2, 'joined', 40_000);
    await gw1SeesGw2('alive');
    assert.equal((await doctor(gw2)).find((c) => c.name === 'community')?.ok, true);
    await gw2.api.request('DELETE', '/api/v1/slivers/steady');
  });

  test('its keyring is garbage: retrying with the fix; leave and a new invite bring it back', async () => {
    await gw2.stop();
    writeFileSync(join(gw2.dataDir, 'serf', 'keyring.json'), 'not a keyring');
    await gw2.start();
    const s = await stateOf(gw2, 'retrying');
    assert.match(s.reason ?? '', /keyring/);
    assert.match(s.fix ?? '', /community leave/);
    await gw2.api.request('POST', '/api/v1/community/leave');
    await assert.rejects(community(gw2), (err: unknown) => err instanceof ApiProblem && err.problem.code === 'not_in_community');
    await joinWithInvite();
  });

  test('serf is missing: retrying with the install command, the API answers', async () => {
    await gw2.stop();
    editConfig(gw2, (c) => void (c['community'] = { ...c['community'], serfBinary: '/nonexistent/serf' }));
    try {
      await gw2.start();
      const s = await stateOf(gw2, 'retrying');
      assert.match(s.fix ?? '', /apt-get install serf/);
      const line = (await doctor(gw2)).find((c) => c.name === 'community');
      assert.equal(line?.fix, s.fix);
    } finally {
      await gw2.stop();
      editConfig(gw2, (c) => void delete c['community']?.['serfBinary']);
    }
    await gw2.start();
    await stateOf(gw2, 'joined');
    await gw1SeesGw2('alive');
  });

  test('its key is out of date (rotated while it was away): joined but alone, and told to get a new invite', async () => {
    await gw2.stop();
    await gw1SeesGw2('left');
    await gw1.api.request('POST', '/api/v1/community/rotate-key');
    await gw2.start();
    const s = await until('gw2 warns that it is alone', async () => {
      const c = await community(gw2);
      return c.state === 'joined' && c.warning !== null ? c : undefined;
    });
    assert.match(s.warning ?? '', /new invite/);
    const line = (await doctor(gw2)).find((c) => c.name === 'community');
    assert.equal(line?.ok, false);
    assert.match(line?.fix ?? '', /new invite/);
    await gw2.api.request('POST', '/api/v1/community/leave');
    await joinWithInvite();
    assert.equal((await community(gw2)).warning, null);
  });

  test('revoked: it stops its serf, stays out across a restart without a crash loop, and leave clears it', async () => {
    await gw1.api.request('POST', '/api/v1/community/revocations', { node: gw2.config.name });
    await stateOf(gw2, 'revoked');
    await until('gw2 runs no serf', async () => (serfPidOf(pid(gw2)) === undefined ? true : undefined));
    await gw2.stop();
    await gw2.start();
    const s = await stateOf(gw2, 'revoked');
    assert.match(s.fix ?? '', /new identity/);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(serfPidOf(pid(gw2)), undefined, 'no serf was started, nor restarted');
    assert.equal((await community(gw2)).attempts, 0);
    const status = await gw2.api.request<{ community: { state: string } | null }>('GET', '/api/v1/node');
    assert.equal(status.community?.state, 'revoked');
    await gw2.api.request('POST', '/api/v1/community/leave');
    const node = await gw2.api.request<{ community: unknown }>('GET', '/api/v1/node');
    assert.equal(node.community, null);
  });
});
