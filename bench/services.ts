// Benchmark of the service directory (issue goal: a new service visible on
// every gateway within 5 s on wifi) on the emulated network, with real
// agents, real Serf and real LXC. One testbed (default 20 gateways, wifi
// links); on the announcer (gw1) a busybox sliver serves a page with busybox
// httpd on port 8080 and declares a second service on another port with
// `--check none`, so the announcer's list is never empty and every change of
// it is pulled (a member that announces nothing is dropped without a pull,
// so no log line would tell when). Then:
//  1. new → visible, --runs times: `hearth sliver service add site webN
//     --type http --port 8080 --check http:/` on the announcer. Start: the
//     sliver's `services.declared` event in the announcer's database (the
//     time the CLI was started is shown beside it); announced: its `service
//     announced` line; visible on gateway X: X's first `pulled services` line
//     after the start from the announcer listing `site/webN`; everywhere: the
//     latest of those over all the others. Then `hearth services --json` on
//     two other gateways must list it.
//  2. withdrawal, in the same runs: `killall httpd` in the sliver → the
//     announcer's `service withdrawn` line (two failed checks, at the
//     default 5 s interval) → every other gateway's first pull from the
//     announcer without `site/webN`. The service is then removed
//     (`hearth sliver service rm`, which announces nothing new) and httpd
//     started again for the next run.
//  3. the announcer killed (`testbedKill`, its Serf with it): a failed
//     member's services leave the directory as soon as the member is not
//     alive in the view, with no pull and no log line, so a small Node
//     poller inside --pollers gateways' namespaces asks their API for the
//     directory every 100 ms and stamps when the announcer's entries are
//     gone; beside it, when every survivor's membership lines showed the
//     announcer failed.
// Times come from the agents' own log lines and databases (read-only), all
// stamped by the machine's one clock, not from polling 20 CLIs.
// Run as root after `npm run build`:
//   node dist/bench/services.js [--gateways 20] [--link wifi] [--runs 5] [--pollers 4]
//     [--prefix bsv] [--underlay 172.26.0.0/16] [--port P] [--seed 7] [--json]

import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { DirectoryEntry } from '../src/cloud/services.js';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { testbedKill } from '../src/testbed/controller-ops.js';
import { runHearth } from '../src/testbed/gateway-process.js';
import type { TestbedGatewayState, TestbedState } from '../src/testbed/state.js';
import { freePort } from '../test/support/ports.js';
import { logLines, machineLine, median, memberLines, spawnInGateway, until } from './lib.js';
import { takeDownOnExit } from './teardown.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string', default: '20' },
    link: { type: 'string', default: 'wifi' },
    runs: { type: 'string', default: '5' },
    pollers: { type: 'string', default: '4' },
    prefix: { type: 'string', default: 'bsv' },
    underlay: { type: 'string', default: '172.26.0.0/16' },
    port: { type: 'string' },
    seed: { type: 'string', default: '7' },
    json: { type: 'boolean', default: false },
  },
});

const GATEWAYS = Number(values.gateways);
const LINK = values.link;
const RUNS = Number(values.runs);
const POLLERS = Number(values.pollers);
const SEED = Number(values.seed);
const PREFIX = values.prefix;
// The test runner's sweep removes namespaces of prefixes like these.
if (/^t[a-z]{3}$/.test(PREFIX)) throw new Error(`--prefix ${PREFIX} looks like a test run's; the test runner would sweep it`);
const UNDERLAY = parseSubnet(values.underlay);
const SLIVER = 'site';
const SERVE = 'mkdir -p /www && echo hi > /www/index.html && httpd -p 8080 -h /www';
const API = 'http://127.0.0.1:7470';

type Member = TestbedGatewayState;
const progress = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
};
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const sec = (ms: number | null): string => (ms === null ? '–' : `${(ms / 1000).toFixed(2)} s`);


