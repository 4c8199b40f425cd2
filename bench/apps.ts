// Benchmark of the shipped apps (issue figure: "Each app: deploy → serving")
// on the emulated network, with real agents, real Serf, real LXC and the
// apps' real software: a testbed of --gateways (default 5) gateways on
// --link (default wifi) links, each contributing 1 core, 1 GB, 4 GB of disk.
// The three apps do not all fit at their recipes' sizes at once, so each is
// deployed alone, --runs times (default 3): `hearth app deploy APP --name
// APP-N --gateways 3 --key KEY --no-wait --json` run on gw1 (the CLI, as a
// user would, with a user key made here), measured, then `hearth app rm` and
// a wait until every gateway's database has no sliver of it left.
// Serving is two things, each timed from just before the deploy CLI starts:
//  - announced: gw1's directory (`hearth services --json`, polled) lists
//    every service of every sliver's role (missingServices of
//    src/cli/demo-plan.ts, the demo's own rule);
//  - answered: one real request through a forward, from a busybox sliver on
//    a gateway other than the service's (busybox `nc -w 10`, HTTP/1.0):
//    video, GET /hls/live.m3u8 of an edge returns a playlist (nc's
//    half-close makes the edge drop a request that is not in its cache:
//    see probeFor); storage, a
//    WebDAV PUT then a GET of the same file through one replica;
//    file-sharing, GET /torrents/ of the catalog answers 200. Tried, beside
//    the directory's poll and not in its way, as soon as the latest poll
//    lists the service, again and again until it works; every failed try
//    is printed with what it got.
// Each poll and each try is a CLI start in a namespace (a second or more
// under load), so both figures are good to about one of those. The
// breakdown comes from the agents' own records, on the machine's one clock:
// the deploy CLI returning (the slice placed), each host's `sliver.started`
// and `app.installed` events (its database's `events` table, read-only),
// the hosts' `service announced` log lines, and when gw1 had them all (its
// own announcements, its `pulled services` lines). Images must be cached
// (`hearth image ls`); their first-build times are printed from the
// images' metadata (`buildMs`).
// Run as root after `npm run build`:
//   node dist/bench/apps.js [--runs 3] [--apps file-sharing,video,storage] [--gateways 5] [--link wifi]
//     [--seed 7] [--prefix bap] [--dir DIR] [--underlay 172.24.0.0/16] [--port P (default: a free one)]

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DirectoryEntry } from '../src/cloud/services.js';
import { expectedServices, missingServices, parseAppList } from '../src/cli/demo-plan.js';
import type { SliceView } from '../src/model/slice.js';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { runHearth } from '../src/testbed/gateway-process.js';
import { memberOf, type TestbedGatewayState, type TestbedState } from '../src/testbed/state.js';
import { freePort } from '../test/support/ports.js';
import { appImageLines, removeApp } from './app-steps.js';
import { logLines, machineLine, medianMax, progress, sec, sleep, until, withDb } from './lib.js';
import { takeDownOnExit } from './teardown.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    apps: { type: 'string', default: 'file-sharing,video,storage' },
    gateways: { type: 'string', default: '5' },
    link: { type: 'string', default: 'wifi' },
    seed: { type: 'string', default: '7' },
    prefix: { type: 'string', default: 'bap' },
    dir: { type: 'string' },
    underlay: { type: 'string', default: '172.24.0.0/16' },
    port: { type: 'string' },
  },
});

const RUNS = Number(values.runs);
const APPS = parseAppList(values.apps);
const GATEWAYS = Number(values.gateways);
const PREFIX = values.prefix;
// The test runner's sweep removes namespaces of prefixes like these.
if (/^t[a-z]{3}$/.test(PREFIX)) throw new Error(`--prefix ${PREFIX} looks like a test run's; the test runner would sweep it`);
const UNDERLAY = parseSubnet(values.underlay);
/** Each app spreads over this many gateways (the recipes' own size). */
const APP_GATEWAYS = 3;
/** Past this after the deploy, a run is recorded as not serving. */
const SERVING_TIMEOUT_MS = 300_000;

type Member = TestbedGatewayState;
const gatewayNumber = (name: string): number => Number(name.replace(/^gw/, ''));

// ---------------------------------------------------------------- what the gateways' databases say


