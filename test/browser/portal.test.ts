// The portal in a real browser against a real gateway: Debian's chromium,
// headless, driven by playwright-core, on the page the agent serves at `/`.
// The story: sign in (a wrong token first), see the community page empty,
// then alive once a community exists, create a sliver through the form and
// watch it run, have bad names refused (by the form, then by the API), see
// a service appear, follow the gateway through a restart of its agent, and
// come back from a sign-in the owner's token rotation ended, with the
// draft kept. A user signed in with their key makes, renews, resizes and
// deletes a slice of their own.
// Controls are found by their labels, and those of the gateway and services
// pages are reached by Tab. Every page passes axe-core with no serious or
// critical violation at desktop and phone width, and leaves a screenshot in
// test-artifacts/portal/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createTestGateway, runCli, type TestGateway } from '../support/gateway.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.js';
import { signDocument } from '../../src/cloud/signed-document.js';
import { SLICE_KINDS } from '../../src/model/slice.js';

const here = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL(here.endsWith('.ts') ? '../../' : '../../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts', 'portal');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const WIDTHS = [1280, 390];
/** A sliver is made in well under a second once the base image exists; building that image may take longer. */
const SLIVER_READY_MS = 120_000;

let gw: TestGateway;
let context: BrowserContext | undefined;
let userDataDir: string | undefined;
let page: Page;
let base: string;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install the Debian package chromium (setup.sh does)`);
  gw = await createTestGateway();
  await gw.start();
  base = `http://127.0.0.1:${gw.config.api.port}/`;
  userDataDir = await mkdtemp(join(tmpdir(), 'hearth-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: { width: 1280, height: 800 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  page = context.pages()[0] ?? await context.newPage();
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  try {
    await context?.close();
  } finally {
    await gw?.destroy();
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
  }
});

async function assertNoSidewaysScroll(name: string, width: number): Promise<void> {
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  assert.ok(overflow <= 0, `${name} at ${width} px scrolls sideways by ${overflow} px`);
}

/**
 * Runs axe-core and keeps a full-page screenshot at each width; the page
 * must not scroll sideways at any width down to 360 px.
 */
async function checkPage(name: string): Promise<void> {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    await page.addScriptTag({ path: AXE });
    // The callbacks run in the page; this file is compiled without the DOM's types.
    const violations = await page.evaluate(async () => {
      const { axe } = globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[] }> } };
      return (await axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
    });
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `${name} at ${width} px has serious or critical accessibility violations`);
    await assertNoSidewaysScroll(name, width);
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
  }
  // The narrowest phone the portal is made for.
  await page.setViewportSize({ width: 360, height: 800 });
  await assertNoSidewaysScroll(name, 360);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** A marker on the window: it survives everything but a reload. */
async function markPage(): Promise<void> {
  await page.evaluate('window.notReloaded = true');
}
async function assertNotReloaded(): Promise<void> {
  assert.equal(await page.evaluate<unknown>('window.notReloaded'), true, 'the page was reloaded');
}

/** Presses Tab from the top of the page until every named control has had the focus; fails naming those it never reached. */
async function assertReachableByTab(names: string[]): Promise<void> {
  await page.evaluate('document.activeElement?.blur()');
  const missing = new Set(names);
  for (let i = 0; i < 60 && missing.size > 0; i++) {
    await page.keyboard.press('Tab');
    missing.delete(await page.evaluate<string>(`(e => (e.getAttribute('aria-label') ?? e.labels?.[0]?.textContent ?? e.textContent ?? '').trim())(document.activeElement)`));
  }
  assert.deepEqual([...missing], [], 'controls the keyboard never reached');
}

