// Apps on a testbed of three gateways (namespaces, the link emulator, real
// agents, real Serf, real LXC with debian slivers), driven with the real
// CLI as a user would. The story: a user deploys a small test app (a front
// and scalable backs, each a perl HTTP server on the base debian image)
// over three gateways → each sliver runs its role's share, its files with
// the slice's names filled in, and its gateway announces its service → a
// sliver on another gateway reaches the front through its gateway's
// forward, and a back reaches the front by name over the slice network →
// `app ls` and `app show` tell the roles → the same app deployed again is
// refused → a recipe that fails its schema is refused before anything is
// signed → `app rm` takes the app and its services away everywhere.
// (The three apps that ship, with their real software, are tested in
// docs/apps.md's way by test/unit/model/app.test.ts for their recipes.)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../support/ports.js';
import { testbedUp } from '../../../src/testbed/controller.js';
import { testbedDown } from '../../../src/testbed/controller-down.js';
import { runHearth } from '../../../src/testbed/gateway-process.js';
import { memberOf, type TestbedState } from '../../../src/testbed/state.js';
import type { DirectoryEntry } from '../../../src/cloud/services.js';
import type { SliceView } from '../../../src/model/slice.js';

const prefix = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
const root = mkdtempSync(join(tmpdir(), 'testbed-apps-'));
chmodSync(root, 0o755);
const dir = join(root, 'tb');
const keyFile = join(root, 'alice');
let state: TestbedState;
const GATEWAYS = [1, 2, 3];

/** The recipe file beside the tests' sources (run from dist/ or from src with tsx). */
const here = fileURLToPath(import.meta.url);
const repo = here.includes('/dist/') ? here.slice(0, here.indexOf('/dist/')) : here.slice(0, here.indexOf('/test/'));
const RECIPE = join(repo, 'test', 'fixtures', 'hello-app.json');

const gw = (n: number): TestbedState['members'][number] => memberOf(state, n);
const hearth = (n: number, args: readonly string[]): Promise<string> => runHearth(gw(n), args);
const number = (name: string | null): number => Number((name ?? '').replace(/^gw/, ''));

async function directory(n: number): Promise<DirectoryEntry[]> {
  return JSON.parse(await hearth(n, ['services', '--json'])) as DirectoryEntry[];
}

/** Polls until `check` holds, saying what it last saw when it never does. */
async function eventually<T>(what: string, seconds: number, probe: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const deadline = performance.now() + seconds * 1000;
  let last: T | undefined;
  for (;;) {
    last = await probe().catch(() => last);
    if (last !== undefined && check(last)) return last;
    if (performance.now() > deadline) assert.fail(`never ${what} within ${seconds} s; last seen: ${JSON.stringify(last)}`);
    await sleep(1000);
  }
}

/** A perl HTTP GET from inside a debian sliver (no curl or nc in the base image). */
const perlGet = (hostPort: string): string[] => ['perl', '-MIO::Socket::INET', '-e',
  `my $c = IO::Socket::INET->new("${hostPort}") or die "connect: $!"; print $c "GET / HTTP/1.0\\r\\n\\r\\n"; print while <$c>;`];