/** When the announcer's database recorded a declaration of its sliver's services listing `service`, at or after `since`. */
function declaredAt(m: Member, service: string, since: number): number | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(`${m.dataDir}/hearth.db`, { readonly: true, fileMustExist: true, timeout: 1000 });
    const rows = db.prepare("SELECT at, detail FROM events WHERE type = 'services.declared' AND at >= ? ORDER BY seq").all(new Date(since).toISOString()) as { at: string; detail: string }[];
    const row = rows.find((r) => ((JSON.parse(r.detail) as { services?: { name: string }[] }).services ?? []).some((s) => s.name === service));
    return row === undefined ? undefined : Date.parse(row.at);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** The announcer's first line `msg` about `service` of the sliver at or after `since`. */
function announcerLine(m: Member, msg: string, service: string, since: number): number | undefined {
  return logLines(m.dataDir, [msg]).find((l) => l.at >= since && l.fields['sliver'] === SLIVER && l.fields['service'] === service)?.at;
}

/**
 * Per other gateway, its first `pulled services` line from `announcer` at or
 * after `since` whose list has (`listed`) or lacks `service`; undefined until
 * every gateway has one.
 */
function pulledEverywhere(others: readonly Member[], announcer: string, service: string, listed: boolean, since: number): Map<string, number> | undefined {
  const key = `${SLIVER}/${service}`;
  const at = new Map<string, number>();
  for (const m of others) {
    const l = logLines(m.dataDir, ['pulled services']).find((x) =>
      x.at >= since && x.fields['member'] === announcer && (x.fields['services'] as string[]).includes(key) === listed);
    if (l === undefined) return undefined;
    at.set(m.name, l.at);
  }
  return at;
}

/** The other gateways' pulls from `announcer` since `since`: how many succeeded, and the failed ones by gateway and error. */
function pullOutcomes(others: readonly Member[], announcer: string, since: number): { pulled: number; failed: string[] } {
  let pulled = 0;
  const failed: string[] = [];
  for (const m of others) {
    for (const l of logLines(m.dataDir, ['pulled services', 'pulling services failed'])) {
      if (l.at < since || l.fields['member'] !== announcer) continue;
      if (l.msg === 'pulled services') pulled++;
      else failed.push(`${m.name} at ${new Date(l.at).toISOString().slice(11, 23)}: ${String(l.fields['err'])}`);
    }
  }
  return { pulled, failed };
}

async function directory(m: Member): Promise<DirectoryEntry[]> {
  return JSON.parse(await runHearth(m, ['services', '--json'])) as DirectoryEntry[];
}

// ---------------------------------------------------------------- 1 and 2: a new service, then its server killed

interface Run {
  service: string;
  /** services.declared event − CLI started. */
  cliMs: number | null;
  /** From the declared event: announced, visible on the first and on the last other gateway. */
  announcedMs: number | null; firstVisibleMs: number | null; everywhereMs: number | null;
  /** From the announcer's `service announced` line to visible on the last other gateway. */
  announceToEverywhereMs: number | null;
  /** From `killall httpd`: the announcer withdrew it, the last other gateway pulled a list without it. */
  withdrawnMs: number | null; goneEverywhereMs: number | null;
  withdrawnToGoneMs: number | null;
  /** The gateway that saw it last, each way. */
  lastVisible: string | null; lastGone: string | null;
  load: string;
}

async function serviceRun(a: Member, others: readonly Member[], i: number, failures: string[]): Promise<Run> {
  const service = `web${i}`;
  const r: Run = {
    service, cliMs: null, announcedMs: null, firstVisibleMs: null, everywhereMs: null, announceToEverywhereMs: null,
    withdrawnMs: null, goneEverywhereMs: null, withdrawnToGoneMs: null, lastVisible: null, lastGone: null, load: '',
  };
  const cliAt = Date.now();
  await runHearth(a, ['sliver', 'service', 'add', SLIVER, service, '--type', 'http', '--port', '8080', '--check', 'http:/']);
  try {
    await measure(r, a, others, i, cliAt, failures);
  } finally {
    // Whatever happened, the next run finds port 8080 free to declare and served.
    await runHearth(a, ['sliver', 'service', 'rm', SLIVER, service]);
    await runHearth(a, ['sliver', 'exec', SLIVER, '--', 'sh', '-c', `killall httpd; ${SERVE}`]);
  }
  return r;
}