async function signIn(token: string): Promise<void> {
  await page.getByLabel('Owner token').fill(token);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The community user of the slices stories. */
const userKey = generateKeyPairSync('ed25519').privateKey;

const sliverRow = (name: string) => page.locator('tbody tr', { has: page.locator('th', { hasText: new RegExp(`^${name}$`) }) });

test('a wrong token is refused beside the field; the owner token signs in', async () => {
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/v1/node') && r.status() === 401);
  await page.goto(`${base}#/community`);
  await signIn('not-the-token');
  assert.equal((await (await refused).json() as { code: string }).code, 'unauthorized');
  const error = page.locator('#token-error');
  await error.filter({ hasText: 'the owner token is not valid' }).waitFor();
  assert.equal(await page.getByLabel('Owner token').getAttribute('aria-invalid'), 'true');
  assert.match(await page.getByLabel('Owner token').getAttribute('aria-describedby') ?? '', /token-error/);
  await checkPage('sign-in');

  await signIn(gw.token);
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
});

test('the community page says how to make a community, then shows this gateway alive without a reload', async () => {
  await page.getByText('hearth community create NAME').waitFor();
  await markPage();
  await checkPage('community-empty');

  await gw.api.request('POST', '/api/v1/community', { name: 'portal-test' });
  const name = gw.config.name;
  const row = page.locator('tbody tr', { has: page.locator('th', { hasText: name }) });
  await row.locator('.badge', { hasText: 'alive' }).waitFor();
  await page.locator('svg.graph text', { hasText: name }).waitFor();
  await assertNotReloaded();
  await checkPage('community');
});

test('a bad sliver name is refused before anything is sent', async () => {
  await page.getByRole('link', { name: 'Gateway' }).click();
  await page.getByText('No slivers on this gateway yet').waitFor();
  const posts: string[] = [];
  const watch = (r: Request): void => {
    if (r.method() === 'POST' && r.url().includes('/api/v1/slivers')) posts.push(r.url());
  };
  page.on('request', watch);
  await page.getByLabel('Name', { exact: true }).fill('Bad_Name');
  await page.getByLabel('Memory (MB)').fill('8');
  await page.getByRole('button', { name: 'Create sliver' }).click();
  await page.locator('#sliver-name-error').filter({ hasText: 'lower-case letters' }).waitFor();
  await page.locator('#sliver-memoryMb-error').filter({ hasText: 'from 16' }).waitFor();
  assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  page.off('request', watch);
  assert.deepEqual(posts, [], 'the form sent a request it should have refused');
});

test('a sliver made through the form becomes running without a reload', async () => {
  await markPage();
  await page.getByLabel('Name', { exact: true }).fill('web1');
  await page.getByLabel('CPU (cores)').fill('0.2');
  await page.getByLabel('Memory (MB)').fill('32');
  await page.getByLabel('Disk (MB)').fill('64');
  await page.getByRole('button', { name: 'Create sliver' }).click();
  await sliverRow('web1').locator('.badge', { hasText: 'running' }).waitFor({ timeout: SLIVER_READY_MS });
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), '', 'the form is cleared once the sliver is requested');
  await page.locator('.events li', { hasText: 'web1' }).first().waitFor();
  await page.locator('figcaption', { hasText: /^CPU busy: \d+% of \d+ cores$/ }).waitFor();
  await assertReachableByTab(['Community', 'Gateway', 'Services', 'Sign out', 'Slivers', 'Delete web1', 'Name', 'Template', 'CPU (cores)', 'Memory (MB)', 'Disk (MB)', 'Create sliver']);
  await assertNotReloaded();
  await checkPage('gateway');
});

test("a name the API refuses shows the API's problem beside the field", async () => {
  await page.getByLabel('Name', { exact: true }).fill('web1');
  // Submitted from the keyboard: Enter in the field.
  await page.getByLabel('Name', { exact: true }).press('Enter');
  await page.locator('#sliver-name-error').filter({ hasText: 'a sliver named web1 already exists' }).waitFor();
  assert.equal(await sliverRow('web1').count(), 1);
});

test('a console opened from the gateway page runs what is typed in the sliver, and ends with the shell', async () => {
  await page.getByRole('link', { name: 'Console in web1' }).click();
  const status = page.locator('.status-line');
  await status.filter({ hasText: /^open/ }).waitFor({ timeout: SLIVER_READY_MS });
  // The terminal has the focus once the shell is there: typing goes to it.
  await page.keyboard.type('echo "sum $((6*7))"\n');
  await page.locator('.xterm-rows', { hasText: 'sum 42' }).waitFor();
  await checkPage('console');
  await page.keyboard.type('exit 3\n');
  await status.filter({ hasText: 'the shell exited with code 3' }).waitFor();
  await page.goto(`${base}#/console/no-such-sliver`);
  await status.filter({ hasText: /^refused \(sliver_not_found\)/ }).waitFor();
  await page.getByRole('link', { name: 'Back to the gateway' }).click();
  await sliverRow('web1').waitFor();
});

