// One real `serf agent` per test, driven through our RPC client: what a
// gateway sees of itself (members, tags, coordinate, stats), that the RPC
// key is enforced, that IPv6 works, and that the stock serf CLI reads the
// same agent (our config and RPC speak Serf's protocol, not a private one).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HearthError } from '../../../src/model/errors.js';
import { createSerfRpc } from '../../../src/overlay/serf-rpc.js';
import { bytes, eventually, startTestAgent } from './serf-harness.js';

const run = promisify(execFile);

describe('serf rpc against a real agent', () => {
  test('a client with the wrong RPC key is refused; the right key is accepted', async (t) => {
    const a = await startTestAgent(t);
    const intruder = createSerfRpc({ address: a.rpcAddress, authKey: 'not-the-key' });
    t.after(() => intruder.close());
    await assert.rejects(intruder.connect({ signal: AbortSignal.timeout(5_000) }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.match(err.message, /Invalid authentication token/);
      return true;
    });
    const anonymous = createSerfRpc({ address: a.rpcAddress });
    t.after(() => anonymous.close());
    await anonymous.connect({ signal: AbortSignal.timeout(5_000) });
    await assert.rejects(anonymous.members(), /Authentication required/);
    assert.equal((await a.rpc.members()).length, 1);
  });

  test('a fresh agent lists itself alive with its initial tags', async (t) => {
    const a = await startTestAgent(t, { tags: { role: 'gateway', api: '127.0.0.1:8443' } });
    const members = await a.rpc.members();
    assert.equal(members.length, 1);
    const [self] = members;
    assert.equal(self?.name, a.name);
    assert.equal(self?.status, 'alive');
    assert.equal(`${self?.addr}:${self?.port}`, a.bindAddress);
    assert.deepEqual(self?.tags, { role: 'gateway', api: '127.0.0.1:8443' });
    assert.ok((self?.protocol.cur ?? 0) >= 1);
  });

  test('tags set and deleted through the RPC show in members and filters', async (t) => {
    const a = await startTestAgent(t, { tags: { role: 'gateway', old: 'x' } });
    await a.rpc.tags({ set: { cpu: '4', mem: '2048' }, delete: ['old'] });
    const [self] = await a.rpc.members();
    assert.deepEqual(self?.tags, { role: 'gateway', cpu: '4', mem: '2048' });
    assert.equal((await a.rpc.membersFiltered({ tags: { cpu: '[0-9]+' }, status: 'alive' })).length, 1);
    assert.equal((await a.rpc.membersFiltered({ tags: { cpu: '8' } })).length, 0);
    assert.equal((await a.rpc.membersFiltered({ name: a.name })).length, 1);
  });

  test('tags beyond 512 bytes are refused as too large and the old tags stay', async (t) => {
    const a = await startTestAgent(t, { tags: { role: 'gateway' } });
    await assert.rejects(a.rpc.tags({ set: { big: 'x'.repeat(600) } }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.code, 'payload_too_large');
      return true;
    });
    const [self] = await a.rpc.members();
    assert.deepEqual(self?.tags, { role: 'gateway' });
  });

  test('tags written through the RPC persist in the tags file across a restart', async (t) => {
    const a = await startTestAgent(t, { tags: { seed: '1' }, inDir: (dir) => ({ tagsFile: `${dir}/tags.json` }) });
    await a.rpc.tags({ set: { later: '2' } });
    await a.agent.stop();
    await a.agent.start();
    await a.rpc.connect({ signal: AbortSignal.timeout(10_000) });
    const [self] = await eventually('members after restart', () => a.rpc.members());
    assert.deepEqual(self?.tags, { seed: '1', later: '2' });
  });

  test('a user event over the size limit is refused before it is sent', async (t) => {
    const a = await startTestAgent(t);
    await assert.rejects(a.rpc.userEvent('big', new Uint8Array(600), false), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.code, 'payload_too_large');
      return true;
    });
    await a.rpc.userEvent('small', bytes('ok'), false);
  });

  test('the agent reports a coordinate for itself and none for an unknown node', async (t) => {
    const a = await startTestAgent(t);
    const coord = await a.rpc.getCoordinate(a.name);
    assert.ok(coord !== null);
    assert.equal(coord.vec.length, 8);
    assert.ok(coord.vec.every((x) => Number.isFinite(x)));
    assert.ok(coord.error > 0);
    assert.equal(await a.rpc.getCoordinate('no-such-node'), null);
  });

  test('stats name the agent and count its members', async (t) => {
    const a = await startTestAgent(t);
    const stats = await a.rpc.stats();
    assert.equal(stats['agent']?.['name'], a.name);
    assert.equal(stats['serf']?.['members'], '1');
    assert.equal(stats['serf']?.['encrypted'], 'true', 'the harness keys its agents');
  });

  test('an agent bound to IPv6 loopback serves the RPC and gossips on ::1', async (t) => {
    const a = await startTestAgent(t, { host: '::1' });
    assert.match(a.rpcAddress, /^\[::1\]:\d+$/);
    const [self] = await a.rpc.members();
    assert.equal(self?.addr, '::1');
    assert.equal(self?.status, 'alive');
  });

  test('the stock serf CLI lists our agent and its tags', async (t) => {
    const a = await startTestAgent(t, { tags: { role: 'gateway' } });
    await a.rpc.tags({ set: { zone: 'roof' } });
    const { stdout } = await run('serf', ['members', `-rpc-addr=${a.rpcAddress}`, `-rpc-auth=${a.authKey}`, '-tag', 'zone=roof', '-format=json'], {
      timeout: 10_000,
    });
    const listed = JSON.parse(stdout) as { members: { name: string; status: string; tags: Record<string, string> }[] };
    assert.equal(listed.members.length, 1);
    assert.equal(listed.members[0]?.name, a.name);
    assert.equal(listed.members[0]?.status, 'alive');
    assert.deepEqual(listed.members[0]?.tags, { role: 'gateway', zone: 'roof' });
  });
});
