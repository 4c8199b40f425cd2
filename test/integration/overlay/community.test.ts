// A community of three real gateways on loopback, told as a story: one
// creates it, two join with invites, everyone sees everyone with resources
// and RTTs, outsiders are kept out (a stock serf agent without the key, a
// stranger's certificate, a tampered invite), a revoked member is refused
// by every peer, the key is rotated without losing anyone, serf is killed
// under an agent and comes back without false failures, and a gateway that
// dies is seen failed and then alive again. Real agents, real Serf, real TLS.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestGateway, freePort, type TestGateway } from '../../support/gateway.js';
import { until } from '../../support/until.js';
import { serfPidOf } from '../../support/serf-child.js';
import { loadOrCreateIdentity, type Identity } from '../../../src/overlay/identity.js';
import { createPeerClient } from '../../../src/peer/client.js';
import { PeerError } from '../../../src/model/errors.js';
import { ApiProblem } from '../../../src/cli/client.js';
import type { NodeRow } from '../../../src/overlay/view.js';

const run = promisify(execFile);
const gws: TestGateway[] = [];
const extra: ChildProcess[] = [];

before(async () => {
  for (const name of ['gw1', 'gw2', 'gw3']) {
    const gw = await createTestGateway({ name: `${name}-${Math.random().toString(36).slice(2, 6)}` });
    await gw.start();
    gws.push(gw);
  }
});
after(async () => {
  for (const p of extra) p.kill('SIGKILL');
  for (const gw of gws) await gw.destroy();
});

const [g1, g2, g3] = [0, 1, 2].map((i) => () => gws[i] as TestGateway) as [() => TestGateway, () => TestGateway, () => TestGateway];