test('deleting asks first, then the sliver goes', async () => {
  await page.getByLabel('Name', { exact: true }).fill('doomed');
  await page.getByLabel('Memory (MB)').fill('32');
  await page.getByRole('button', { name: 'Create sliver' }).click();
  await sliverRow('doomed').locator('.badge', { hasText: 'running' }).waitFor({ timeout: SLIVER_READY_MS });
  await page.getByRole('button', { name: 'Delete doomed', exact: true }).click();
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  assert.equal(await sliverRow('doomed').count(), 1, 'cancel keeps the sliver');
  await page.getByRole('button', { name: 'Delete doomed', exact: true }).click();
  await page.getByRole('button', { name: 'Delete doomed and its files', exact: true }).click();
  await sliverRow('doomed').waitFor({ state: 'detached', timeout: SLIVER_READY_MS });
  assert.equal(await sliverRow('web1').count(), 1);
});

test('the services page lists a service by type, live, with open and copy', async () => {
  await page.getByRole('link', { name: 'Services' }).click();
  await page.getByText('No service is announced').waitFor();
  await gw.api.request('PUT', '/api/v1/slivers/web1/services', { services: [{ name: 'www', type: 'http', port: 80, check: { kind: 'none' } }] });
  await page.getByRole('heading', { name: 'http', exact: true }).waitFor({ timeout: 30_000 });
  const open = page.getByRole('link', { name: `Open www on ${gw.config.name}` });
  const href = await open.getAttribute('href') ?? '';
  assert.match(href, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await page.getByRole('button', { name: `Copy the address of www on ${gw.config.name}` }).click();
  const address = href.slice('http://'.length, -1);
  await page.getByRole('status').filter({ hasText: `Copied ${address} (www).` }).waitFor();
  assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), address);
  await assertReachableByTab([`Open www on ${gw.config.name}`, `Copy the address of www on ${gw.config.name}`]);
  await checkPage('services');
});

test("the slices page shows a user's slice, where its sliver runs, as it comes up", async () => {
  await page.getByRole('link', { name: 'Slices' }).click();
  await page.locator('.empty', { hasText: 'No slice runs in the community yet' }).waitFor();
  // A user's signed request, as `hearth slice create` makes it; the gateway is a community of one.
  const document = signDocument({
    kind: SLICE_KINDS.create, privateKey: userKey, at: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('base64url'),
    body: { name: 'shared', slivers: 1, template: 'busybox', resources: { cpu: 0.1, memoryMb: 32, diskMb: 64 } },
  });
  await gw.api.request('POST', '/api/v1/slices', { document });
  const card = page.getByRole('article', { name: 'Slice shared' });
  await card.getByText('1 of 1 slivers running').waitFor({ timeout: SLIVER_READY_MS });
  await card.getByRole('region', { name: 'Slivers of shared' }).locator('tbody tr', { hasText: 'running' }).waitFor();
  await checkPage('slices');
});