async function measure(r: Run, a: Member, others: readonly Member[], i: number, cliAt: number, failures: string[]): Promise<void> {
  const { service } = r;
  const declared = declaredAt(a, service, cliAt);
  if (declared === undefined) {
    failures.push(`run ${i}: no services.declared event for ${service}`);
    return;
  }
  r.cliMs = declared - cliAt;
  const visible = await until(60_000, 250, () => pulledEverywhere(others, a.name, service, true, declared));
  r.load = load();
  const announced = announcerLine(a, 'service announced', service, declared);
  r.announcedMs = announced === undefined ? null : announced - declared;
  if (visible === undefined) {
    failures.push(`run ${i}: ${service} not pulled by every other gateway within 60 s`);
    return;
  }
  const times = [...visible.entries()].sort((x, y) => x[1] - y[1]);
  const last = times.at(-1) as [string, number];
  r.firstVisibleMs = (times[0] as [string, number])[1] - declared;
  r.everywhereMs = last[1] - declared;
  r.lastVisible = last[0];
  if (announced !== undefined) r.announceToEverywhereMs = last[1] - announced;
  // The logs must not lie: two gateways' directories list it.
  for (const m of [others[0], others.at(-1)] as Member[]) {
    if (!(await directory(m)).some((e) => e.gateway === a.name && e.sliver === SLIVER && e.name === service)) {
      failures.push(`run ${i}: ${m.name} pulled ${service} but its directory does not list it`);
    }
  }
  progress(`run ${i}/${RUNS}: ${service} declared (CLI +${sec(r.cliMs)}), announced +${sec(r.announcedMs)}, first visible +${sec(r.firstVisibleMs)}, ` +
    `everywhere +${sec(r.everywhereMs)} (last ${r.lastVisible}; ${sec(r.announceToEverywhereMs)} after announced); load ${r.load}`);

  const killAt = Date.now();
  await runHearth(a, ['sliver', 'exec', SLIVER, '--', 'killall', 'httpd']);
  const gone = await until(60_000, 250, () => pulledEverywhere(others, a.name, service, false, killAt));
  const withdrawn = announcerLine(a, 'service withdrawn', service, killAt);
  r.withdrawnMs = withdrawn === undefined ? null : withdrawn - killAt;
  if (gone === undefined) {
    failures.push(`run ${i}: ${service} still in some gateway's last pull 60 s after its server was killed`);
  } else {
    const lastGone = [...gone.entries()].sort((x, y) => x[1] - y[1]).at(-1) as [string, number];
    r.goneEverywhereMs = lastGone[1] - killAt;
    r.lastGone = lastGone[0];
    if (withdrawn !== undefined) r.withdrawnToGoneMs = lastGone[1] - withdrawn;
    for (const m of [others[0], others.at(-1)] as Member[]) {
      if ((await directory(m)).some((e) => e.gateway === a.name && e.name === service)) failures.push(`run ${i}: ${m.name} still lists ${service} after its withdrawal was pulled`);
    }
  }
  progress(`run ${i}/${RUNS}: httpd killed → withdrawn +${sec(r.withdrawnMs)}, gone everywhere +${sec(r.goneEverywhereMs)} (last ${r.lastGone ?? '?'}); load ${load()}`);
}

// ---------------------------------------------------------------- 3: the announcer killed

// Polls this gateway's directory every 100 ms; prints {"ready":true} once it lists
// the announcer's services, then {"at":…} when it lists none of them any more.
const POLLER = `
const [api, gateway, timeoutMs] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const headers = { authorization: 'Bearer ' + process.env.HEARTH_BENCH_TOKEN };
(async () => {
  let seen = false;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(api + '/api/v1/services', { headers });
      const has = ((await res.json()).items || []).some((e) => e.gateway === gateway);
      const at = Date.now();
      if (has && !seen) { seen = true; console.log(JSON.stringify({ ready: true })); }
      if (seen && !has) { console.log(JSON.stringify({ at })); return; }
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify({ at: null }));
})();
`;

interface Poller { ready: Promise<boolean>; gone: Promise<number | null> }

