// A gateway's serf dies under its supervisor (kill -9). The story:
// the supervisor restarts it on the same ports, its join addresses bring it
// back into the community, the RPC client reconnects on its own and re-subscribes,
// and an event sent afterwards by another gateway still reaches the stream.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SerfEvent } from '../../../src/overlay/serf-records.js';
import { bytes, eventually, startTestAgent, text, waitFor } from './serf-harness.js';

describe('a serf restart under the supervisor', () => {
  test('the stream survives kill -9 of serf and receives events sent after the restart', async (t) => {
    const b = await startTestAgent(t, { prefix: 'rb' });
    // The join addresses (from the invite) bring a back after a restart; serf's snapshot
    // would too, but it is written lazily and a young agent may not have flushed it yet.
    const a = await startTestAgent(t, { prefix: 'ra', join: [b.bindAddress] });
    await eventually('a and b joined', async () =>
      (await a.rpc.members()).filter((m) => m.status === 'alive').length === 2 ? true : undefined,
    );

    const received = waitFor<SerfEvent, string>();
    await a.rpc.stream('user', received.sink);
    const transitions: string[] = [];
    a.rpc.events.on('disconnected', () => transitions.push('disconnected'));
    a.rpc.events.on('connected', () => transitions.push('connected'));

    await b.rpc.userEvent('before', bytes('1'), false);
    assert.equal(await received.until((e) => (e.type === 'user' && e.name === 'before' ? text(e.payload) : undefined)), '1');

    const oldPid = a.agent.pid;
    assert.ok(oldPid !== undefined);
    const restarted = new Promise<number>((resolve) => a.agent.events.once('restart', (info) => resolve(info.count)));
    const ready = new Promise<number>((resolve) => a.agent.events.once('ready', resolve));
    const reconnected = new Promise<void>((resolve) => a.rpc.events.once('connected', () => resolve()));
    process.kill(oldPid, 'SIGKILL');

    assert.equal(await restarted, 1);
    const newPid = await ready;
    assert.notEqual(newPid, oldPid);
    await reconnected;
    assert.deepEqual(transitions, ['disconnected', 'connected']);
    assert.equal(a.agent.restarts, 1);

    // The restarted agent rejoins b on its own, with no join call from us.
    await eventually('restarted a to see b alive again', async () =>
      (await a.rpc.members()).find((m) => m.name === b.name)?.status === 'alive' ? true : undefined,
    );
    await b.rpc.userEvent('after', bytes('2'), false);
    assert.equal(await received.until((e) => (e.type === 'user' && e.name === 'after' ? text(e.payload) : undefined)), '2');
    assert.equal(a.rpc.decodeErrors, 0);
  });
});
