// A slice lives through the failures of a community, on a testbed of five
// gateways (namespaces, the link emulator, real agents, real Serf, real LXC),
// driven with the real CLI as a user and an operator would. The story:
// a user makes a slice of three from gw1 → a second slice of one name, asked
// of another gateway at once, is slice_exists (the name's homes already
// know), and the name is free again at once once deleted → a gateway that hosts one is
// killed: another runs its sliver → it comes back: its extra goes, exactly
// three → the network splits with the slice's slivers on both sides: each
// side heals what it lost → the split heals: exactly two again, on the
// placement every gateway agrees on → the user renews a slice while one of
// its hosts is down: it learns the signed renewal when it returns → the user
// deletes it while one of its hosts is down: when that host returns it learns
// of the signed delete and removes its sliver → the network splits while a
// slice is being placed: once healed, it is whole or absent, nothing leaked.
// A user signs in to gw1's portal (Debian's chromium) with their key and makes
// a slice of two through the Slices page's form: it shows on two gateways.
// While the host is killed, the portal of a gateway that holds the slice is
// open: the page turns the host failed, shows the slice healed, live, and
// its healing history the move, read from the gateway's log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { openBridge, type Bridge } from '../../../src/cli/demo.js';
import { freePort } from '../../support/ports.js';
import { CHROMIUM, CHROMIUM_ARGS, closeOrKill, reportPageDeath } from '../../support/chromium.js';
import { eventually } from '../../support/testbed.js';
import { testbedUp } from '../../../src/testbed/controller.js';
import { testbedDown } from '../../../src/testbed/controller-down.js';
import { testbedHeal, testbedKill, testbedPartition, testbedRestart } from '../../../src/testbed/controller-ops.js';
import { runHearth } from '../../../src/testbed/gateway-process.js';
import { memberOf, readTestbedState, type TestbedState } from '../../../src/testbed/state.js';
import type { SliceView } from '../../../src/model/slice.js';
import type { Sliver } from '../../../src/api/schemas.js';

// HEARTH_TESTBED_PREFIX sets it, so that engineers sharing a machine each keep their own.
const prefix = process.env['HEARTH_TESTBED_PREFIX'] ?? `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
const root = mkdtempSync(join(tmpdir(), 'testbed-slices-'));
// The gateways' containers live below; their unprivileged root must be able to traverse it.
chmodSync(root, 0o755);
const dir = join(root, 'tb');
const keyFile = join(root, 'alice');
let state: TestbedState;
const GATEWAYS = [1, 2, 3, 4, 5];

const gw = (n: number): TestbedState['members'][number] => memberOf(state, n);
const number = (name: string): number => Number(name.replace(/^gw/, ''));

async function show(n: number, slice: string): Promise<SliceView> {
  return JSON.parse(await runHearth(gw(n), ['slice', 'show', slice, '--json'])) as SliceView;
}

/** Every live sliver of `slice` on every gateway that answers, as [gateway, index name]. */
async function census(slice: string, gateways: readonly number[] = GATEWAYS): Promise<string[]> {
  const rows: string[] = [];
  for (const n of gateways) {
    const items = JSON.parse(await runHearth(gw(n), ['sliver', 'ls', '--json'])) as Sliver[];
    for (const s of items) if (s.slice === slice && s.desired !== 'gone') rows.push(`gw${n}:${s.name}`);
  }
  return rows.sort();
}

/** How many leases a gateway's database holds now. */
function leasesOn(n: number): number {
  const db = new Database(join(gw(n).dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The expiry a gateway's own record of the slice holds (read beside the running agent). */
function expiryOn(n: number, slice: string): number | undefined {
  const db = new Database(join(gw(n).dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT expires_at FROM slices WHERE name = ?').get(slice) as { expires_at: number } | undefined)?.expires_at;
  } finally {
    db.close();
  }
}

/** One chromium for every story that opens a portal; each opens its own context (a fresh tab's storage). */
let browser: Browser | undefined;

/**
 * Gateway `n`'s portal in headless chromium, through the bridge `hearth demo`
 * uses, signed in as its owner, or as the user whose key is in `userKey`.
 */
async function openPortal(n: number, userKey?: string): Promise<{ page: Page; close(): Promise<void> }> {
  const stop = new AbortController();
  let bridge: Bridge | undefined;
  let context: BrowserContext | undefined;
  const close = async (): Promise<void> => {
    if (!(await closeOrKill(context, `the context of gw${n}'s portal`))) browser = undefined;
    await bridge?.close();
    stop.abort();
  };
  try {
    bridge = await openBridge(gw(n), root, stop.signal);
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
    context = await browser.newContext();
    const page = await context.newPage();
    reportPageDeath(page, `gw${n}'s portal`);
    await page.goto(`${bridge.url}/#/community`, { timeout: 60_000 });
    if (userKey === undefined) {
      await page.getByLabel('Owner token').fill(readFileSync(bridge.tokenFile, 'utf8').trim());
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    } else {
      await page.getByLabel('Private key').fill(readFileSync(userKey, 'utf8'));
      await page.getByRole('button', { name: 'Sign in with my key' }).click();
    }
    await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor({ timeout: 30_000 });
    return { page, close };
  } catch (err) {
    await close();
    throw err;
  }
}