async function nodes(gw: TestGateway): Promise<NodeRow[]> {
  return (await gw.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
}

const statusOf = (rows: NodeRow[], gw: TestGateway): string | undefined => rows.find((n) => n.name === gw.config.name)?.status;

/**
 * `until`, and when it times out, what each agent and its Serf logged last
 * about the community: a leave Serf cut short, or a rumor a Serf missed, is
 * told there and nowhere else.
 */
function untilLogged<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T> {
  return until(what, probe, timeoutMs).catch((err: unknown) => {
    const tails = gws.map((gw) => {
      const lines = gw.log().split('\n').filter((l) => /serf|leav|left|fail/i.test(l));
      return `--- ${gw.config.name}:\n${lines.slice(-25).join('\n')}`;
    });
    throw new Error(`${(err as Error).message}\n${tails.join('\n')}`);
  });
}

async function invite(from: TestGateway): Promise<string> {
  return (await from.api.request<{ token: string }>('POST', '/api/v1/community/invites', { expiresInSec: 600 })).token;
}

function identityOf(gw: TestGateway): Promise<Identity> {
  return loadOrCreateIdentity(join(gw.dataDir, 'identity'), { commonName: gw.config.name });
}

describe('a community forms', () => {
  test('gw1 creates it; gw2 and gw3 join with invites', async () => {
    const created = await g1().api.request<{ name: string; members: { alive: number } }>('POST', '/api/v1/community', { name: 'riverside' });
    assert.equal(created.name, 'riverside');
    for (const gw of [g2(), g3()]) {
      const joined = await gw.api.request<{ name: string; issuerSeen: boolean }>('POST', '/api/v1/community/join', { token: await invite(g1()) });
      assert.equal(joined.name, 'riverside');
      assert.equal(joined.issuerSeen, true, 'the invite was signed by a member');
      // The join contacts the seed once (Serf's "joining:", from the join RPC); Serf does not join it again by
      // itself (its retry_join, "Joining cluster..."), which is for a restart.
      const joins = gw.log().split('\n').filter((l) => l.includes('"part":"serf"'));
      assert.equal(joins.filter((l) => l.includes('agent: Joining cluster')).length, 0, 'Serf did not join the seeds by itself');
      assert.ok(joins.some((l) => l.includes('agent: joining: ')), 'the join RPC contacted the seed');
    }
  });

  test('every gateway sees every other alive, with its id and resources', async () => {
    const ids = new Map<string, string>();
    for (const gw of gws) ids.set(gw.config.name, (await gw.api.request<{ id: string }>('GET', '/api/v1/node')).id);
    for (const gw of gws) {
      const rows = await until(`${gw.config.name} sees 3 alive`, async () => {
        const r = await nodes(gw);
        return r.filter((n) => n.status === 'alive').length === 3 ? r : undefined;
      });
      for (const other of gws) {
        const row = rows.find((n) => n.name === other.config.name);
        assert.equal(row?.id, ids.get(other.config.name));
        assert.deepEqual(row?.contributed, { cpu: 1, memoryMb: 2048, diskMb: 8192, slivers: 32 });
        assert.equal(row?.mode, 'production');
        assert.equal(row?.self, gw === other);
      }
    }
  });

  test('a member that saw others join checks its view against another member\'s once the joins quieten, over the peer API', async () => {
    // gw1 saw gw2 and gw3 join, gw2 saw gw3: each asks another member's agent for its view's digest (src/overlay/catch-up.ts),
    // and asks its Serf for a push-pull only if the two differ. The check must have been answered: a failed one pushes-pulls unchecked.
    for (const gw of [g1(), g2()]) {
      const lines = await untilLogged(`${gw.config.name} catches up after the joins`, async () => {
        const found = gw.log().split('\n').filter((l) => l.includes('"why":"after joins"'));
        return found.length > 0 ? found : undefined;
      });
      const line = JSON.parse(lines[0] as string) as { msg: string; member: string; checked?: boolean };
      const others = gws.filter((o) => o !== gw).map((o) => o.config.name);
      assert.ok(others.includes(line.member), `${line.member} is another member (${others.join(', ')})`);
      assert.ok(line.msg === "a member's view agrees with this one" || (line.msg === "caught up with a member's list" && line.checked === true), lines[0]);
    }
  });

  test('RTT estimates appear from the Vivaldi coordinates', async () => {
    const rows = await until('gw1 has an RTT for gw2', async () => {
      const r = await nodes(g1());
      return typeof r.find((n) => n.name === g2().config.name)?.rttMs === 'number' ? r : undefined;
    });
    const rtt = rows.find((n) => n.name === g2().config.name)?.rttMs as number;
    assert.ok(rtt >= 0 && rtt < 1000, `loopback RTT estimate ${rtt} ms`);
  });

  test('the stock serf command, given the RPC address and key, lists every gateway with hearth tags', async () => {
    const state = JSON.parse(readFileSync(join(g1().dataDir, 'community.json'), 'utf8')) as { rpcAuthKey: string };
    const { stdout } = await run('serf', ['members', `-rpc-addr=127.0.0.1:${g1().config.community.rpcPort}`, `-rpc-auth=${state.rpcAuthKey}`, '-format=json']);
    const members = (JSON.parse(stdout) as { members: { name: string; status: string; tags: Record<string, string> }[] }).members;
    assert.deepEqual(members.map((m) => m.name).sort(), gws.map((g) => g.config.name).sort());
    for (const m of members) {
      assert.equal(m.tags['h'], '1');
      assert.match(m.tags['id'] ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.match(m.tags['api'] ?? '', /^:\d+$/);
    }
  });
});

describe('outsiders are kept out', () => {
  test('a stock serf agent without the key cannot join or read the community', async () => {
    const [bind, rpc] = [await freePort(), await freePort()];
    const outsider = spawn('serf', ['agent', '-node=outsider', `-bind=127.0.0.1:${bind}`, `-rpc-addr=127.0.0.1:${rpc}`], { stdio: 'ignore' });
    extra.push(outsider);
    await until('the outsider serf answers', async () => (await run('serf', ['members', `-rpc-addr=127.0.0.1:${rpc}`])).stdout);
    await assert.rejects(run('serf', ['join', `-rpc-addr=127.0.0.1:${rpc}`, g1().config.community.bind]), (err: { stdout?: string; stderr?: string }) => {
      assert.match(`${err.stdout ?? ''}${err.stderr ?? ''}`, /Error joining the cluster.*encrypt/s);
      return true;
    }, 'the join is refused');
    await new Promise((r) => setTimeout(r, 2000));
    const { stdout } = await run('serf', ['members', `-rpc-addr=127.0.0.1:${rpc}`, '-format=json']);
    const seen = (JSON.parse(stdout) as { members: { name: string }[] }).members.map((m) => m.name);
    assert.deepEqual(seen, ['outsider'], 'the outsider learns nobody');
    assert.equal((await nodes(g1())).some((n) => n.name === 'outsider'), false, 'and nobody learns the outsider');
    outsider.kill('SIGKILL');
  });

  test('a malformed or tampered invite is refused with a clear error', async () => {
    const token = await invite(g1());
    const [p, payload, sig] = token.split('.');
    const tampered = `${p}.${payload?.slice(0, -4)}AAAA.${sig}`;
    for (const bad of ['nonsense', tampered]) {
      await assert.rejects(g2().api.request('POST', '/api/v1/community/join', { token: bad }), (err: unknown) => {
        assert.ok(err instanceof ApiProblem);
        // The token is read before membership is checked: a bad one is always invalid_invite.
        assert.equal(err.problem.code, 'invalid_invite');
        return true;
      });
    }
  });

  test('peer calls: a member is accepted, a stranger with a valid certificate is refused', async () => {
    const rows = await nodes(g1());
    const gw2Row = rows.find((n) => n.name === g2().config.name) as NodeRow;
    const pins = { fingerprintOf: (m: string) => (m === gw2Row.name ? gw2Row.id ?? undefined : undefined) };
    const member = createPeerClient({ identity: await identityOf(g1()), trust: pins });
    const hello = await member.request(gw2Row.name, gw2Row.peerAddr as string, 'GET', '/peer/v1/hello') as { id: string; name: string };
    assert.deepEqual(hello, { id: gw2Row.id, name: gw2Row.name });
    member.close();
    const dir = mkdtempSync(join(tmpdir(), 'hearth-stranger-'));
    const stranger = createPeerClient({ identity: await loadOrCreateIdentity(dir, { commonName: 'stranger' }), trust: pins });
    await assert.rejects(stranger.request(gw2Row.name, gw2Row.peerAddr as string, 'GET', '/peer/v1/hello'), (err: unknown) => {
      assert.ok(err instanceof PeerError);
      assert.equal(err.problem?.code, 'forbidden');
      return true;
    });
    stranger.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('faults are survived', () => {
  test('serf killed under a running agent: restarted, view rebuilt, no false failure', async () => {
    const agentPid = gwPid(g2());
    const serfPid = serfPidOf(agentPid);
    assert.ok(serfPid !== undefined, 'gw2 runs a serf child');
    process.kill(serfPid, 'SIGKILL');
    await until('gw2 has a new serf', async () => {
      const pid = serfPidOf(agentPid);
      return pid !== undefined && pid !== serfPid ? pid : undefined;
    });
    const rows = await until('gw2 sees 3 alive again', async () => {
      const r = await nodes(g2());
      return r.filter((n) => n.status === 'alive').length === 3 ? r : undefined;
    });
    assert.equal(rows.length, 3);
    const status = await g2().api.request<{ serfRestarts: number }>('GET', '/api/v1/community');
    assert.equal(status.serfRestarts, 1);
    for (const gw of [g1(), g3()]) {
      const seen = await nodes(gw);
      assert.equal(statusOf(seen, g2()), 'alive', `${gw.config.name} never saw gw2 failed`);
    }
  });

  test('a gateway killed with -9 is seen failed, and alive again after its restart', async () => {
    await g3().kill9();
    for (const gw of [g1(), g2()]) {
      await until(`${gw.config.name} sees gw3 failed`, async () => (statusOf(await nodes(gw), g3()) === 'failed' ? true : undefined));
    }
    await g3().start();
    for (const gw of [g1(), g2()]) {
      await until(`${gw.config.name} sees gw3 alive`, async () => (statusOf(await nodes(gw), g3()) === 'alive' ? true : undefined));
    }
  });
});

describe('owner controls', () => {
  test('a revoked member is refused by every peer, even one that was down when it was revoked', async () => {
    const rows = await nodes(g2());
    const gw2Row = rows.find((n) => n.name === g2().config.name) as NodeRow;
    // gw2 is away while gw1 revokes gw3: it misses the revocation event and
    // must learn it from the revocation digest in gw1's tags.
    await g2().stop();
    const revoked = await g1().api.request<{ id: string; name: string }>('POST', '/api/v1/community/revocations', { node: g3().config.name });
    assert.equal(revoked.name, g3().config.name);
    await g2().start();
    // (gw3 takes itself out once it hears of its revocation, so gw2 may never see it again: its event log says what it learned.)
    await until('gw2 knows gw3 is revoked', async () => {
      const events = await g2().api.request<{ items: { type: string; detail: { id?: string } }[] }>('GET', '/api/v1/events?limit=1000');
      return events.items.some((e) => e.type === 'community.revoked' && e.detail.id === revoked.id) ? true : undefined;
    }, 40_000);
    const pins = { fingerprintOf: (m: string) => (m === gw2Row.name ? gw2Row.id ?? undefined : undefined) };
    const client = createPeerClient({ identity: await identityOf(g3()), trust: pins });
    await assert.rejects(client.request(gw2Row.name, gw2Row.peerAddr as string, 'GET', '/peer/v1/hello'), (err: unknown) => {
      assert.ok(err instanceof PeerError);
      assert.equal(err.problem?.code, 'forbidden');
      return true;
    });
    client.close();
  });

  test('the revoked gateway takes itself out: its community side says revoked, its serf is gone, and a restart keeps it out', async () => {
    const status = await until('gw3 knows it was revoked', async () => {
      const s = await g3().api.request<{ state: string; reason: string | null; fix: string | null }>('GET', '/api/v1/community');
      return s.state === 'revoked' ? s : undefined;
    });
    assert.match(status.fix ?? '', /community leave/);
    await until('gw3 runs no serf', async () => (serfPidOf(gwPid(g3())) === undefined ? true : undefined));
    await until('gw1 sees revoked gw3 out', async () => (['failed', 'left'].includes(statusOf(await nodes(g1()), g3()) ?? '') ? true : undefined));
    await assert.rejects(g3().api.request('GET', '/api/v1/nodes'), (err: unknown) => err instanceof ApiProblem && err.problem.code === 'gateway_revoked');
    await g3().stop();
    await g3().start();
    const again = await g3().api.request<{ state: string }>('GET', '/api/v1/community');
    assert.equal(again.state, 'revoked', 'still revoked after a restart');
    assert.equal(serfPidOf(gwPid(g3())), undefined, 'and no serf was started');
  });

  test('rotating the key is refused while a revoked member still gossips, then keeps every remaining member', async () => {
    // A revoked member that does not take itself out (a stock serf with the
    // key and gw3's tags): on loopback the firewall cannot cut its gossip
    // (all share 127.0.0.1; the testbed test does that), so the rotation
    // is refused while it gossips: it would get the new key.
    const state = JSON.parse(readFileSync(join(g1().dataDir, 'community.json'), 'utf8')) as { rpcAuthKey: string };
    const { stdout } = await run('serf', ['members', `-rpc-addr=127.0.0.1:${g1().config.community.rpcPort}`, `-rpc-auth=${state.rpcAuthKey}`, '-format=json']);
    const gw3Tags = (JSON.parse(stdout) as { members: { name: string; tags: Record<string, string> }[] }).members.find((m) => m.name === g3().config.name)?.tags ?? {};
    const key = (JSON.parse(readFileSync(join(g1().dataDir, 'serf', 'keyring.json'), 'utf8')) as string[])[0] as string;
    const [bind, rpc] = [await freePort(), await freePort()];
    const rogue = spawn('serf', [
      'agent', '-node=rogue', `-bind=127.0.0.1:${bind}`, `-rpc-addr=127.0.0.1:${rpc}`, `-encrypt=${key}`, `-join=${g1().config.community.bind}`,
      ...Object.entries(gw3Tags).map(([k, v]) => `-tag=${k}=${v}`),
    ], { stdio: 'ignore' });
    extra.push(rogue);
    await until('gw1 sees the rogue alive', async () => ((await nodes(g1())).find((n) => n.name === 'rogue')?.status === 'alive' ? true : undefined));
    await assert.rejects(g1().api.request('POST', '/api/v1/community/rotate-key'), (err: unknown) =>
      err instanceof ApiProblem && err.problem.code === 'invalid_state' && /rogue still gossips/.test(err.problem.detail));
    rogue.kill('SIGKILL');
    await until('gw1 sees the rogue failed', async () => ((await nodes(g1())).find((n) => n.name === 'rogue')?.status === 'failed' ? true : undefined));
    const before = JSON.parse(readFileSync(join(g1().dataDir, 'serf', 'keyring.json'), 'utf8')) as string[];
    const r = await g1().api.request<{ nodes: number }>('POST', '/api/v1/community/rotate-key');
    assert.ok(r.nodes >= 2);
    for (const gw of [g1(), g2()]) {
      const keys = await until(`${gw.config.name}'s keyring has only the new key`, async () => {
        const k = JSON.parse(readFileSync(join(gw.dataDir, 'serf', 'keyring.json'), 'utf8')) as string[];
        return k.length === 1 && k[0] !== before[0] ? k : undefined;
      });
      assert.equal(keys.length, 1);
    }
    for (const gw of [g1(), g2()]) {
      const seen = await nodes(gw);
      assert.equal(statusOf(seen, g1()), 'alive');
      assert.equal(statusOf(seen, g2()), 'alive');
    }
  });

  test('leave is graceful: the others see left, not failed', async () => {
    await g2().api.request('POST', '/api/v1/community/leave');
    await untilLogged('gw1 sees gw2 left', async () => {
      const status = statusOf(await nodes(g1()), g2());
      if (status !== 'left') throw new Error(`gw1 sees gw2 ${status ?? 'not at all'}`);
      return true;
    });
    await assert.rejects(g2().api.request('GET', '/api/v1/nodes'), (err: unknown) => err instanceof ApiProblem && err.problem.code === 'not_in_community');
  });
});

function gwPid(gw: TestGateway): number {
  const pid = gw.pid();
  if (pid === undefined) throw new Error(`${gw.config.name} is not running`);
  return pid;
}
