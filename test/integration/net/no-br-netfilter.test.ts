// The sliver network must isolate and forward the same with and without
// br_netfilter (which passes bridged frames through the inet hooks). This
// host may have it on; its switches are per network namespace, so the whole
// sliver-net suite runs again inside a fresh namespace with them off.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool, runToolChecked } from '../../../src/net/run.js';
import { inNs, nsRun, removeNs } from './fake-slivers.js';

const isRoot = process.getuid?.() === 0;
const hostNs = `hth${randomBytes(3).toString('hex').slice(0, 5)}`;
const ext = extname(fileURLToPath(import.meta.url));
const suite = fileURLToPath(new URL(`./sliver-net.test${ext}`, import.meta.url));

before(async () => {
  if (!isRoot) return;
  await runToolChecked('ip', ['netns', 'add', hostNs]);
  await nsRun(hostNs, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
  for (const table of ['iptables', 'ip6tables', 'arptables']) {
    await nsRun(hostNs, ['/bin/busybox', 'sh', '-c', `echo 0 > /proc/sys/net/bridge/bridge-nf-call-${table}`]);
  }
});

after(async () => {
  if (isRoot) await removeNs(hostNs);
});

test('the sliver-net suite passes with br_netfilter off', { skip: isRoot ? false : 'needs root' }, async () => {
  const args = [...(ext === '.ts' ? ['--import', 'tsx'] : []), '--test', '--test-reporter=tap', suite];
  // Unset, or the child runner would report in the parent's private protocol.
  const result = await runTool('nsenter', [`--net=/var/run/netns/${hostNs}`, '--', 'env', '-u', 'NODE_TEST_CONTEXT', process.execPath, ...args]);
  assert.equal(result.exitCode, 0, result.stdout.split('\n').filter((l) => /not ok|error|Error|expected|actual/.test(l)).join('\n'));
  assert.match(result.stdout, /br_netfilter off/);
  assert.match(result.stdout, /# fail 0/);
  // The namespace's own ruleset is empty again.
  assert.equal((await inNs(hostNs, ['nft', 'list', 'ruleset'])).stdout.trim(), '');
});
