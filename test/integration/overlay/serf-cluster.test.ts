// Several real serf agents on loopback, each with its own supervisor and RPC
// client: joining, user events, queries answered by another gateway, a
// graceful leave and a forced one, as the other members see them.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SerfEvent, SerfMember } from '../../../src/overlay/serf-records.js';
import type { SerfQueryResult } from '../../../src/overlay/serf-rpc.js';
import { bytes, eventually, startTestAgent, text, waitFor, type Cleanup, type TestAgent } from './serf-harness.js';

async function startCluster(t: Cleanup, n: number): Promise<TestAgent[]> {
  const agents = await Promise.all(Array.from({ length: n }, (_, i) => startTestAgent(t, { prefix: `c${i}`, tags: { idx: String(i) } })));
  const [first, ...rest] = agents;
  assert.ok(first !== undefined);
  assert.equal(await first.rpc.join(rest.map((a) => a.bindAddress), false), rest.length);
  // The first member's push-pulls tell it of everyone, but the others learn of each other from its UDP gossip;
  // a gossip lost on a loaded machine (CI, session 30: one agent of three did not see the third in 15 s) is made
  // good by memberlist's next push-pull, up to the `local` profile's 15 s later. Wait past that repair.
  for (const a of agents) {
    await eventually(`${a.name} to see ${n} alive members`, async () => {
      const alive = (await a.rpc.members()).filter((m) => m.status === 'alive');
      return alive.length === n ? alive : undefined;
    }, 40_000);
  }
  return agents;
}

function statusOf(members: SerfMember[], name: string): string | undefined {
  return members.find((m) => m.name === name)?.status;
}

describe('serf agents joined into a community', () => {
  test('three agents joined through the RPC see each other alive with their tags', async (t) => {
    const [a, b, c] = await startCluster(t, 3);
    assert.ok(a && b && c);
    const seenByC = await c.rpc.members();
    assert.deepEqual(seenByC.find((m) => m.name === a.name)?.tags, { idx: '0' });
    assert.deepEqual(seenByC.find((m) => m.name === b.name)?.tags, { idx: '1' });
  });

  test('a tag change on one agent reaches the others, and the other\'s supervisor reads the news in its Serf\'s log', async (t) => {
    const [a, b] = await startCluster(t, 2);
    assert.ok(a && b);
    const news: string[] = [];
    b.agent.events.on('member-news', (n) => news.push(n.member));
    await a.rpc.tags({ set: { cpu: '2' } });
    await eventually('b\'s Serf to print news of a', async () => (news.includes(a.name) ? true : undefined));
    await eventually('b to see a\'s new tag', async () => {
      const tags = (await b.rpc.members()).find((m) => m.name === a.name)?.tags;
      return tags?.['cpu'] === '2' ? tags : undefined;
    });
  });

  test('a user event sent by one agent reaches another agent\'s stream with its bytes intact', async (t) => {
    const [a, b] = await startCluster(t, 2);
    assert.ok(a && b);
    const events = waitFor<SerfEvent, Uint8Array>();
    const unsubscribe = await b.rpc.stream('user:deploy', events.sink);
    const payload = new Uint8Array([0, 1, 2, 0xff, 0xfe, 0x80]);
    await a.rpc.userEvent('other', bytes('ignored'), false);
    await a.rpc.userEvent('deploy', payload, false);
    const got = await events.until((e) => (e.type === 'user' && e.name === 'deploy' ? e.payload : undefined));
    assert.deepEqual(got, payload);
    await unsubscribe();
  });

  test('a query is answered by the agent whose client responds to it', async (t) => {
    const [a, b, c] = await startCluster(t, 3);
    assert.ok(a && b && c);
    await b.rpc.stream('query:whoami', (e) => {
      if (e.type === 'query') void b.rpc.respond(e.id, bytes(`${b.name} got ${text(e.payload)}`));
    });
    // Every member acks receipt; only b's client answers. An ack is one
    // datagram sent once, after the query reached the member by gossip: on a
    // loaded machine one can miss the query's end, so the query is asked
    // again, at most three times, until all three acks come back.
    const everyone = [a.name, b.name, c.name].sort();
    let acks: string[] = [];
    for (let attempt = 0; attempt < 3 && acks.join() !== everyone.join(); attempt++) {
      const result: SerfQueryResult = await a.rpc.query({ name: 'whoami', payload: bytes('hi'), requestAck: true, timeoutMs: 3_000 });
      assert.deepEqual(result.responses.map((r) => [r.from, text(r.payload)]), [[b.name, `${b.name} got hi`]]);
      acks = [...result.acks].sort();
    }
    assert.deepEqual(acks, everyone);

    let onlyC: string[] = [];
    for (let attempt = 0; attempt < 3 && onlyC.length === 0; attempt++) {
      const result: SerfQueryResult = await a.rpc.query({ name: 'whoami', filterNodes: [c.name], requestAck: true, timeoutMs: 2_000 });
      assert.deepEqual(result.responses, []);
      onlyC = [...result.acks];
    }
    assert.deepEqual(onlyC, [c.name]);
  });

  test('query records stream as they arrive and the stream ends when Serf closes the query', async (t) => {
    const [a, b] = await startCluster(t, 2);
    assert.ok(a && b);
    await b.rpc.stream('query', (e) => {
      if (e.type === 'query') void b.rpc.respond(e.id, bytes('pong'));
    });
    const kinds: string[] = [];
    for await (const record of a.rpc.queryRecords({ name: 'ping', filterTags: { idx: '1' }, timeoutMs: 3_000 })) {
      kinds.push(`${record.type}:${record.from}`);
    }
    assert.deepEqual(kinds, [`response:${b.name}`]);
  });

  test('an agent that leaves is seen as left, and its supervisor does not restart it', async (t) => {
    const [a, b] = await startCluster(t, 2);
    assert.ok(a && b);
    const exited = new Promise((resolve) => b.agent.events.once('exit', resolve));
    await b.rpc.leave();
    await exited;
    assert.equal(b.agent.restarts, 0);
    await eventually('a to see b left', async () => (statusOf(await a.rpc.members(), b.name) === 'left' ? true : undefined));
  });

  test('a frozen agent is seen as failed and force-leave marks it left', async (t) => {
    const [a, b] = await startCluster(t, 2);
    assert.ok(a && b);
    const pid = b.agent.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    try {
      await eventually('a to see b failed', async () => (statusOf(await a.rpc.members(), b.name) === 'failed' ? true : undefined), 30_000);
      await a.rpc.forceLeave(b.name);
      await eventually('a to see b left', async () => (statusOf(await a.rpc.members(), b.name) === 'left' ? true : undefined));
    } finally {
      // A stopped process would only die by SIGKILL; let it leave cleanly instead.
      process.kill(pid, 'SIGCONT');
    }
  });
});