test('a user signs in with their key: their slices, made and deleted in the page, not the gateway page; a bad key is refused beside the field', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Private key').fill('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----');
  await page.getByRole('button', { name: 'Sign in with my key' }).click();
  await page.locator('#user-key-error[role=alert]').waitFor();
  assert.equal(await page.getByLabel('Private key').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Private key').fill(userKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await page.getByRole('button', { name: 'Sign in with my key' }).click();
  await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Gateway' }).count(), 0, 'no gateway page for a user');
  await page.getByRole('link', { name: 'Slices' }).click();
  await page.getByRole('article', { name: 'Slice shared' }).getByText('1 of 1 slivers running').waitFor();
  // Another user's slice is not theirs to see.
  const other = signDocument({
    kind: SLICE_KINDS.create, privateKey: generateKeyPairSync('ed25519').privateKey, at: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('base64url'),
    body: { name: 'private', slivers: 1, template: 'busybox', resources: { cpu: 0.1, memoryMb: 32, diskMb: 64 } },
  });
  await gw.api.request('POST', '/api/v1/slices', { document: other });
  await page.waitForTimeout(6000); // one re-read of the page, which would show it
  assert.equal(await page.getByRole('article', { name: 'Slice private' }).count(), 0, "another user's slice is not shown");
  // Nor is its console theirs: the gateway refuses the user's signature for another user's sliver.
  await page.evaluate("location.hash = '#/console/private-0'");
  await page.getByText(/refused \(forbidden\)/).waitFor();
  await page.getByRole('link', { name: 'Slices' }).click();
  // A new slice, checked as typed by the gateway's own parser, signed in the page, placed, then deleted.
  await page.getByLabel('Slice name').fill('Bad_Name');
  await page.locator('#slice-name-error', { hasText: 'must be 1-63 lower-case letters' }).waitFor();
  assert.equal(await page.getByLabel('Slice name').getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Slice name').fill('mine');
  await page.getByLabel('Slice CPU (cores)').fill('0.1');
  await page.getByLabel('Slice memory (MB)').fill('32');
  await page.getByLabel('Slice disk (MB)').fill('64');
  await page.getByRole('button', { name: 'Create slice' }).click();
  const mine = page.getByRole('article', { name: 'Slice mine' });
  await mine.getByText('1 of 1 slivers running').waitFor({ timeout: SLIVER_READY_MS });
  await checkPage('user-slices');
  // The same name again: the gateway's refusal, beside the field.
  await page.getByLabel('Slice name').fill('mine');
  await page.getByRole('button', { name: 'Create slice' }).click();
  await page.locator('#slice-name-error', { hasText: /mine/ }).waitFor();
});

test('a user renews their slice, resizes it within what the community can host, sees where it runs on the graph, and deletes it', async () => {
  const mine = page.getByRole('article', { name: 'Slice mine' });
  const sent: string[] = [];
  const watch = (r: Request): void => {
    if (r.method() === 'POST' && /\/api\/v1\/slices\/mine\/(renew|resize)$/.test(r.url())) sent.push(r.url());
  };
  page.on('request', watch);
  // Lifetimes and sizes the gateway would refuse are refused beside their field, and nothing is sent.
  const lifetime = mine.getByLabel('Renew mine for');
  await lifetime.fill('5x');
  await mine.getByRole('button', { name: 'Renew mine' }).click();
  await page.locator('#renew-mine-error', { hasText: 'a duration is a number with s, m, h or d' }).waitFor();
  assert.equal(await lifetime.getAttribute('aria-invalid'), 'true');
  await lifetime.fill('30s');
  await page.locator('#renew-mine-error', { hasText: 'a lifetime is from 1 minute to 90 days' }).waitFor();
  await mine.getByRole('button', { name: 'Renew mine' }).click();
  const size = mine.getByLabel('Resize mine to');
  await size.fill('0');
  await mine.getByRole('button', { name: 'Resize mine' }).click();
  await page.locator('#resize-mine-error', { hasText: 'slivers must be a whole number from 1 to 64' }).waitFor();
  assert.deepEqual(sent, [], 'the page sent what it should have refused');
  page.off('request', watch);

  // Renewed for 30 days from now: the expiry shown moves from about 7 days out to about 30.
  const before = await mine.locator('time.expires').getAttribute('datetime') ?? '';
  await lifetime.fill('30d');
  await mine.getByRole('button', { name: 'Renew mine' }).click();
  await mine.getByRole('status').filter({ hasText: 'Slice mine now expires' }).waitFor();
  const renewed = mine.locator(`time.expires:not([datetime="${before}"])`);
  await renewed.waitFor();
  const after = Date.parse(await renewed.getAttribute('datetime') ?? '');
  assert.ok(after - Date.now() > 29 * 86_400_000 && after - Date.now() <= 30 * 86_400_000, `expires in ${(after - Date.now()) / 86_400_000} days`);

  // A community of one gateway cannot spread a second sliver: the gateway's refusal, beside the field.
  await size.fill('2');
  await mine.getByRole('button', { name: 'Resize mine' }).click();
  await page.locator('#resize-mine-error', { hasText: 'spread over gateways' }).waitFor({ timeout: 30_000 });
  assert.equal(await size.getAttribute('aria-invalid'), 'true');
  await mine.getByText('1 of 1 slivers running').waitFor();
  // What it can host is signed, sent and followed until it runs.
  await size.fill('1');
  await mine.getByRole('button', { name: 'Resize mine' }).click();
  await mine.getByRole('status').filter({ hasText: 'Slice mine has 1 sliver, running.' }).waitFor({ timeout: SLIVER_READY_MS });

  // Its host, ringed on the community graph and named in words.
  await mine.getByRole('button', { name: 'Show mine on the community graph' }).click();
  const graph = mine.getByRole('img', { name: 'The community\'s gateways; the 1 ringed host slice mine' });
  await graph.locator('g.node', { has: page.locator('circle.host-ring') }).locator('text', { hasText: gw.config.name }).waitFor();
  await graph.locator('text.hosts', { hasText: 'hosts sliver 0' }).waitFor();
  await mine.locator('.legend', { hasText: `Ringed, the gateways that host mine: ${gw.config.name} (sliver 0)` }).waitFor();
  // Its healing history, read from the gateway's log when opened: nothing moved it.
  const reads = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/slices/mine/events' && r.status() === 200);
  await mine.getByRole('button', { name: 'Show the healing history of mine' }).click();
  await reads;
  await mine.getByText("No sliver of mine moved, as far as this gateway's log tells.").waitFor();
  await checkPage('user-slice-actions');

  await mine.getByRole('button', { name: 'Delete slice mine' }).click();
  await mine.getByRole('button', { name: 'Delete mine and all its slivers' }).click();
  await mine.waitFor({ state: 'detached', timeout: SLIVER_READY_MS });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(gw.token);
  await page.getByRole('status').filter({ hasText: /^live$/ }).waitFor();
});

test('when the gateway restarts, the stream reconnects and resynchronises, each event once', async () => {
  await page.getByRole('link', { name: 'Gateway' }).click();
  await sliverRow('web1').waitFor();
  await markPage();
  const live = page.getByRole('status').filter({ hasText: /^(live|reconnecting…|connecting…)$/ });
  await gw.stop();
  await live.filter({ hasText: 'reconnecting…' }).waitFor();
  await gw.start();
  await live.filter({ hasText: /^live$/ }).waitFor({ timeout: 60_000 });
  // Made while the page watches: only the resumed stream can bring its events and so its row.
  await gw.api.request('POST', '/api/v1/slivers', { name: 'after-restart', resources: { memoryMb: 32 } });
  await sliverRow('after-restart').locator('.badge', { hasText: 'running' }).waitFor({ timeout: SLIVER_READY_MS });
  const seqs = await page.locator('.events li').evaluateAll((items) => items.map((li) => li.getAttribute('data-seq')));
  assert.equal(new Set(seqs).size, seqs.length, `an event is shown twice: ${seqs.join(' ')}`);
  await assertNotReloaded();
});

// Last: it rotates the gateway's owner token.
test('a sign-in that expires (the owner rotates the token) returns to the sign-in page and keeps what was typed', async () => {
  await page.getByRole('link', { name: 'Gateway' }).click();
  await page.getByLabel('Name', { exact: true }).fill('kept-draft');
  await markPage();
  const rotated = await runCli(gw.dataDir, 'node', 'token', 'rotate', '--json');
  assert.equal(rotated.code, 0, rotated.stderr);
  const { token } = JSON.parse(rotated.stdout) as { token: string };
  // The gateway closes the page's stream at once: back to the sign-in page, with the reason.
  await page.getByRole('alert').filter({ hasText: 'Sign in again' }).waitFor();
  assert.match(await page.getByRole('alert').filter({ hasText: 'Sign in again' }).innerText(), /rotated/);
  await signIn(gw.token);
  await page.locator('#token-error').filter({ hasText: 'the owner token is not valid' }).waitFor();
  await signIn(token);
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'kept-draft');
  await assertNotReloaded();
});
