import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import {
  COMMUNITY_LINK_TIMING,
  buildSerfAgentFiles,
  encodedTagsSize,
  type SerfAgentConfigInit,
} from '../../../src/overlay/serf-agent-config.js';

const KEY16 = Buffer.alloc(16, 7).toString('base64');
const KEY32 = Buffer.alloc(32, 9).toString('base64');

const base: SerfAgentConfigInit = {
  nodeName: 'gw-1',
  bindAddress: '10.1.2.3:7946',
  rpcAddress: '127.0.0.1:7373',
  rpcAuthKey: 'secret',
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HearthError ? err.code : 'not-hearth';
  }
  return undefined;
}

describe('serf agent config', () => {
  test('everything, secrets included, goes into the config file', () => {
    const { config, keyringSeed, tagsSeed } = buildSerfAgentFiles({
      ...base,
      advertiseAddress: '[fd00::1]:7946',
      encryptKey: KEY32,
      snapshotPath: '/var/lib/hearth/serf.snapshot',
      tags: { role: 'gateway' },
      profile: 'wan',
      join: ['10.1.2.4:7946', '[fd00::2]:7946'],
    });
    assert.deepEqual(config, {
      node_name: 'gw-1',
      bind: '10.1.2.3:7946',
      advertise: '[fd00::1]:7946',
      rpc_addr: '127.0.0.1:7373',
      rpc_auth: 'secret',
      encrypt_key: KEY32,
      snapshot_path: '/var/lib/hearth/serf.snapshot',
      tags: { role: 'gateway' },
      profile: 'wan',
      log_level: 'info',
      broadcast_timeout: '1s',
      skip_leave_on_interrupt: false,
      leave_on_terminate: false,
      rejoin_after_leave: true,
      retry_join: ['10.1.2.4:7946', '[fd00::2]:7946'],
    });
    assert.equal(keyringSeed, undefined);
    assert.equal(tagsSeed, undefined);
  });

  test('with a keyring file the key only seeds it; with a tags file the tags only seed it', () => {
    const { config, keyringSeed, tagsSeed } = buildSerfAgentFiles({
      ...base,
      encryptKey: KEY16,
      keyringFile: '/d/keyring.json',
      tagsFile: '/d/tags.json',
      tags: { role: 'gateway' },
    });
    assert.equal(config['keyring_file'], '/d/keyring.json');
    assert.equal(config['encrypt_key'], undefined);
    assert.deepEqual(keyringSeed, [KEY16]);
    assert.equal(config['tags_file'], '/d/tags.json');
    assert.equal(config['tags'], undefined);
    assert.deepEqual(tagsSeed, { role: 'gateway' });
  });

  test('timings become Go durations; no join address is ever invented', () => {
    const { config } = buildSerfAgentFiles({ ...base, timing: COMMUNITY_LINK_TIMING });
    assert.equal(config['reconnect_interval'], '30000ms');
    assert.equal(config['reconnect_timeout'], '259200000ms');
    assert.equal(config['tombstone_timeout'], '86400000ms');
    assert.equal(config['broadcast_timeout'], '10000ms');
    assert.equal(config['retry_interval'], '10000ms');
    assert.equal(config['retry_join'], undefined);
    assert.equal(config['start_join'], undefined);
  });

  test('refuses what serf would refuse or what would be unsafe', () => {
    assert.equal(code(() => buildSerfAgentFiles({ ...base, rpcAddress: '0.0.0.0:7373' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, rpcAddress: '10.0.0.1:7373' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, rpcAddress: '[::1]:7373' })), undefined);
    assert.equal(code(() => buildSerfAgentFiles({ ...base, bindAddress: '10.1.2.3' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, encryptKey: Buffer.alloc(20).toString('base64') })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, encryptKey: 'not base64!' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, nodeName: 'has space' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, join: ['nohost'] })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, rpcAuthKey: '' })), 'invalid_request');
    assert.equal(code(() => buildSerfAgentFiles({ ...base, tags: { big: 'x'.repeat(520) } })), 'payload_too_large');
  });

  test('the tag budget counts serf\'s encoding', () => {
    assert.equal(encodedTagsSize({}), 2); // magic byte + empty fixmap
    assert.equal(encodedTagsSize({ a: 'b' }), 6);
  });
});