/** The latest time of each event type of each of the slice's slivers, since `since`, over all gateways. */
function sliceEvents(members: readonly Member[], slice: string, since: number): { sliver: string; type: string; at: number; detail: string }[] {
  const iso = new Date(since).toISOString();
  return members.flatMap((m) => withDb(m, (db) => db.prepare(
    'SELECT s.name AS sliver, e.type AS type, e.at AS at, e.detail AS detail FROM events e JOIN slivers s ON s.id = e.sliver_id WHERE s.slice = ? AND e.at >= ?',
  ).all(slice, iso) as { sliver: string; type: string; at: string; detail: string }[]) ?? []).map((r) => ({ ...r, at: Date.parse(r.at) }));
}

// ---------------------------------------------------------------- the real request

/**
 * Which service a user would reach, and the shell line (busybox sh, nc) that
 * prints each response's status line, then `ok` when the request worked.
 */
function probeFor(app: string, slice: string, run: number): { service: string; line: (host: string, port: string) => string } | undefined {
  const get = (path: string, host: string, port: string): string => `printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 10 ${host} ${port}`;
  if (app === 'video') {
    // busybox nc half-closes once its stdin ends, and nginx takes that for a
    // client gone: the edge drops a request it must take to the origin and
    // answers only from its cache (1 s for a playlist), so this may take a
    // few tries after the edge is announced (busybox wget answered nothing there either).
    return { service: 'edge', line: (h, p) => `r=$(${get('/hls/live.m3u8', h, p)}); echo "$r" | head -1; echo "$r" | grep -q '^#EXTM3U' && echo ok` };
  }
  if (app === 'storage') {
    const body = `hearth bench ${slice} run ${run}`;
    const path = `/bench-${run}.txt`;
    return {
      service: 'webdav',
      line: (h, p) => `w=$(printf 'PUT ${path} HTTP/1.0\\r\\nContent-Length: ${body.length}\\r\\n\\r\\n${body}' | nc -w 10 ${h} ${p}); echo "$w" | head -1; ` +
        `r=$(${get(path, h, p)}); echo "$r" | head -1; echo "$w" | head -1 | grep -q ' 20[14] ' && echo "$r" | grep -qx '${body}' && echo ok`,
    };
  }
  if (app === 'file-sharing') {
    return { service: 'catalog', line: (h, p) => `r=$(${get('/torrents/', h, p)}); echo "$r" | head -1; echo "$r" | head -1 | grep -q ' 200 ' && echo ok` };
  }
  return undefined;
}

// ---------------------------------------------------------------- one run

interface Run {
  app: string; run: number; slice: string; hosts: string[];
  placedMs: number | null; startedMs: number | null; installedMs: number | null; announcedMs: number | null; gw1HadMs: number | null;
  triedMs: number | null;
  listedMs: number | null; answeredMs: number | null; polls: number; attempts: number; probeVia: string | null;
  removedMs: number | null; failures: string[];
}

interface Bench { state: TestbedState; key: string; visitors: Map<string, string> }