// The page's side runs in the browser: written as source text (this file is compiled without the DOM's types).

/** The community table's status of gateway `name`, as the page shows it. */
const statusInPage = (page: Page, name: string): Promise<string | null> => page.evaluate(`(() => {
  const row = [...document.querySelectorAll('table tbody tr')].find((r) => r.querySelector('th')?.textContent?.startsWith(${JSON.stringify(name)}));
  return row?.querySelector('.badge')?.textContent ?? null;
})()`);

/** Each sliver of `slice` as the slices page lists it: "gateway state". */
const sliversInPage = (page: Page, slice: string): Promise<string[]> => page.evaluate(`(() => {
  const card = document.querySelector('article[aria-label=' + JSON.stringify('Slice ' + ${JSON.stringify(slice)}) + ']');
  return [...(card?.querySelectorAll('tbody tr') ?? [])].map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((c) => c.textContent.trim()).join(' '));
})()`);

const hostsOf = (v: SliceView): string[] => v.slivers.map((s) => s.gateway ?? '-');
const runningOn = (v: SliceView, avoid: readonly string[] = []): boolean =>
  v.state === 'running' && new Set(hostsOf(v)).size === v.spec.slivers && !hostsOf(v).some((g) => avoid.includes(g));

void describe(`slices on a testbed of five (prefix ${prefix})`, () => {
  before(async () => {
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    const result = await testbedUp({
      gateways: GATEWAYS.length, dir, prefix, seed: 11, port: await freePort(),
      underlay: { network: `172.28.${randomInt(256)}.0`, prefixLength: 24 },
      progress: () => undefined,
    });
    state = result.state;
  });

  after(async () => {
    await closeOrKill(browser, 'chromium');
    await testbedDown({ dir });
    rmSync(root, { recursive: true, force: true });
  });

  void test('a user asks gw1 for a slice of three; it runs on three gateways', async () => {
    const out = await runHearth(gw(1), ['slice', 'create', 'heal', '--slivers', '3', '--memory', '64', '--key', keyFile, '--json']);
    const view = JSON.parse(out) as SliceView;
    assert.ok(runningOn(view), JSON.stringify(view.slivers));
    assert.equal((await census('heal')).length, 3);
  });

  void test("a second slice of the same name, asked of another gateway at once, is slice_exists; once deleted, the name is free at once", async () => {
    const create = (n: number): Promise<string> => runHearth(gw(n), ['slice', 'create', 'twin', '--slivers', '1', '--memory', '64', '--key', keyFile, '--json']);
    await create(2);
    // The name's homes heard from the holder before its commit was answered: no round to wait for.
    await assert.rejects(create(5), /slice_exists/);
    await runHearth(gw(3), ['slice', 'rm', 'twin', '--key', keyFile]);
    const again = JSON.parse(await create(4)) as SliceView;
    assert.equal(again.spec.slivers, 1);
    await runHearth(gw(1), ['slice', 'rm', 'twin', '--key', keyFile]);
    await eventually('the twin slice to be gone', 60, () => census('twin'), (r) => r.length === 0);
  });

  void test("a user signs in to gw1's portal with their key and makes a slice of two with the plain form: the page shows it on two gateways, as the API does", async () => {
    const portal = await openPortal(1, keyFile);
    try {
      const { page } = portal;
      await page.getByRole('link', { name: 'Slices', exact: true }).click();
      await page.getByLabel('Slice name').fill('form');
      await page.getByLabel('Slivers', { exact: true }).fill('2');
      await page.getByLabel('Slice CPU (cores)').fill('0.1');
      await page.getByLabel('Slice memory (MB)').fill('64');
      await page.getByLabel('Slice disk (MB)').fill('64');
      assert.equal(await page.getByLabel('Spread').inputValue(), 'gateways');
      await page.getByRole('button', { name: 'Create slice' }).click();
      await page.getByRole('status').filter({ hasText: 'Slice form placed' }).waitFor({ timeout: 60_000 });
      const card = page.getByRole('article', { name: 'Slice form' });
      await card.getByText('2 of 2 slivers running').waitFor({ timeout: 90_000 });
      const rows = await sliversInPage(page, 'form');
      const gateways = rows.map((r) => r.split(' ')[0] ?? '');
      assert.deepEqual(rows.map((r) => r.split(' ')[1]), ['running', 'running'], rows.join(' | '));
      assert.equal(new Set(gateways).size, 2, `two distinct gateways: ${rows.join(' | ')}`);
      // The gateway's API, asked by the CLI, places it where the page says.
      const view = await show(1, 'form');
      assert.deepEqual(hostsOf(view), gateways);
      assert.ok(runningOn(view), JSON.stringify(view.slivers));
      assert.deepEqual((await census('form')).map((r) => r.split(':')[0]).sort(), [...gateways].sort());
    } finally {
      await portal.close();
    }
    await runHearth(gw(1), ['slice', 'rm', 'form', '--key', keyFile]);
    await eventually('the slivers of form to go', 60, () => census('form'), (r) => r.length === 0);
  });

  void test('a host is killed: its sliver runs again on another gateway; it comes back and removes its extra', async () => {
    const before = await show(1, 'heal');
    // Kill a host other than gw1, so gw1 keeps answering the user.
    const victim = number(hostsOf(before).find((g) => g !== 'gw1') ?? 'gw2');
    // The portal of a host that stays: a holder of the slice logs the move, so its page can show it.
    const keeper = number(hostsOf(before).find((g) => g === 'gw1') ?? hostsOf(before).find((g) => g !== `gw${victim}`) ?? 'gw1');
    const portal = await openPortal(keeper);
    try {
      const { page } = portal;
      await eventually('the portal to show every gateway alive', 60, async () => Promise.all(GATEWAYS.map((n) => statusInPage(page, `gw${n}`))), (s) => s.every((x) => x === 'alive'));
      await testbedKill(`gw${victim}`, { dir });
      await eventually(`the portal to show gw${victim} failed`, 90, () => statusInPage(page, `gw${victim}`), (s) => s === 'failed');
      const healed = await eventually(`the slice to run without gw${victim}`, 90, () => show(1, 'heal'), (v) => runningOn(v, [`gw${victim}`]));
      assert.equal(healed.version, before.version + 1, 'the healer made the next placement');
      // The slices page re-reads on its own: the healed placement appears without a reload.
      await page.getByRole('link', { name: 'Slices', exact: true }).click();
      const wanted = hostsOf(healed).map((g) => `${g} running`).sort();
      await eventually('the slices page to show the healed placement', 30, async () => (await sliversInPage(page, 'heal')).sort(), (rows) => JSON.stringify(rows) === JSON.stringify(wanted));
      // Its healing history: the move this gateway logged, as GET /api/v1/slices/heal/events gives it to the page.
      const index = before.slivers.find((s) => s.gateway === `gw${victim}`)?.index ?? -1;
      const to = healed.slivers.find((s) => s.index === index)?.gateway ?? '-';
      const card = page.getByRole('article', { name: 'Slice heal' });
      const toggle = card.getByRole('button', { name: /healing history of heal$/ });
      const move = card.locator('.history li', { hasText: `sliver ${index} moved from gw${victim} to ${to}` });
      await toggle.click();
      await move.waitFor({ timeout: 30_000 });
      // Closed and opened again, the page reads it afresh from the gateway's log.
      await toggle.click();
      const read = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/slices/heal/events');
      await toggle.click();
      const answer = await (await read).json() as { items: { type: string; detail: Record<string, unknown> }[] };
      assert.ok(answer.items.some((e) => e.type === 'slice.sliver-moved' && e.detail['index'] === index && e.detail['from'] === `gw${victim}` && e.detail['to'] === to),
        JSON.stringify(answer.items));
      await move.waitFor();
      assert.match(await move.innerText(), new RegExp(`version ${healed.version}: sliver ${index} moved from gw${victim} to ${to}$`));
    } finally {
      await portal.close();
    }

    await testbedRestart(`gw${victim}`, { dir });
    state = readTestbedState(dir) ?? state;
    const rows = await eventually('exactly three slivers again', 90, () => census('heal'), (r) => r.length === 3);
    assert.ok(!rows.some((r) => r.startsWith(`gw${victim}:`)), `gw${victim} removed its extra: ${rows.join(' ')}`);
    assert.ok(runningOn(await show(victim, 'heal')), 'the returned gateway agrees on the placement');
  });

  void test('a partition with the slice on both sides: each side heals; once healed, exactly N on the agreed placement', async () => {
    const out = await runHearth(gw(2), ['slice', 'create', 'split', '--slivers', '2', '--memory', '64', '--key', keyFile, '--json']);
    const [a, b] = hostsOf(JSON.parse(out) as SliceView).map(number) as [number, number];
    // Three gateways with a, two with b: each side has a free gateway for the sliver it lost.
    const others = GATEWAYS.filter((n) => n !== a && n !== b);
    const sideA = [a, others[0], others[1]] as number[];
    const sideB = [b, others[2]] as number[];
    await testbedPartition(`${sideA.map((n) => `gw${n}`).join(',')}/${sideB.map((n) => `gw${n}`).join(',')}`, { dir });
    for (const [side, lost] of [[sideA, b], [sideB, a]] as const) {
      await eventually(`side ${side.join(',')} to heal the sliver of gw${lost}`, 90, () => show(side[0] as number, 'split'),
        (v) => runningOn(v, [`gw${lost}`]));
    }
    assert.equal((await census('split')).length, 4, 'both sides run two: four in all while split');

    await testbedHeal({ dir });
    const rows = await eventually('exactly two slivers of split once the network is whole', 120, () => census('split'), (r) => r.length === 2);
    const views = await Promise.all(GATEWAYS.map((n) => show(n, 'split')));
    const placements = new Set(views.map((v) => hostsOf(v).join(',')));
    assert.equal(placements.size, 1, `every gateway shows one placement: ${[...placements].join(' | ')}`);
    assert.deepEqual(rows, views[0]?.slivers.map((s) => `${s.gateway ?? '-'}:${s.name ?? '-'}`).sort());
  });

  void test('a slice renewed while one of its hosts is down: that host learns the signed renewal when it returns', async () => {
    const view = await show(1, 'split');
    const away = number(hostsOf(view).find((g) => g !== 'gw1') ?? 'gw2');
    await testbedKill(`gw${away}`, { dir });
    const asker = GATEWAYS.find((n) => n !== away) as number;
    const renewed = JSON.parse(await runHearth(gw(asker), ['slice', 'renew', 'split', '--lifetime', '20d', '--key', keyFile, '--json'])) as SliceView;
    const expires = Date.parse(renewed.expiresAt) / 1000;
    await testbedRestart(`gw${away}`, { dir });
    state = readTestbedState(dir) ?? state;
    await eventually(`gw${away} to keep the renewed expiry`, 60, async () => expiryOn(away, 'split'), (e) => e === expires);
  });

  void test('a slice deleted while one of its hosts is down: that host removes its sliver when it returns', async () => {
    const view = await show(1, 'split');
    const away = number(hostsOf(view).find((g) => g !== 'gw1') ?? 'gw2');
    await testbedKill(`gw${away}`, { dir });
    // The user deletes through a gateway that is up; the dead host does not hear it.
    const asker = GATEWAYS.find((n) => n !== away) as number;
    await runHearth(gw(asker), ['slice', 'rm', 'split', '--key', keyFile]);
    await testbedRestart(`gw${away}`, { dir });
    state = readTestbedState(dir) ?? state;
    await eventually(`gw${away} to remove the deleted slice's sliver`, 60, () => census('split'), (r) => r.length === 0);
  });

  void test('a partition while a slice is placed: once healed, the slice is whole or absent, and no lease is left anywhere', async () => {
    const creating = runHearth(gw(1), ['slice', 'create', 'torn', '--slivers', '3', '--memory', '64', '--key', keyFile, '--no-wait', '--json'])
      .then((out) => JSON.parse(out) as SliceView, (err: unknown) => err as Error);
    await sleep(150);
    await testbedPartition('gw1,gw2/gw3,gw4,gw5', { dir });
    const outcome = await creating;
    await sleep(5000);
    await testbedHeal({ dir });
    const rows = await eventually('the torn slice to be whole (3) or absent (0) on every gateway', 120, () => census('torn'), (r) => r.length === 0 || r.length === 3);
    if (!(outcome instanceof Error)) assert.equal(rows.length, 3, 'a slice the user was told is placed exists');
    await eventually('every lease to lapse or be committed', 90, async () => GATEWAYS.reduce((n, g) => n + leasesOn(g), 0), (n) => n === 0);
    if (rows.length === 3) await runHearth(gw(1), ['slice', 'rm', 'torn', '--key', keyFile]);
  });
});