function startPoller(m: Member, announcer: string): Poller {
  const token = readFileSync(`${m.dataDir}/owner.token`, 'utf8').trim();
  const child = spawnInGateway(m, [process.execPath, '-e', POLLER, API, announcer, '150000'], { HEARTH_BENCH_TOKEN: token });
  child.stdin.end();
  child.stderr.resume();
  let onReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (onReady = resolve));
  const gone = new Promise<number | null>((resolve) => {
    let buf = '';
    let at: number | null = null;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (const line of buf.split('\n').slice(0, -1)) {
        const j = JSON.parse(line) as { ready?: boolean; at?: number | null };
        if (j.ready === true) onReady(true);
        else at = j.at ?? null;
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.once('close', () => {
      onReady(false);
      resolve(at);
    });
  });
  return { ready, gone };
}

interface Killed {
  /** From the kill, each survivor's first membership line showing the announcer not alive: median and latest. */
  failedSeenMs: number[];
  /** From the kill, per poller: its directory no longer lists the announcer, and its own failed line. */
  polled: { gateway: string; goneMs: number | null; failedMs: number | null }[];
  load: string;
}

async function killAnnouncer(dir: string, a: Member, others: readonly Member[], failures: string[]): Promise<Killed> {
  const step = Math.max(1, Math.floor(others.length / POLLERS));
  const watched = others.filter((_, k) => k % step === 0).slice(0, POLLERS);
  const pollers = watched.map((m) => startPoller(m, a.name));
  const ready = await Promise.all(pollers.map((p) => p.ready));
  if (ready.some((ok) => !ok)) failures.push('killed gateway: a poller never saw the announcer\'s services listed');
  const killAt = Date.now();
  await testbedKill(a.name, { dir });
  progress(`killed ${a.name}; polling the directory of ${watched.map((m) => m.name).join(', ')}`);
  const gone = await Promise.all(pollers.map((p) => p.gone));
  const failedOf = (m: Member): number | null => {
    const l = memberLines(m.dataDir).find((x) => x.at >= killAt && x.member === a.name && x.status !== 'alive');
    return l === undefined ? null : l.at - killAt;
  };
  await until(60_000, 500, () => (others.every((m) => failedOf(m) !== null) ? true : undefined));
  const failedSeenMs = others.map(failedOf).filter((x): x is number => x !== null);
  if (failedSeenMs.length < others.length) failures.push(`killed gateway: only ${failedSeenMs.length}/${others.length} survivors logged it failed within 60 s`);
  const polled = watched.map((m, k) => ({ gateway: m.name, goneMs: gone[k] === null ? null : (gone[k] as number) - killAt, failedMs: failedOf(m) }));
  for (const p of polled) {
    if (p.goneMs === null) failures.push(`killed gateway: ${p.gateway} still listed its services 150 s after the kill`);
    progress(`killed gateway: ${p.gateway} saw it failed +${sec(p.failedMs)}, its directory dropped it +${sec(p.goneMs)}`);
  }
  return { failedSeenMs, polled, load: load() };
}

// ---------------------------------------------------------------- running it

const teardown = takeDownOnExit(progress);

/** Median, max, min and count of the values there are. */
const stats = (xs: readonly (number | null)[]): string[] => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? ['–', '–', '–', '0'] : [sec(median(v)), sec(Math.max(...v)), sec(Math.min(...v)), String(v.length)];
};

