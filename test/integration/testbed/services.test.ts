// The community's service directory on a testbed of three gateways
// (namespaces, the link emulator, real agents, real Serf, real LXC), driven
// with the real CLI. The story: a sliver on gw1 serves a page and declares
// it → every gateway lists it at gw1's community address, and a sliver on
// gw3 fetches the page through gw1's forward → the server stops: the
// service is withdrawn everywhere; it starts again: it comes back → a
// service whose check hangs is never announced, and does not hold up the
// others → a fixed gateway port that is already forwarded is refused and
// changes nothing → each gateway serves a page: `hearth services --near`
// lists them nearest first → gw1 is killed: its services leave every
// other gateway's directory.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testbedKill } from '../../../src/testbed/controller-ops.js';
import type { DirectoryEntry } from '../../../src/cloud/services.js';
import { eventually, useTestbed } from '../../support/testbed.js';

const GATEWAYS = [1, 2, 3];
const tb = useTestbed({ name: 'services', gateways: GATEWAYS.length, seed: 7, underlay: '172.30' });
const { hearth } = tb;

async function directory(n: number, ...flags: string[]): Promise<DirectoryEntry[]> {
  return JSON.parse(await hearth(n, ['services', '--json', ...flags])) as DirectoryEntry[];
}

interface Declared { name: string; hostPort: number; up: boolean; reason: string | null }
async function declared(n: number, sliver: string): Promise<Declared[]> {
  return JSON.parse(await hearth(n, ['sliver', 'service', 'ls', sliver, '--json'])) as Declared[];
}

/** A running busybox sliver on gateway `n` serving `page` on port 8080 (busybox httpd daemonises). */
async function pageServer(n: number, name: string, page: string): Promise<void> {
  await hearth(n, ['sliver', 'create', name, '--memory', '32', '--json']);
  await hearth(n, ['sliver', 'exec', name, '--', 'sh', '-c', `mkdir -p /www && echo ${page} > /www/index.html && httpd -p 8080 -h /www`]);
}

const listed = (entries: readonly DirectoryEntry[], gateway: string, name: string): DirectoryEntry | undefined =>
  entries.find((e) => e.gateway === gateway && e.name === name);

