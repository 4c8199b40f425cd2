// Slices on four real gateways (real agents, real Serf on loopback, real
// LXC), told as a user's story: a user asks one gateway for a slice and it
// runs spread over three; any gateway shows it; slices that cannot be placed
// are refused and leave nothing behind on any gateway; two entry gateways
// placing at once onto a nearly full gateway never over-commit it (that story
// comes first, while every gateway is empty); an entry
// gateway that dies with every sliver leased leaks nothing (the leases
// lapse); a host that dies while it reserves is placed around, and one that
// dies when asked to commit has its sliver placed elsewhere; the user grows a
// slice, shrinks it while one of its hosts is away, and a grow that cannot
// be placed changes nothing; a slice expires while one of its hosts is down
// and goes everywhere; the owner drains a gateway; a sliver that fails
// for good on a live gateway moves to another, and each gateway that held
// the slice logs the move; and a delete through another gateway removes the
// slice everywhere.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { cliEntry, createTestGateway, type TestGateway } from '../../support/gateway.js';
import { until } from '../../support/until.js';
import { ApiProblem } from '../../../src/cli/client.js';
import { containerName } from '../../../src/agent/reconciler.js';
import { signDocument } from '../../../src/cloud/signed-document.js';
import { userKeyOf } from '../../../src/cloud/user-key.js';
import { SLICE_KINDS, type SliceView } from '../../../src/model/slice.js';
import type { NodeRow } from '../../../src/overlay/view.js';
import type { Sliver } from '../../../src/api/schemas.js';

const run = promisify(execFile);
const tag = Math.random().toString(36).slice(2, 6);
let gws: TestGateway[] = [];
const alice = generateKeyPairSync('ed25519').privateKey;

const gw = (i: number): TestGateway => gws[i] as TestGateway;
let keyFile = '';
const sign = (kind: string, body: unknown, key: KeyObject = alice): unknown =>
  signDocument({ kind, body, privateKey: key, at: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('base64url') });

before(async () => {
  // Three gateways with two cores for the community, one with a single core: the nearly full one.
  gws = await Promise.all(['a', 'b', 'c', 'd'].map((x) => createTestGateway({ name: `s${x}-${tag}`, contribution: { cpu: x === 'd' ? 1 : 2 } })));
  await Promise.all(gws.map((g) => g.start()));
  keyFile = join(gw(1).dataDir, '..', `alice-${tag}`);
  await gw(0).api.request('POST', '/api/v1/community', { name: 'slices' });
  for (const g of gws.slice(1)) {
    const { token } = await gw(0).api.request<{ token: string }>('POST', '/api/v1/community/invites', { expiresInSec: 600 });
    await g.api.request('POST', '/api/v1/community/join', { token });
  }
  await everyGatewaySees('four alive gateways with their resources', (r) => r.status === 'alive' && r.free !== null, 60_000);
});

