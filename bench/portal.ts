// Benchmark of the portal on the emulated network (issue 10's figures):
// real agents, real Serf, Debian's chromium through playwright-core.
//  1. Interactive: a testbed (default 20 gateways, wifi); gw1's API (and so
//     its portal) bridged to 127.0.0.1 as `hearth demo` does. Signed in once
//     with gw1's token, the community page is loaded afresh --runs times:
//     from the navigation's start to the page's table listing every gateway
//     alive with the stream live.
//  2. Failure → colour: per run a gateway is killed (`hearth testbed kill`,
//     its Serf with it). gw1's API is polled every 50 ms through the bridge
//     for the time gw1's agent reports it failed; in the page, a
//     MutationObserver stamps when its row turns failed. The figure is the
//     page's time minus the agent's (goal: within 1 s); both stamps come
//     from this machine's one clock (Date.now() in the page and here).
// Run as root after `npm run build`:
//   node dist/bench/portal.js [--gateways 20] [--link wifi] [--runs 3] [--prefix bpt] [--seed 7] [--json]

import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { testbedKill } from '../src/testbed/controller-ops.js';
import type { TestbedState } from '../src/testbed/state.js';
import { openBridge, type Bridge } from '../src/cli/demo.js';
import { freePort } from '../test/support/ports.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/support/chromium.js';
import { machineLine, median, until } from './lib.js';
import { takeDownOnExit } from './teardown.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string', default: '20' },
    link: { type: 'string', default: 'wifi' },
    runs: { type: 'string', default: '3' },
    prefix: { type: 'string', default: 'bpt' },
    underlay: { type: 'string', default: '172.27.0.0/16' },
    seed: { type: 'string', default: '7' },
    json: { type: 'boolean', default: false },
  },
});
const GATEWAYS = Number(values.gateways);
const RUNS = Number(values.runs);
if (/^t[a-z]{3}$/.test(values.prefix)) throw new Error(`--prefix ${values.prefix} looks like a test run's; the test runner would sweep it`);
if (RUNS + 2 > GATEWAYS) throw new Error('each run kills a gateway other than gw1: use more gateways or fewer runs');

const progress = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const teardown = takeDownOnExit(progress);

// The page's side runs in the browser, so it is written as source text here
// (the bench is compiled without the DOM's types).

/** The community page shows every gateway alive, with the stream live. */
function allAlive(page: Page, n: number): Promise<unknown> {
  return page.waitForFunction(`(() => {
    const rows = [...document.querySelectorAll('table tbody tr')];
    const alive = rows.filter((r) => r.querySelector('.badge.status-alive') !== null).length;
    return alive === ${n} && document.querySelector('.live-live') !== null;
  })()`, undefined, { polling: 'raf', timeout: 120_000 });
}

/** From now, stamp in the page (window.failedAt) when `name`'s row first shows failed. */
async function watchFailed(page: Page, name: string): Promise<void> {
  await page.evaluate(`(() => {
    delete window.failedAt;
    const check = () => {
      if (window.failedAt !== undefined) return;
      const row = [...document.querySelectorAll('table tbody tr')].find((r) => r.querySelector('th')?.textContent?.startsWith(${JSON.stringify(name)}));
      if (row !== undefined && row.querySelector('.badge.status-failed') !== null) window.failedAt = Date.now();
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    check();
  })()`);
}

async function agentSaysFailed(bridge: Bridge, token: string, name: string): Promise<number | undefined> {
  return until(120_000, 50, async () => {
    const res = await fetch(`${bridge.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    if (res?.ok !== true) return undefined;
    const nodes = (await res.json()) as { items: { name: string; status: string }[] };
    return nodes.items.find((m) => m.name === name)?.status === 'failed' ? Date.now() : undefined;
  });
}

async function main(): Promise<void> {
  const machine = await machineLine();
  progress(`machine: ${machine}; load ${load()}`);
  const root = mkdtempSync('/tmp/hearth-bench-portal-');
  chmodSync(root, 0o755);
  const dir = `${root}/tb`;
  const interactiveMs: number[] = [];
  const colourMs: number[] = [];
  const failures: string[] = [];
  const loads: string[] = [];
  teardown.active = dir;
  const controller = new AbortController();
  let bridge: Bridge | undefined;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
  });
  try {
    const up = await testbedUp({ gateways: GATEWAYS, link: values.link, seed: Number(values.seed), dir, prefix: values.prefix, port: await freePort(), underlay: parseSubnet(values.underlay), progress });
    const state: TestbedState = up.state;
    const gw1 = state.members[0];
    if (gw1 === undefined) throw new Error('no gateway');
    bridge = await openBridge(gw1, root, controller.signal);
    const token = readFileSync(bridge.tokenFile, 'utf8').trim();
    const page = await browser.newPage();
    await page.goto(`${bridge.url}/`);
    await page.getByLabel('Owner token').fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await allAlive(page, GATEWAYS);
    progress(`signed in; the page lists ${GATEWAYS} gateways alive; load ${load()}`);
    for (let i = 0; i < RUNS; i++) {
      const start = Date.now();
      await page.goto('about:blank');
      await page.goto(`${bridge.url}/#/community`);
      await allAlive(page, GATEWAYS - i);
      interactiveMs.push(Date.now() - start);
      loads.push(load());
      const victim = state.members[i + 1];
      if (victim === undefined) break;
      await watchFailed(page, victim.name);
      const seen = agentSaysFailed(bridge, token, victim.name);
      await testbedKill(victim.name, { dir });
      const agentAt = await seen;
      const pageAt = await until(30_000, 50, async () => (await page.evaluate('window.failedAt')) as number | undefined);
      if (agentAt === undefined || pageAt === undefined) {
        failures.push(`run ${i + 1}: ${victim.name} failed: agent ${String(agentAt)}, page ${String(pageAt)}`);
        continue;
      }
      colourMs.push(pageAt - agentAt);
      progress(`run ${i + 1}: interactive ${interactiveMs.at(-1)} ms; ${victim.name} failed in the page ${pageAt - agentAt} ms after gw1's API said so`);
    }
  } finally {
    await browser.close();
    await bridge?.close();
    controller.abort();
    await testbedDown({ dir, progress });
    teardown.active = undefined;
    rmSync(root, { recursive: true, force: true });
  }
  const result = { machine, gateways: GATEWAYS, link: values.link, interactiveMs, colourMs, loads, failures };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  const fmt = (xs: number[]): string => (xs.length === 0 ? '–' : `median ${median(xs)} ms, max ${Math.max(...xs)} ms (${xs.join(', ')})`);
  console.log(`portal on ${GATEWAYS} gateways (${values.link}): community page interactive ${fmt(interactiveMs)}`);
  console.log(`a gateway's failure → its colour in the page, after gw1's API says failed: ${fmt(colourMs)} (goal ≤ 1000 ms)`);
  for (const f of failures) console.log(`FAILED: ${f}`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