void describe(`the service directory on a testbed of three (prefix ${tb.prefix})`, () => {
  void test('a declared service is listed by every gateway at its gateway\'s address, and a sliver elsewhere reaches it there', async () => {
    await pageServer(1, 'site', 'hello-from-gw1');
    await hearth(1, ['sliver', 'service', 'add', 'site', 'web', '--type', 'http', '--port', '8080', '--check', 'http:/index.html']);
    for (const n of GATEWAYS) {
      const entries = await eventually(`gw${n} to list gw1's web`, 60, () => directory(n), (d) => listed(d, 'gw1', 'web') !== undefined);
      const web = listed(entries, 'gw1', 'web') as DirectoryEntry;
      assert.equal(web.address, `${tb.gw(1).communityAddress}:${web.hostPort}`);
      assert.deepEqual([web.type, web.sliver, web.slice, web.protocol], ['http', 'site', 'site', 'tcp']);
    }
    const web = listed(await directory(3, '--type', 'http'), 'gw1', 'web') as DirectoryEntry;
    await hearth(3, ['sliver', 'create', 'client', '--memory', '32', '--json']);
    const [host, port] = web.address.split(':') as [string, string];
    const page = await hearth(3, ['sliver', 'exec', 'client', '--', 'sh', '-c', `printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc ${host} ${port}`]);
    assert.match(page, /hello-from-gw1/);
    assert.deepEqual(await directory(3, '--type', 'bittorrent'), [], 'a type nobody offers lists nothing');
  });

  void test('a service that stops answering is withdrawn everywhere, and comes back when it answers again', async () => {
    await hearth(1, ['sliver', 'exec', 'site', '--', 'killall', 'httpd']);
    for (const n of GATEWAYS) await eventually(`gw${n} to drop web`, 30, () => directory(n), (d) => listed(d, 'gw1', 'web') === undefined);
    const [down] = await declared(1, 'site');
    assert.equal(down?.up, false);
    assert.ok(down?.reason !== null, 'the owner sees why');
    await hearth(1, ['sliver', 'exec', 'site', '--', 'httpd', '-p', '8080', '-h', '/www']);
    for (const n of GATEWAYS) await eventually(`gw${n} to list web again`, 30, () => directory(n), (d) => listed(d, 'gw1', 'web') !== undefined);
  });

  void test('a service whose check hangs is never announced, and the others stay announced', async () => {
    // Every connection is accepted and then held without a word: an HTTP check can only time out.
    await hearth(1, ['sliver', 'exec', 'site', '--', 'sh', '-c', 'nc -ll -p 9000 -e sleep 3600 </dev/null >/dev/null 2>&1 &']);
    const current = (await declared(1, 'site')).map((d) => d.name);
    assert.deepEqual(current, ['web']);
    await hearth(1, ['sliver', 'service', 'add', 'site', 'stuck', '--type', 'http', '--port', '9000', '--check', 'http:/']);
    const stuck = await eventually('the stuck service to time out', 30, () => declared(1, 'site'),
      (d) => /no answer within/.test(d.find((x) => x.name === 'stuck')?.reason ?? ''));
    assert.equal(stuck.find((x) => x.name === 'stuck')?.up, false);
    assert.equal(stuck.find((x) => x.name === 'web')?.up, true, 'web is still checked and up');
    for (const n of GATEWAYS) {
      const d = await directory(n);
      assert.ok(listed(d, 'gw1', 'web') !== undefined, `gw${n} still lists web`);
      assert.equal(listed(d, 'gw1', 'stuck'), undefined, `gw${n} never lists stuck`);
    }
  });

  void test('a fixed gateway port already forwarded is refused, and nothing changes', async () => {
    const before = await declared(1, 'site');
    const web = before.find((d) => d.name === 'web') as Declared;
    await hearth(1, ['sliver', 'create', 'second', '--memory', '32', '--json']);
    await assert.rejects(hearth(1, ['sliver', 'service', 'add', 'second', 'web', '--type', 'http', '--port', '8080', '--host-port', String(web.hostPort)]),
      /already forwarded/);
    assert.deepEqual(await declared(1, 'second'), []);
    assert.deepEqual((await declared(1, 'site')).map((d) => [d.name, d.hostPort]), before.map((d) => [d.name, d.hostPort]));
    await hearth(1, ['sliver', 'rm', 'second']);
  });

  void test('with --near, a gateway lists the services nearest first, its own before the others', async () => {
    for (const n of [2, 3]) {
      await pageServer(n, `site${n}`, `hello-from-gw${n}`);
      await hearth(n, ['sliver', 'service', 'add', `site${n}`, 'web', '--type', 'http', '--port', '8080']);
    }
    const near = await eventually('gw3 to list the three pages', 60, () => directory(3, '--type', 'http', '--near'), (d) => d.length === 3);
    assert.equal(near[0]?.gateway, 'gw3', 'its own first');
    const rtts = near.map((e) => e.rttMs ?? Infinity);
    assert.deepEqual(rtts, [...rtts].sort((a, b) => a - b), `nearest first: ${JSON.stringify(near.map((e) => [e.gateway, e.rttMs]))}`);
  });

  void test('a killed gateway\'s services leave every other gateway\'s directory', async () => {
    await testbedKill('gw1', { dir: tb.dir });
    for (const n of [2, 3]) {
      const d = await eventually(`gw${n} to drop gw1's services`, 60, () => directory(n), (x) => !x.some((e) => e.gateway === 'gw1'));
      assert.deepEqual(d.map((e) => e.gateway).sort(), ['gw2', 'gw3'], 'the others stay listed');
    }
  });
});