async function oneRun(b: Bench, app: string, run: number): Promise<Run> {
  const members = b.state.members;
  const gw1 = memberOf(b.state, 1);
  const slice = `${app}-${run}`;
  const r: Run = {
    app, run, slice, hosts: [], placedMs: null, startedMs: null, installedMs: null, announcedMs: null, gw1HadMs: null, triedMs: null,
    listedMs: null, answeredMs: null, polls: 0, attempts: 0, probeVia: null, removedMs: null, failures: [],
  };
  const probe = probeFor(app, slice, run);
  const t0 = Date.now();
  const view = JSON.parse(await runHearth(gw1, ['app', 'deploy', app, '--name', slice, '--gateways', String(APP_GATEWAYS), '--key', b.key, '--no-wait', '--json'])) as SliceView;
  r.placedMs = Date.now() - t0;
  r.hosts = view.slivers.map((s) => s.gateway ?? '?');
  progress(`${slice}: placed on ${r.hosts.join(', ')} ${sec(r.placedMs)} after the deploy started`);

  // Two loops at once, so that a slow request never delays the directory's poll:
  // gw1's directory polled until it lists every service, and the request
  // tried, from the latest directory seen, until it works.
  let lastMissing: string[] = [];
  let directory: DirectoryEntry[] = [];
  const listing = until(SERVING_TIMEOUT_MS, 250, async () => {
    r.polls++;
    const seen = await runHearth(gw1, ['services', '--json']).then((out) => JSON.parse(out) as DirectoryEntry[], () => undefined);
    if (seen === undefined) return undefined;
    directory = seen;
    lastMissing = missingServices(view, seen);
    if (lastMissing.length > 0) return undefined;
    r.listedMs = Date.now() - t0;
    progress(`${slice}: gw1 lists every service ${sec(r.listedMs)} after the deploy (poll ${r.polls})`);
    return true;
  });
  const requesting = probe === undefined ? Promise.resolve(undefined) : until(SERVING_TIMEOUT_MS, 500, async () => {
    const entry = directory.find((e) => e.slice === slice && e.name === probe.service);
    const visitor = entry === undefined ? undefined : members.find((m) => m.name !== entry.gateway);
    if (entry === undefined || visitor === undefined) return undefined;
    const [host, port] = entry.address.split(':') as [string, string];
    const tried = Date.now();
    r.attempts++;
    const out = await runHearth(visitor, ['sliver', 'exec', b.visitors.get(visitor.name) as string, '--', 'sh', '-c', `${probe.line(host, port)} || true`])
      .catch((e: Error) => `the exec failed: ${e.message.slice(-80)}`);
    const lines = out.split('\n').map((l) => l.trim());
    if (!lines.includes('ok')) {
      progress(`${slice}: request ${r.attempts} to ${entry.sliver} on ${entry.gateway} from ${visitor.name} not answered (${sec(Date.now() - tried)}): ${lines.filter((l) => l !== '').join(' | ') || '(nothing)'}`);
      return undefined;
    }
    r.answeredMs = Date.now() - t0;
    r.triedMs = tried - t0;
    r.probeVia = `${visitor.name} → ${entry.sliver} on ${entry.gateway}`;
    progress(`${slice}: ${probe.service} answered (${r.probeVia}) ${sec(r.answeredMs)} after the deploy, request ${r.attempts}`);
    return true;
  });
  await Promise.all([listing, requesting]);
  if (r.listedMs === null) r.failures.push(`${slice}: gw1 still lacks ${lastMissing.join(', ')} ${SERVING_TIMEOUT_MS / 1000} s after the deploy`);
  if (r.answeredMs === null) r.failures.push(`${slice}: no real request answered within ${SERVING_TIMEOUT_MS / 1000} s`);

  // The hosts' own records.
  const events = sliceEvents(members, slice, t0);
  const latest = (type: string): number | null => {
    const at = events.filter((e) => e.type === type).map((e) => e.at);
    return at.length === view.spec.slivers ? Math.max(...at) - t0 : null;
  };
  r.startedMs = latest('sliver.started');
  r.installedMs = latest('app.installed');
  for (const e of events.filter((x) => x.type === 'app.installed')) {
    const exit = (JSON.parse(e.detail) as { exitCode?: number }).exitCode;
    if (exit !== 0) r.failures.push(`${e.sliver}: the app's boot commands exited ${String(exit)}`);
  }
  const slivers = new Set(view.slivers.map((s) => s.name ?? `${slice}-${s.index}`));
  // Each service's first announcement since the deploy.
  const announced = new Map<string, number>();
  for (const l of members.flatMap((m) => logLines(m.dataDir, ['service announced']))) {
    const id = `${String(l.fields['sliver'])}/${String(l.fields['service'])}`;
    if (l.at >= t0 && slivers.has(String(l.fields['sliver'])) && !announced.has(id)) announced.set(id, l.at);
  }
  const expected = expectedServices(view);
  r.announcedMs = expected.every((s) => announced.has(s)) ? Math.max(...announced.values()) - t0 : null;
  // When gw1 had each one: its own announcement for its own slivers, else its first pull from the host listing it.
  const hostOf = new Map(view.slivers.map((s) => [s.name ?? `${slice}-${s.index}`, s.gateway ?? '?']));
  const gw1Pulls = logLines(gw1.dataDir, ['pulled services']).filter((l) => l.at >= t0);
  const gw1Had = expected.map((s) => {
    const host = hostOf.get(s.split('/')[0] as string);
    if (host === gw1.name) return announced.get(s);
    return gw1Pulls.find((l) => l.fields['member'] === host && (l.fields['services'] as string[]).includes(s))?.at;
  });
  r.gw1HadMs = gw1Had.every((t) => t !== undefined) ? Math.max(...(gw1Had as number[])) - t0 : null;
  progress(`${slice}: slivers started ${sec(r.startedMs)}, app installed ${sec(r.installedMs)}, last service announced ${sec(r.announcedMs)} (${announced.size} of ${expected.length}), gw1 had them all ${sec(r.gw1HadMs)}`);

  r.removedMs = (await removeApp(gw1, members, slice, b.key)) ?? null;
  if (r.removedMs === null) r.failures.push(`${slice}: slivers left 180 s after app rm`);
  progress(`${slice}: removed everywhere ${sec(r.removedMs)} after app rm`);
  return r;
}

