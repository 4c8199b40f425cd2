// An encrypted community of real serf agents: the keyring is rotated through
// the RPC (install, use, remove) and persisted, and an agent without the
// community key cannot get in.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HearthError } from '../../../src/model/errors.js';
import { eventually, startTestAgent, type Cleanup, type TestAgent } from './serf-harness.js';

function newKey(): string {
  return randomBytes(32).toString('base64');
}

async function startEncryptedPair(t: Cleanup, key: string): Promise<[TestAgent, TestAgent]> {
  const opts = { encryptKey: key, inDir: (dir: string) => ({ keyringFile: `${dir}/keyring.json` }) };
  const a = await startTestAgent(t, { prefix: 'ka', ...opts });
  const b = await startTestAgent(t, { prefix: 'kb', ...opts });
  assert.equal(await a.rpc.join([b.bindAddress], false), 1);
  await eventually('both members alive', async () => {
    const alive = (await b.rpc.members()).filter((m) => m.status === 'alive');
    return alive.length === 2 ? true : undefined;
  });
  return [a, b];
}

describe('an encrypted serf community', () => {
  test('the community key is rotated through the RPC and the new keyring persists', async (t) => {
    const k1 = newKey();
    const k2 = newKey();
    const [a, b] = await startEncryptedPair(t, k1);
    assert.equal((await a.rpc.stats())['serf']?.['encrypted'], 'true');

    const listed = await a.rpc.listKeys();
    assert.deepEqual(listed.keys, { [k1]: 2 });
    assert.equal(listed.numNodes, 2);

    const installed = await a.rpc.installKey(k2);
    assert.equal(installed.numResp, 2);
    assert.equal(installed.numErr, 0);
    assert.deepEqual((await b.rpc.listKeys()).keys, { [k1]: 2, [k2]: 2 });

    await a.rpc.useKey(k2);
    // The primary key cannot be removed: the refusal names the nodes and why.
    await assert.rejects(a.rpc.removeKey(k2), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.match(err.message, /primary key/i);
      return true;
    });
    await a.rpc.removeKey(k1);
    assert.deepEqual((await a.rpc.listKeys()).keys, { [k2]: 2 });
    assert.deepEqual(JSON.parse(await readFile(`${b.dir}/keyring.json`, 'utf8')), [k2]);

    // Gossip still flows under the new key.
    await a.rpc.tags({ set: { rotated: 'yes' } });
    await eventually('b to see a tag gossiped under the new key', async () => {
      const tags = (await b.rpc.members()).find((m) => m.name === a.name)?.tags;
      return tags?.['rotated'] === 'yes' ? true : undefined;
    });
  });

  test('an agent without the community key cannot join, nor can one with another key', async (t) => {
    const key = newKey();
    const [a, b] = await startEncryptedPair(t, key);
    const plain = await startTestAgent(t, { prefix: 'plain', plain: true });
    const stranger = await startTestAgent(t, { prefix: 'stranger', encryptKey: newKey() });

    await assert.rejects(plain.rpc.join([a.bindAddress], false));
    await assert.rejects(stranger.rpc.join([a.bindAddress], false));

    const names = (await a.rpc.members()).map((m) => m.name).sort();
    assert.deepEqual(names, [a.name, b.name].sort());
    assert.deepEqual((await plain.rpc.members()).map((m) => m.name), [plain.name]);
    assert.deepEqual((await stranger.rpc.members()).map((m) => m.name), [stranger.name]);
  });
});