async function main(): Promise<void> {
  const machine = await machineLine();
  progress(`machine: ${machine}; load ${load()}`);
  const root = mkdtempSync('/tmp/hearth-bench-services-');
  // The gateways' containers live below; their unprivileged root must traverse it.
  chmodSync(root, 0o755);
  const dir = `${root}/tb`;
  const port = values.port === undefined ? await freePort() : Number(values.port);
  const failures: string[] = [];
  const runs: Run[] = [];
  let killed: Killed | undefined;
  let pulls: { pulled: number; failed: string[] } | undefined;
  const loads: string[] = [];
  teardown.active = dir;
  try {
    const upAt = Date.now();
    const up = await testbedUp({ gateways: GATEWAYS, link: LINK, seed: SEED, dir, prefix: PREFIX, port, underlay: UNDERLAY, progress });
    const state: TestbedState = up.state;
    progress(`testbed of ${GATEWAYS} up in ${sec(Date.now() - upAt)}; load ${load()}`);
    const [a, ...others] = state.members as [Member, ...Member[]];
    await runHearth(a, ['sliver', 'create', SLIVER, '--memory', '32', '--json']);
    await runHearth(a, ['sliver', 'exec', SLIVER, '--', 'sh', '-c', SERVE]);
    const baseAt = Date.now();
    await runHearth(a, ['sliver', 'service', 'add', SLIVER, 'base', '--type', 'http', '--port', '9999', '--check', 'none']);
    if ((await until(120_000, 500, () => pulledEverywhere(others, a.name, 'base', true, baseAt))) === undefined) {
      throw new Error(`the base service was not pulled by every gateway within 120 s of its declaration`);
    }
    progress(`base service everywhere after ${sec(Date.now() - baseAt)}; load ${load()}`);
    loads.push(load());
    for (let i = 1; i <= RUNS; i++) runs.push(await serviceRun(a, others, i, failures));
    loads.push(load());
    pulls = pullOutcomes(others, a.name, baseAt);
    killed = await killAnnouncer(dir, a, others, failures);
    loads.push(killed.load);
  } finally {
    await testbedDown({ dir, progress });
    teardown.active = undefined;
    rmSync(root, { recursive: true, force: true });
  }

  if (values.json) console.log(JSON.stringify({ machine, gateways: GATEWAYS, link: LINK, seed: SEED, runs, killed, pulls, loads, failures }, null, 2));
  const pick = (k: keyof Run): (number | null)[] => runs.map((x) => x[k] as number | null);
  const rows: [string, string[]][] = [
    ['1. declared (services.declared event) → visible on every other gateway (last first pull)', stats(pick('everywhereMs'))],
    ['   declared → announced (its `service announced` line)', stats(pick('announcedMs'))],
    ['   declared → visible on the first other gateway', stats(pick('firstVisibleMs'))],
    ['   announced → visible on every other gateway', stats(pick('announceToEverywhereMs'))],
    ['   (CLI started → declared)', stats(pick('cliMs'))],
    ['2. server killed (killall httpd) → no gateway\'s last pull lists it', stats(pick('goneEverywhereMs'))],
    ['   server killed → withdrawn (`service withdrawn`, two failed 5 s checks)', stats(pick('withdrawnMs'))],
    ['   withdrawn → no other gateway\'s last pull lists it', stats(pick('withdrawnToGoneMs'))],
  ];
  if (killed !== undefined) {
    rows.push(['3. announcer killed → seen failed (membership line), over the survivors', stats(killed.failedSeenMs)]);
    rows.push([`   announcer killed → dropped from the directory (API polled every 100 ms on ${killed.polled.map((p) => p.gateway).join(', ')})`, stats(killed.polled.map((p) => p.goneMs))]);
    rows.push(['   the same pollers\' gateways: seen failed', stats(killed.polled.map((p) => p.failedMs))]);
  }
  console.log(`\nmachine: ${machine}`);
  console.log(`${GATEWAYS} gateways, ${LINK} links, layout seed ${SEED}; ${RUNS} runs; load average ${loads.join(' → ')}`);
  const w = Math.max(...rows.map((x) => x[0].length));
  console.log(`| ${'figure'.padEnd(w)} | median | max | min | n |`);
  console.log(`|${'-'.repeat(w + 2)}|---|---|---|---|`);
  for (const [label, cells] of rows) console.log(`| ${label.padEnd(w)} | ${cells.join(' | ')} |`);
  if (pulls !== undefined) {
    console.log(`\npulls from the announcer before it was killed: ${pulls.pulled} pulled, ${pulls.failed.length} failed`);
    for (const x of pulls.failed) console.log(`  ${x}`);
  }
  if (failures.length > 0) {
    console.log('\nnot as expected:');
    for (const x of failures) console.log(`  ${x}`);
    process.exitCode = 1;
  }
}

await main();