// ---------------------------------------------------------------- running it

const teardown = takeDownOnExit(progress);

async function main(): Promise<void> {
  const machine = await machineLine();
  const root = values.dir ?? mkdtempSync('/tmp/hearth-bench-apps-');
  mkdirSync(root, { recursive: true });
  // The gateways' containers live below; their unprivileged root must traverse it.
  chmodSync(root, 0o755);
  const key = `${root}/user.key`;
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  progress(`machine: ${machine}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

  const dir = `${root}/tb`;
  const port = values.port === undefined ? await freePort() : Number(values.port);
  const runs: Run[] = [];
  const images: string[] = [];
  const loads: string[] = [];
  teardown.active = dir;
  try {
    const up = await testbedUp({ gateways: GATEWAYS, link: values.link, seed: Number(values.seed), dir, prefix: PREFIX, port, underlay: UNDERLAY, progress });
    const gw1 = memberOf(up.state, 1);
    // Each app's image, and how long it took to build the first time.
    for (const line of await appImageLines(gw1, APPS)) {
      images.push(line);
      progress(line);
    }
    // A busybox sliver on every gateway, to make the user's request from.
    const visitors = new Map<string, string>();
    for (const m of up.state.members) {
      await runHearth(m, ['sliver', 'create', `visit${gatewayNumber(m.name)}`, '--cpu', '0.05', '--memory', '32', '--disk', '64', '--json']);
      visitors.set(m.name, `visit${gatewayNumber(m.name)}`);
    }
    const b: Bench = { state: up.state, key, visitors };
    for (let run = 1; run <= RUNS; run++) {
      for (const app of APPS) {
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
        loads.push(load);
        progress(`run ${run}/${RUNS}: ${app} (load average ${load})`);
        runs.push(await oneRun(b, app, run));
        await sleep(1000);
      }
    }
  } finally {
    await testbedDown({ dir, progress });
    teardown.active = undefined;
    if (values.dir === undefined) rmSync(root, { recursive: true, force: true });
  }

  const failures = runs.flatMap((x) => x.failures);
  console.log(JSON.stringify({ machine, link: values.link, seed: Number(values.seed), gateways: GATEWAYS, images, loads, runs }, null, 2));
  console.log('');
  console.log(`machine: ${machine}`);
  console.log(`${GATEWAYS} gateways, ${values.link} links, layout seed ${values.seed}; load average at each run's start: ${loads.join(', ')}`);
  for (const line of images) console.log(`image ${line}`);
  const rows: [string, keyof Run][] = [
    ['**deploy → all services listed by gw1**', 'listedMs'],
    ['**deploy → first real request answered**', 'answeredMs'],
    ['deploy CLI returned (slice placed)', 'placedMs'],
    ['last sliver started (hosts\' sliver.started)', 'startedMs'],
    ['last app installed (hosts\' app.installed)', 'installedMs'],
    ['last service announced (hosts\' log lines)', 'announcedMs'],
    ['gw1 had every service (its own lines, its pulls)', 'gw1HadMs'],
    ['the request that worked was sent (its CLI started)', 'triedMs'],
    ['(app rm → no sliver left anywhere)', 'removedMs'],
  ];
  console.log('');
  console.log(`| from the deploy (${RUNS} run${RUNS === 1 ? '' : 's'} each; median / max) | ${APPS.join(' | ')} |`);
  console.log(`| --- |${APPS.map(() => ' --- |').join('')}`);
  for (const [label, k] of rows) {
    const cells = APPS.map((app) => {
      const s = medianMax(runs.filter((x) => x.app === app).map((x) => x[k] as number | null));
      return `${s.median} / ${s.max}${s.n < RUNS ? ` (n=${s.n})` : ''}`;
    });
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  }
  if (failures.length > 0) {
    console.log('\nnot as expected:');
    for (const f of failures) console.log(`  ${f}`);
    process.exitCode = 1;
  }
}

await main();