void describe(`apps on a testbed of three (prefix ${prefix})`, () => {
  let app: SliceView;
  const hostOf = (index: number): number => number(app.slivers.find((s) => s.index === index)?.gateway ?? null);

  before(async () => {
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const result = await testbedUp({
      gateways: GATEWAYS.length, dir, prefix, seed: 11, port: await freePort(),
      underlay: { network: `172.25.${randomInt(256)}.0`, prefixLength: 24 },
      progress: () => undefined,
    });
    state = result.state;
  });

  after(async () => {
    await testbedDown({ dir });
    rmSync(root, { recursive: true, force: true });
  });

  void test('a deployed app runs a role on each of three gateways, and each gateway announces its sliver\'s service', async () => {
    app = JSON.parse(await hearth(1, ['app', 'deploy', RECIPE, '--gateways', '3', '--key', keyFile, '--json'])) as SliceView;
    assert.equal(app.state, 'running');
    assert.equal(new Set(app.slivers.map((s) => s.gateway)).size, 3, 'three gateways');
    assert.equal(app.spec.app?.name, 'hello');
    for (const n of GATEWAYS) {
      await eventually(`gw${n} to list the app's three services`, 120, () => directory(n),
        (d) => d.filter((e) => e.slice === 'hello').map((e) => `${e.sliver}/${e.name}`).sort().join(' ') === 'hello-0/front hello-1/back hello-2/back');
    }
  });

  void test('each sliver has its role\'s files with the slice\'s names, and reaches the others by name', async () => {
    const greeting = await hearth(hostOf(2), ['sliver', 'exec', 'hello-2', '--', 'cat', '/etc/hello/greeting']);
    assert.equal(greeting, 'hello from back 2 of hello; front: hello-0\n');
    const page = await hearth(hostOf(1), ['sliver', 'exec', 'hello-1', '--', ...perlGet('hello-0:8080')]);
    assert.match(page, /hello from front 0 of hello; backs: hello-1 hello-2/);
  });

  void test('a sliver on another gateway reaches the front through its gateway\'s forward', async () => {
    const front = (await directory(1)).find((e) => e.slice === 'hello' && e.name === 'front') as DirectoryEntry;
    const other = GATEWAYS.find((n) => n !== number(front.gateway)) as number;
    await hearth(other, ['sliver', 'create', 'visitor', '--memory', '32', '--json']);
    const [host, port] = front.address.split(':') as [string, string];
    const page = await hearth(other, ['sliver', 'exec', 'visitor', '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${host} ${port}`]);
    assert.match(page, /hello from front 0 of hello/);
    await hearth(other, ['sliver', 'rm', 'visitor']);
  });

  void test('app ls and app show tell the app and each sliver\'s role', async () => {
    const apps = JSON.parse(await hearth(2, ['app', 'ls', '--json'])) as SliceView[];
    assert.deepEqual(apps.map((a) => [a.name, a.spec.app?.name]), [['hello', 'hello']]);
    const shown = JSON.parse(await hearth(3, ['app', 'show', 'hello', '--json'])) as { roles: Record<string, string>; services: DirectoryEntry[] };
    assert.deepEqual(shown.roles, { 0: 'front', 1: 'back', 2: 'back' });
    assert.equal(shown.services.length, 3);
  });

  void test('the same app deployed again, or a recipe that fails its schema, is refused and leaves nothing', async () => {
    await assert.rejects(hearth(2, ['app', 'deploy', RECIPE, '--gateways', '3', '--key', keyFile]), /slice_exists/);
    const bad = JSON.parse(readFileSync(RECIPE, 'utf8')) as { roles: { services: { port: number }[] }[] };
    (bad.roles[0]?.services[0] as { port: number }).port = 70000;
    const badFile = join(root, 'bad.json');
    writeFileSync(badFile, JSON.stringify(bad));
    await assert.rejects(hearth(2, ['app', 'deploy', badFile, '--name', 'bad', '--key', keyFile]), /roles\[0\]\.services\[0\]\.port/);
    const slices = JSON.parse(await hearth(1, ['slice', 'ls', '--json'])) as SliceView[];
    assert.deepEqual(slices.map((s) => s.name), ['hello'], 'nothing else was made');
  });

  void test('app rm removes the app and its services everywhere', async () => {
    await hearth(3, ['app', 'rm', 'hello', '--key', keyFile]);
    for (const n of GATEWAYS) {
      await eventually(`gw${n} to drop the app's services`, 60, () => directory(n), (d) => !d.some((e) => e.slice === 'hello'));
      await eventually(`gw${n} to remove its sliver`, 60, async () => JSON.parse(await hearth(n, ['sliver', 'ls', '--json'])) as { slice: string }[],
        (l) => !l.some((s) => s.slice === 'hello'));
    }
  });
});