/** Waits until every gateway's view has four rows for which `holds`. */
async function everyGatewaySees(what: string, holds: (row: NodeRow) => boolean, timeoutMs: number): Promise<void> {
  for (const g of gws) {
    await until(`${g.config.name} to see ${what}`, async () => {
      const rows = (await g.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
      return rows.filter(holds).length === 4 ? true : undefined;
    }, timeoutMs, 500);
  }
}

after(async () => {
  await Promise.all(gws.map((g) => g.destroy()));
});

/** Reads a gateway's database beside its agent (WAL lets us), or with the agent stopped. */
function query<T>(g: TestGateway, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(g.dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** The leases a gateway's database holds now. */
const leasesOn = (g: TestGateway): { slice: string; holder: string }[] => query(g, 'SELECT slice, holder FROM leases');

const sliversOn = async (g: TestGateway): Promise<Sliver[]> => (await g.api.request<{ items: Sliver[] }>('GET', '/api/v1/slivers')).items;

/** A gateway's record of a slice: its placement and the number of slivers of the resize it holds (null: none). */
function recordOn(g: TestGateway, slice: string): { placement: Record<string, string>; resized: number | null } | undefined {
  const row = query<{ placement: string; resize_document: string | null }>(g, 'SELECT placement, resize_document FROM slices WHERE name = ?', slice)[0];
  if (row === undefined) return undefined;
  const resize = row.resize_document === null ? null : JSON.parse(row.resize_document) as { body: { slivers: number } };
  return { placement: JSON.parse(row.placement) as Record<string, string>, resized: resize?.body.slivers ?? null };
}

const named = (name: string | null | undefined): TestGateway => {
  const g = gws.find((x) => x.config.name === name);
  assert.ok(g !== undefined, `a gateway named ${String(name)}`);
  return g;
};

async function refusal(p: Promise<unknown>): Promise<{ code: string; detail: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiProblem) return { code: err.problem.code, detail: err.problem.detail };
    throw err;
  }
  assert.fail('the request was accepted');
}

async function nothingOf(slice: string): Promise<void> {
  for (const g of gws) {
    assert.deepEqual(leasesOn(g).filter((l) => l.slice === slice), [], `${g.config.name} holds no lease of ${slice}`);
    assert.deepEqual((await sliversOn(g)).filter((s) => s.slice === slice).map((s) => s.name), [], `${g.config.name} has no sliver of ${slice}`);
  }
}

async function running(g: TestGateway, name: string): Promise<SliceView> {
  return until(`slice ${name} runs`, async () => {
    const view = await g.api.request<SliceView>('GET', `/api/v1/slices/${name}`);
    return view.state === 'running' ? view : undefined;
  }, 120_000, 500);
}

/**
 * Restarts `host` to die at `point`, then asks gw0 for slices of `slivers`
 * (deleting each that missed it) until one is placed while the host dies;
 * returns that slice's view.
 */
async function sliceThatKills(host: TestGateway, point: string, prefix: string, slivers: number): Promise<SliceView> {
  await host.stop();
  await host.start({ HEARTH_CRASH_POINT: point });
  await until(`${host.config.name} to be back in the community`, async () => {
    const rows = (await gw(0).api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
    return rows.find((r) => r.name === host.config.name)?.status === 'alive' ? true : undefined;
  }, 60_000);
  for (let attempt = 0; attempt < 12 && host.pid() !== undefined; attempt++) {
    const name = `${prefix}-${attempt}`;
    const view = await gw(0).api.request<SliceView>('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name, slivers, resources: { cpu: 0.25, memoryMb: 64 } }) });
    if (host.pid() === undefined) return view;
    await gw(0).api.request('DELETE', `/api/v1/slices/${name}`, { document: sign(SLICE_KINDS.delete, { name }) });
  }
  assert.fail(`${host.config.name} was never reached at ${point}`);
}

void describe(`slices on four gateways (${tag})`, () => {
  void test('two entry gateways placing at once onto the nearly full gateway never over-commit it', async () => {
    // Each slice needs a core on all four gateways; sd has one core, so at most one slice can have it.
    const [x, y] = await Promise.allSettled([
      gw(0).api.request<SliceView>('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'rush-x', slivers: 4, resources: { cpu: 1, memoryMb: 64 } }) }),
      gw(2).api.request<SliceView>('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'rush-y', slivers: 4, resources: { cpu: 1, memoryMb: 64 } }) }),
    ]);
    const placed = [x, y].filter((r) => r.status === 'fulfilled');
    assert.equal(placed.length, 1, 'sd holds a core of one of them, and the other finds no fourth gateway');
    for (const r of [x, y]) {
      if (r.status === 'rejected') assert.equal((r.reason as ApiProblem).problem.code, 'no_placement');
    }
    for (const g of gws) {
      const cpu = (await sliversOn(g)).reduce((sum, s) => sum + s.resources.cpu, 0);
      assert.ok(cpu <= g.config.contribution.cpu, `${g.config.name} holds ${cpu} of ${g.config.contribution.cpu} cores`);
      assert.deepEqual(leasesOn(g), [], `${g.config.name} kept no lease`);
    }
    // A slice is whole or absent, never half-placed.
    for (const name of ['rush-x', 'rush-y']) {
      const count = (await Promise.all(gws.map(sliversOn))).flat().filter((s) => s.slice === name).length;
      assert.ok(count === 0 || count === 4, `${name} has ${count} slivers`);
      if (count === 4) {
        await running(gw(1), name);
        await gw(1).api.request('DELETE', `/api/v1/slices/${name}`, { document: sign(SLICE_KINDS.delete, { name }) });
      }
    }
    await until('the placed rush slice to be gone', async () => ((await Promise.all(gws.map(sliversOn))).flat().length === 0 ? true : undefined), 60_000, 500);
    // The next story places by the tags: wait until every gateway's tags say it is empty again, everywhere.
    await everyGatewaySees('every gateway empty again', (r) => r.free !== null && r.contributed !== null && r.free.cpu === r.contributed.cpu, 30_000);
  });

  void test('a user asks one gateway for three slivers: they run on three gateways, and any gateway shows them', async () => {
    writeFileSync(keyFile, alice.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const sshKey = `${userKeyOf(alice).ssh} alice@home`;
    writeFileSync(`${keyFile}.ssh.pub`, `${sshKey}\n`);
    const { command, args } = cliEntry();
    const out = await run(command, [...args, '--data-dir', gw(1).dataDir, 'slice', 'create', 'web', '--slivers', '3', '--cpu', '0.5', '--memory', '64',
      '--ssh-key', `${keyFile}.ssh.pub`, '--key', keyFile, '--json']);
    const created = JSON.parse(out.stdout) as SliceView;
    assert.equal(created.state, 'running');
    assert.equal(created.user, userKeyOf(alice).id);
    const hosts = created.slivers.map((s) => s.gateway);
    assert.equal(new Set(hosts).size, 3, `three different gateways: ${hosts.join(', ')}`);
    assert.deepEqual(created.slivers.map((s) => s.name), ['web-0', 'web-1', 'web-2']);

    const fromD = await gw(3).api.request<SliceView>('GET', '/api/v1/slices/web');
    assert.deepEqual(fromD.slivers.map((s) => [s.gateway, s.observed]), created.slivers.map((s) => [s.gateway, 'running']));
    for (const s of created.slivers) {
      const host = gws.find((g) => g.config.name === s.gateway);
      assert.ok(host !== undefined);
      const local = (await sliversOn(host)).find((x) => x.name === s.name);
      assert.equal(local?.observed, 'running', `${s.name} runs as a sliver of ${s.gateway}`);
      const keys = await until(`the ssh key in ${s.name}`, async () => {
        const r = await host.api.request<{ exitCode: number; stdout: string }>('POST', `/api/v1/slivers/${s.name}/exec`, { command: ['cat', '/root/.ssh/authorized_keys'] });
        return r.exitCode === 0 ? r.stdout : undefined;
      }, 30_000, 500);
      assert.equal(keys, `${sshKey}\n`);
    }
  });

  void test('the user renews the slice through another gateway; every host moves its expiry', async () => {
    const { command, args } = cliEntry();
    const asked = Math.floor(Date.now() / 1000);
    const out = await run(command, [...args, '--data-dir', gw(2).dataDir, 'slice', 'renew', 'web', '--lifetime', '30d', '--key', keyFile, '--json']);
    const view = JSON.parse(out.stdout) as SliceView;
    const expires = Date.parse(view.expiresAt) / 1000;
    assert.ok(expires >= asked + 30 * 86400 && expires <= asked + 30 * 86400 + 60, view.expiresAt);
    for (const s of view.slivers) {
      const host = gws.find((g) => g.config.name === s.gateway) as TestGateway;
      const db = new Database(join(host.dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT expires_at FROM slices WHERE name = 'web'").get() as { expires_at: number };
        assert.equal(row.expires_at, expires, `${host.config.name} keeps the new expiry`);
      } finally {
        db.close();
      }
    }
  });

  void test('the user grows a slice from two slivers to three through another gateway: the third runs on a third gateway, seen from every gateway', async () => {
    const created = await gw(0).api.request<SliceView>('POST', '/api/v1/slices', {
      document: sign(SLICE_KINDS.create, { name: 'elastic', slivers: 2, resources: { cpu: 0.25, memoryMb: 64 } }),
    });
    await running(gw(0), 'elastic');
    const { command, args } = cliEntry();
    const out = await run(command, [...args, '--data-dir', gw(2).dataDir, 'slice', 'resize', 'elastic', '--slivers', '3', '--key', keyFile, '--json']);
    const grown = JSON.parse(out.stdout) as SliceView;
    assert.equal(grown.state, 'running');
    assert.equal(grown.spec.slivers, 3);
    assert.deepEqual(grown.slivers.map((s) => s.name), ['elastic-0', 'elastic-1', 'elastic-2']);
    assert.equal(new Set(grown.slivers.map((s) => s.gateway)).size, 3, `three gateways: ${grown.slivers.map((s) => s.gateway).join(', ')}`);
    assert.deepEqual(grown.slivers.slice(0, 2).map((s) => s.gateway), created.slivers.map((s) => s.gateway), 'the first two stay where they were');
    for (const g of gws) {
      const view = await g.api.request<SliceView>('GET', '/api/v1/slices/elastic');
      assert.deepEqual(view.slivers.map((s) => [s.gateway, s.observed]), grown.slivers.map((s) => [s.gateway, 'running']), `as ${g.config.name} sees it`);
      assert.equal(view.spec.slivers, 3);
    }
    const placement = Object.fromEntries(grown.slivers.map((s) => [String(s.index), s.gateway]));
    await until('every host of elastic to record the resize and the placement of three', async () =>
      (grown.slivers.every((s) => {
        const r = recordOn(named(s.gateway), 'elastic');
        return r?.resized === 3 && JSON.stringify(r.placement) === JSON.stringify(placement);
      }) ? true : undefined), 30_000, 500);
    for (const g of gws) assert.deepEqual(leasesOn(g), [], `${g.config.name} kept no lease`);
  });

  void test('the user shrinks it to one while a host of it is away: the slivers above one go everywhere, on that host too once it is back', async () => {
    const before = await running(gw(0), 'elastic');
    const away = named(before.slivers[2]?.gateway);
    const entry = gws.find((g) => g !== away) as TestGateway;
    await away.stop();
    // The others see it leave and place its sliver again; the slice runs three without it.
    await until('elastic to run three slivers without the gateway that left', async () => {
      const v = await entry.api.request<SliceView>('GET', '/api/v1/slices/elastic');
      return v.state === 'running' && !v.slivers.some((s) => s.gateway === away.config.name) ? v : undefined;
    }, 90_000, 1000);
    const shrunk = await entry.api.request<SliceView>('POST', '/api/v1/slices/elastic/resize', { document: sign(SLICE_KINDS.resize, { slice: 'elastic', slivers: 1 }) });
    assert.equal(shrunk.spec.slivers, 1);
    const keptOn = shrunk.slivers[0]?.gateway;
    assert.deepEqual(shrunk.slivers.map((s) => [s.index, s.name]), [[0, 'elastic-0']]);
    assert.equal(keptOn, before.slivers[0]?.gateway, 'index 0 stays where it was');
    // The away gateway still has the index it had, and its record of three.
    assert.equal(recordOn(away, 'elastic')?.resized, 3);

    await away.start();
    await until('exactly one sliver of elastic on the four gateways, none on the one that was away', async () => {
      const left = (await Promise.all(gws.map(sliversOn))).flat().filter((x) => x.slice === 'elastic');
      return left.length === 1 && left[0]?.name === 'elastic-0' ? true : undefined;
    }, 90_000, 1000);
    assert.equal((await sliversOn(named(keptOn))).find((x) => x.slice === 'elastic')?.observed, 'running');
    for (const g of gws) {
      const view = await until(`${g.config.name} to show elastic with one sliver`, async () => {
        const v = await g.api.request<SliceView>('GET', '/api/v1/slices/elastic');
        return v.state === 'running' ? v : undefined;
      }, 30_000, 500);
      assert.deepEqual(view.slivers.map((x) => [x.index, x.gateway]), [[0, keptOn]], `as ${g.config.name} sees it`);
      assert.equal(view.spec.slivers, 1);
    }
    // Every gateway that held a sliver above one removed it saying why, the one that was away included.
    const retiredOn = (g: TestGateway): number => query<{ detail: string }>(g, "SELECT detail FROM events WHERE type = 'slice.sliver-resized'")
      .filter((e) => (JSON.parse(e.detail) as { slice: string }).slice === 'elastic').length;
    assert.equal(retiredOn(away), 1, `${away.config.name} removed its sliver when it learnt of the resize`);
    assert.equal(retiredOn(named(before.slivers[1]?.gateway)), 1);
    await until('every holder of elastic to record the resize and the placement of one', async () =>
      (gws.every((g) => {
        const r = recordOn(g, 'elastic');
        return r === undefined || (r.resized === 1 && JSON.stringify(r.placement) === JSON.stringify({ 0: keptOn }));
      }) ? true : undefined), 30_000, 500);
    for (const g of gws) {
      await until(`${g.config.name} to see four alive gateways again`, async () => {
        const rows = (await g.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
        return rows.filter((r) => r.status === 'alive' && r.free !== null).length === 4 ? true : undefined;
      }, 60_000);
    }
  });

  void test('a grow the community cannot place is refused with no_placement: the slice keeps its size, and no lease or sliver is left', async () => {
    const one = await running(gw(0), 'elastic');
    const keptOn = one.slivers[0]?.gateway;
    const atOne = async (): Promise<void> => {
      for (const g of gws) {
        assert.deepEqual(leasesOn(g).filter((l) => l.slice === 'elastic'), [], `${g.config.name} holds no lease of elastic`);
        const view = await g.api.request<SliceView>('GET', '/api/v1/slices/elastic');
        assert.equal(view.spec.slivers, 1, `as ${g.config.name} sees it`);
        assert.deepEqual(view.slivers.map((x) => [x.gateway, x.observed]), [[keptOn, 'running']]);
      }
      assert.deepEqual((await Promise.all(gws.map(sliversOn))).flat().filter((x) => x.slice === 'elastic').map((x) => x.name), ['elastic-0']);
      assert.equal(recordOn(named(keptOn), 'elastic')?.resized, 1, 'the host keeps the resize it had');
    };

    // Four more slivers need four more gateways; three are left.
    const five = await refusal(gw(1).api.request('POST', '/api/v1/slices/elastic/resize', { document: sign(SLICE_KINDS.resize, { slice: 'elastic', slivers: 5 }) }));
    assert.equal(five.code, 'no_placement');
    assert.match(five.detail, /4 slivers/);
    await atOne();

    // Three more fit the three other gateways by their tags, but one of them refuses alice (its owner's allowlist):
    // the other two were leased, and the entry gateway let them go.
    const refuser = gws.find((g) => g.config.name !== keptOn) as TestGateway;
    const policy = await refuser.api.request<{ users: Record<string, unknown> }>('GET', '/api/v1/node/policy');
    await refuser.api.request('PUT', '/api/v1/node/policy', { ...policy, users: { quota: null, allow: [`SHA256:${'A'.repeat(43)}`] } });
    try {
      const four = await refusal(gw(1).api.request('POST', '/api/v1/slices/elastic/resize', { document: sign(SLICE_KINDS.resize, { slice: 'elastic', slivers: 4 }) }));
      assert.equal(four.code, 'no_placement');
      assert.match(four.detail, new RegExp(`${refuser.config.name}: forbidden`));
    } finally {
      await refuser.api.request('PUT', '/api/v1/node/policy', policy);
    }
    await atOne();

    await gw(0).api.request('DELETE', '/api/v1/slices/elastic', { document: sign(SLICE_KINDS.delete, { name: 'elastic' }) });
    await until('elastic to be gone', async () => ((await Promise.all(gws.map(sliversOn))).flat().some((x) => x.slice === 'elastic') ? undefined : true), 60_000, 500);
  });

  void test('a slice asking for more slivers than there are gateways, or more than any gateway has, is refused and leaves nothing', async () => {

    const tooMany = await refusal(gw(2).api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'many', slivers: 5 }) }));
    assert.equal(tooMany.code, 'no_placement');
    assert.match(tooMany.detail, /5 slivers/);
    await nothingOf('many');

    const tooBig = await refusal(gw(2).api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'big', slivers: 2, resources: { cpu: 3 } }) }));
    assert.equal(tooBig.code, 'no_placement');
    await nothingOf('big');

    const again = await refusal(gw(0).api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'web' }) }));
    assert.equal(again.code, 'slice_exists', 'the same user cannot make a second slice of the same name');
  });

  void test('an entry gateway that dies with every sliver leased leaks nothing: the leases lapse on every host', async () => {
    const entry = gw(3);
    await entry.stop();
    await entry.start({ HEARTH_CRASH_POINT: 'slice:reserved' });
    // It places from its own view, and a host answers only a caller it sees alive: wait until every
    // gateway sees it back (a host that still has it as left refuses it), and it sees the others' resources.
    await everyGatewaySees('four alive gateways with sd back', (r) => r.status === 'alive' && r.free !== null, 60_000);
    const died = await entry.api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'orphan', slivers: 2, resources: { memoryMb: 64 } }) })
      .then(() => 'it answered', (err: unknown) => (err instanceof ApiProblem ? `it refused: ${err.problem.code}: ${err.problem.detail}` : undefined));
    assert.equal(died, undefined, 'the request ends with the entry gateway, not with an answer');
    assert.equal(await entry.exited(), 'SIGKILL');
    const held = gws.flatMap((g) => leasesOn(g).filter((l) => l.slice === 'orphan'));
    assert.deepEqual(held.map((l) => l.holder), [entry.config.name, entry.config.name], 'both slivers were leased when the entry gateway died');
    // The box comes back (as after a power cut); its own leases lapse like the others'.
    await entry.start();
    await until('every lease of the dead entry gateway to lapse', async () => (gws.every((g) => leasesOn(g).length === 0) ? true : undefined), 60_000, 1000);
    await nothingOf('orphan');
  });

  void test('a host that dies while it reserves: the slice is placed on the others, and its lease lapses when it is back', async () => {
    const host = gw(2);
    // Three of four gateways are picked at random: ask until the host is one of them (it dies on its first reservation).
    const placed = await sliceThatKills(host, 'slice:leased', 'dies', 3);
    assert.equal(await host.exited(), 'SIGKILL');
    assert.equal(new Set(placed.slivers.map((s) => s.gateway)).size, 3);
    assert.ok(!placed.slivers.some((s) => s.gateway === host.config.name), 'placed around the dead host');
    await running(gw(0), placed.name);
    assert.equal(leasesOn(host).length, 1, 'the dead host wrote its lease before it died');
    await host.start();
    await until(`${host.config.name}'s lease to lapse`, async () => (leasesOn(host).length === 0 ? true : undefined), 60_000, 1000);
    await gw(0).api.request('DELETE', `/api/v1/slices/${placed.name}`, { document: sign(SLICE_KINDS.delete, { name: placed.name }) });
    await until('the slices of this story to be gone', async () =>
      ((await Promise.all(gws.map(sliversOn))).flat().some((s) => s.slice.startsWith('dies-')) ? undefined : true), 60_000, 500);
  });

  void test('a host that dies when asked to commit: its sliver is placed on another gateway under the next version', async () => {
    const host = gw(2);
    // Two of four gateways are picked at random: ask until the host is one of them (it dies on its first commit).
    const placed = await sliceThatKills(host, 'slice:committing', 'commit', 2);
    assert.equal(await host.exited(), 'SIGKILL');
    assert.ok(placed.version >= 2, `placed again under a newer version (${placed.version})`);
    const name = placed.name;
    const settled = await until(`${name} to run on two gateways without ${host.config.name}`, async () => {
      const v = await gw(1).api.request<SliceView>('GET', `/api/v1/slices/${name}`);
      return v.state === 'running' && !v.slivers.some((s) => s.gateway === host.config.name) ? v : undefined;
    }, 90_000, 500);
    assert.equal(new Set(settled.slivers.map((s) => s.gateway)).size, 2);
    await host.start();
    await until(`${host.config.name}'s lease to lapse`, async () => (leasesOn(host).length === 0 ? true : undefined), 60_000, 1000);
    assert.deepEqual((await sliversOn(host)).filter((s) => s.slice === name), [], 'the host never made the sliver it did not commit');
    await until(`exactly two slivers of ${name}`, async () =>
      ((await Promise.all(gws.map(sliversOn))).flat().filter((s) => s.slice === name && s.desired === 'running').length === 2 ? true : undefined), 60_000, 500);
    await gw(0).api.request('DELETE', `/api/v1/slices/${name}`, { document: sign(SLICE_KINDS.delete, { name }) });
    await until('the slices of this story to be gone', async () =>
      ((await Promise.all(gws.map(sliversOn))).flat().some((s) => s.slice.startsWith('commit-')) ? undefined : true), 60_000, 500);
  });

  void test("the owner drains a gateway: its slice's sliver moves to another gateway, and it takes nothing new", async () => {
    const before = await running(gw(0), 'web');
    const drained = gws.find((g) => before.slivers.some((s) => s.gateway === g.config.name)) as TestGateway;
    const { command, args } = cliEntry();
    const out = await run(command, [...args, '--data-dir', drained.dataDir, 'node', 'mode', 'drain', '--json']);
    assert.equal((JSON.parse(out.stdout) as { mode: string }).mode, 'drain');
    const moved = await until(`web to run without ${drained.config.name}`, async () => {
      const v = await gw(0).api.request<SliceView>('GET', '/api/v1/slices/web');
      return v.state === 'running' && !v.slivers.some((s) => s.gateway === drained.config.name) ? v : undefined;
    }, 90_000, 1000);
    assert.equal(new Set(moved.slivers.map((s) => s.gateway)).size, 3);
    await until(`${drained.config.name} to remove its sliver of web`, async () =>
      ((await sliversOn(drained)).some((s) => s.slice === 'web') ? undefined : true), 60_000, 500);
    // Placement sees the mode in its tags: three gateways are left for a slice, not four.
    const four = await refusal(gw(0).api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'four', slivers: 4, resources: { cpu: 0.25, memoryMb: 64 } }) }));
    assert.equal(four.code, 'no_placement');
    await nothingOf('four');
    await run(command, [...args, '--data-dir', drained.dataDir, 'node', 'mode', 'production']);
  });

  void test('a slice expires while one of its hosts is down: the others remove their slivers, and that one when it returns', async () => {
    const view = await gw(0).api.request<SliceView>('POST', '/api/v1/slices', {
      document: sign(SLICE_KINDS.create, { name: 'brief', slivers: 2, lifetimeSec: 60, resources: { cpu: 0.25, memoryMb: 64 } }),
    });
    const hosts = view.slivers.map((s) => gws.find((g) => g.config.name === s.gateway) as TestGateway);
    const [away, staying] = hosts as [TestGateway, TestGateway];
    const kept = (await sliversOn(away)).find((s) => s.slice === 'brief') as Sliver;
    await away.stop();
    await until(`${staying.config.name} to remove its sliver of the expired slice`, async () =>
      ((await sliversOn(staying)).some((s) => s.slice === 'brief') ? undefined : true), 120_000, 1000);
    await away.start();
    await until(`${away.config.name}, back, to remove its sliver too`, async () =>
      ((await sliversOn(away)).some((s) => s.slice === 'brief') ? undefined : true), 60_000, 500);
    // The sliver is gone from the API; its events stay in the store.
    const db = new Database(join(away.dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
    try {
      const types = (db.prepare('SELECT type FROM events WHERE sliver_id = ?').all(kept.id) as { type: string }[]).map((e) => e.type);
      assert.ok(types.includes('slice.sliver-expired'), `an event says why: ${types.join(', ')}`);
    } finally {
      db.close();
    }
  });

  void test('zones the owners set spread a slice: one sliver a zone, and no more slivers than zones', async () => {
    const zones = ['north', 'north', 'south', 'south'];
    await Promise.all(gws.map(async (g, i) => {
      const policy = await g.api.request<Record<string, unknown>>('GET', '/api/v1/node/policy');
      await g.api.request('PUT', '/api/v1/node/policy', { ...policy, zone: zones[i] });
    }));
    await until('every gateway to see every zone in the tags', async () => {
      for (const g of gws) {
        const rows = (await g.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
        if (gws.some((x, i) => rows.find((r) => r.name === x.config.name)?.zone !== zones[i])) return undefined;
      }
      return true;
    }, 30_000, 500);
    const three = await refusal(gw(0).api.request('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'probe', slivers: 3, spread: 'zones', resources: { cpu: 0.25, memoryMb: 64 } }) }));
    assert.equal(three.code, 'no_placement', 'two zones take two slivers of a slice');
    await nothingOf('probe');
    const view = await gw(1).api.request<SliceView>('POST', '/api/v1/slices', { document: sign(SLICE_KINDS.create, { name: 'zoned', slivers: 2, spread: 'zones', resources: { cpu: 0.25, memoryMb: 64 } }) });
    const zoneOf = (gateway: string | null): string | undefined => zones[gws.findIndex((g) => g.config.name === gateway)];
    assert.deepEqual(view.slivers.map((s) => zoneOf(s.gateway)).sort(), ['north', 'south']);
    await gw(1).api.request('DELETE', '/api/v1/slices/zoned', { document: sign(SLICE_KINDS.delete, { name: 'zoned' }) });
    await Promise.all(gws.map(async (g) => {
      const policy = await g.api.request<Record<string, unknown>>('GET', '/api/v1/node/policy');
      await g.api.request('PUT', '/api/v1/node/policy', { ...policy, zone: null });
    }));
  });

  void test('a sliver that fails for good on its live gateway is placed on another one, and the failed one removed', async () => {
    const before = await running(gw(0), 'web');
    const host = gws.find((g) => g.config.name === before.slivers[0]?.gateway) as TestGateway;
    const spare = gws.find((g) => !before.slivers.some((s) => s.gateway === g.config.name)) as TestGateway;
    const broken = (await sliversOn(host)).find((s) => s.slice === 'web') as Sliver;
    // The container stops and its config no longer loads: every start the reconciler tries fails, until it gives up.
    const lxcPath = join(host.dataDir, 'containers');
    await run('lxc-stop', ['-P', lxcPath, '-n', containerName(broken.id), '-k']);
    appendFileSync(join(lxcPath, containerName(broken.id), 'config'), 'lxc.no.such.key = 1\n');
    await until(`${broken.name} on ${host.config.name} to fail for good`, async () =>
      ((await sliversOn(host)).find((s) => s.id === broken.id)?.observed === 'failed' ? true : undefined), 90_000, 500);
    const healed = await until(`web to run on ${spare.config.name} instead of ${host.config.name}`, async () => {
      const v = await gw(3).api.request<SliceView>('GET', '/api/v1/slices/web');
      return v.state === 'running' && v.slivers.some((s) => s.gateway === spare.config.name) && !v.slivers.some((s) => s.gateway === host.config.name) ? v : undefined;
    }, 90_000, 1000);
    assert.equal(new Set(healed.slivers.map((s) => s.gateway)).size, 3, 'still three gateways');
    assert.equal(healed.slivers.find((s) => s.gateway === spare.config.name)?.name, broken.name, 'the same index, now on the spare gateway');
    // Its healing history: each gateway that held the slice logs the move, the healer when it heals, the others when they learn it.
    const index = before.slivers.find((s) => s.gateway === host.config.name)?.index;
    for (const g of gws.filter((x) => before.slivers.some((s) => s.gateway === x.config.name))) {
      await until(`${g.config.name} to log the move of sliver ${String(index)}`, async () => (
        query<{ detail: string }>(g, "SELECT detail FROM events WHERE type = 'slice.sliver-moved' AND sliver_id IS NULL")
          .map((e) => JSON.parse(e.detail) as Record<string, unknown>)
          .some((d) => d['slice'] === 'web' && d['index'] === index && d['from'] === host.config.name && d['to'] === spare.config.name) ? true : undefined
      ), 30_000, 500);
    }
    await until(`${host.config.name} to remove its failed sliver`, async () =>
      ((await sliversOn(host)).some((s) => s.slice === 'web') ? undefined : true), 60_000, 500);
  });

  void test('a delete signed by the user, sent through another gateway, removes the slice everywhere', async () => {
    const mallory = generateKeyPairSync('ed25519').privateKey;
    const notHers = await refusal(gw(2).api.request('DELETE', '/api/v1/slices/web', { document: sign(SLICE_KINDS.delete, { name: 'web' }, mallory) }));
    assert.equal(notHers.code, 'slice_not_found', 'another user cannot delete it: it is not theirs');

    const view = await gw(2).api.request<SliceView>('DELETE', '/api/v1/slices/web', { document: sign(SLICE_KINDS.delete, { name: 'web' }) });
    assert.equal(view.state, 'deleted');
    await until('every sliver of web to be gone', async () => {
      const left = (await Promise.all(gws.map(sliversOn))).flat().filter((s) => s.slice === 'web');
      return left.length === 0 ? true : undefined;
    }, 60_000, 500);
    const { items } = await gw(0).api.request<{ items: SliceView[] }>('GET', '/api/v1/slices');
    assert.deepEqual(items.map((s) => s.name), []);
  });
});
