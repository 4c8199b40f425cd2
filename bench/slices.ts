// Benchmark of slices (issue: a community cloud with no coordinator) on the
// emulated network, with real agents, real Serf and real LXC:
//  1. a slice of 3 busybox slivers, request → every sliver running, median
//     of --runs (create, measure, delete, wait until gone); beside it plain
//     lxc-copy snapshot + lxc-start of one busybox container (and of three at once),
//     interleaved run by run, as the raw reference;
//  2. --slices slices of 3 requested at the same moment from as many entry
//     gateways: how many are placed, refusals, each gateway's committed
//     resources against what it contributes, time until all slivers run;
//  3. a gateway that hosts a sliver is killed: time until the slice runs
//     again without it, as a user polling the API sees it, broken down by the
//     agents' logs (failure seen by the healer, healing started, placement
//     committed, the new sliver started); --runs times, the gateway restarted
//     and the slice back to exactly N between runs;
//  4. the network split (60/40) with slices of 2 on both sides: each side
//     heals, then the split heals: time until every slice is back to exactly
//     N slivers in the whole community.
// The user's requests come from a small Node process inside an entry
// gateway's namespace (bench/slice-client.ts) that signs first and then
// talks HTTP to the API, so no CLI start is timed. Other times come from the
// agents' own records: their log lines and the `events` table of each
// gateway's database (read-only), stamped by the machine's one clock; the
// census of slivers is read from those databases too, not from 20 CLIs.
// Run as root after `npm run build`:
//   node dist/bench/slices.js [--figure 1|2|3|4|all] [--runs N] [--gateways N] [--link wifi] [--keep]
//     [--slices N (figure 2, default 10)] [--split-slices N (figure 4, default 6)]
//     [--prefix bsl] [--dir DIR] [--underlay 172.27.0.0/16] [--port P (default: a free one)] [--seed 7]
// Figures 1 and 3 default to 5 gateways, 2 and 4 to 20 (--gateways sets all);
// figures of one size share one testbed. --runs is figure 1's (default 10)
// and figure 3's (default 5). --keep leaves the last testbed up.

import { generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createRng } from '../src/kit/rng.js';
import type { SliceView } from '../src/model/slice.js';
import type { Sliver } from '../src/api/schemas.js';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { testbedHeal, testbedKill, testbedPartition, testbedRestart } from '../src/testbed/controller-ops.js';
import { readNodes } from '../src/testbed/community.js';
import { logTail, runHearth } from '../src/testbed/gateway-process.js';
import { mapBounded } from '../src/testbed/map-bounded.js';
import { readTestbedState, type TestbedGatewayState, type TestbedState } from '../src/testbed/state.js';
import { freePort } from '../test/support/ports.js';
import { logLines, machineLine, median, memberLines, sleep, spawnInGateway, until, withDb } from './lib.js';
import { takeDownOnExit } from './teardown.js';
import { rawLxc, type RawLxc } from './raw-lxc.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    figure: { type: 'string', default: 'all' },
    runs: { type: 'string' },
    gateways: { type: 'string' },
    slices: { type: 'string' },
    'split-slices': { type: 'string' },
    link: { type: 'string', default: 'wifi' },
    seed: { type: 'string', default: '7' },
    prefix: { type: 'string', default: 'bsl' },
    dir: { type: 'string' },
    underlay: { type: 'string', default: '172.27.0.0/16' },
    port: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const FIGURES = values.figure === 'all' ? [1, 2, 3, 4] : values.figure.split(',').map(Number);
if (FIGURES.some((f) => ![1, 2, 3, 4].includes(f))) throw new Error(`--figure is 1, 2, 3, 4, a list of them or all, not ${values.figure}`);
const LINK = values.link;
const SEED = Number(values.seed);
const PREFIX = values.prefix;
// The test runner's sweep removes namespaces of prefixes like these.
if (/^t[a-z]{3}$/.test(PREFIX)) throw new Error(`--prefix ${PREFIX} looks like a test run's; the test runner would sweep it`);
const UNDERLAY = parseSubnet(values.underlay);
const SIZE: Record<number, number> = { 1: 5, 2: 20, 3: 5, 4: 20 };
const gatewaysFor = (figure: number): number => (values.gateways === undefined ? SIZE[figure] as number : Number(values.gateways));
const RUNS: Record<number, number> = { 1: Number(values.runs ?? 10), 3: Number(values.runs ?? 5) };
const SLICES: Record<number, number> = { 2: Number(values.slices ?? 10), 4: Number(values['split-slices'] ?? 6) };
const API = 'http://127.0.0.1:7470';
const CLIENT = fileURLToPath(new URL('./slice-client.js', import.meta.url));

type Member = TestbedGatewayState;
const progress = (line: string): void => {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
};
const sec = (ms: number | undefined | null): string => (ms === undefined || ms === null || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);

// ---------------------------------------------------------------- the user's client

interface ClientResult {
  name?: string; sentAt?: number; answeredAt?: number; status?: number; code?: string | null; detail?: string | null;
  runningAt?: number | null; polls?: number; view?: SliceView | null; at?: number | null;
  results?: { name: string; status: number; code: string | null }[];
}

interface Client {
  /** Resolves when the client said it is ready (create with go, watch). */
  ready: Promise<void>;
  go(): void;
  result: Promise<ClientResult>;
}

function startClient(m: Member, job: Record<string, unknown>): Client {
  const token = readFileSync(`${m.dataDir}/owner.token`, 'utf8').trim();
  const child = spawnInGateway(m, [process.execPath, CLIENT, JSON.stringify({ api: API, ...job })], { HEARTH_BENCH_TOKEN: token });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<ClientResult>((resolve, reject) => {
    let got: ClientResult | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      let nl;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        let j: ClientResult & { ready?: boolean };
        try {
          j = JSON.parse(line) as ClientResult & { ready?: boolean };
        } catch {
          stderr += `${line}\n`;
          continue;
        }
        if (j.ready === true) onReady();
        else got = j;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A client that hangs must not hang the bench: it is killed well after its own time limit.
    const timer = setTimeout(() => child.kill('SIGKILL'), Number(job['timeoutMs'] ?? 60_000) + 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (got !== undefined) resolve(got);
      else reject(new Error(`${m.name}: the slice client exited ${String(code)} with no result: ${stderr.trim().slice(-500)}`));
    });
  });
  // A client that dies before it is ready must not leave its waiter hanging.
  void result.catch(() => onReady());
  // Writing "go" to a client that died already must not throw.
  child.stdin.on('error', () => undefined);
  if (job['go'] !== true) child.stdin.end();
  return { ready, go: () => child.stdin.end('go\n'), result };
}

async function deleteSlices(m: Member, key: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const r = await startClient(m, { mode: 'delete', key, names }).result;
  for (const x of r.results ?? []) if (x.status !== 202) progress(`delete ${x.name} via ${m.name}: ${x.status} ${x.code ?? ''}`);
}

// ---------------------------------------------------------------- what the gateways' databases say

interface Row { gateway: string; name: string; slice: string; index: number | null; desired: string; observed: string; cpu: number; memoryMb: number }


/** Every sliver row of every gateway; undefined when some database could not be read this time. */
function census(members: readonly Member[]): Row[] | undefined {
  const rows: Row[] = [];
  for (const m of members) {
    const mine = withDb(m, (db) => db.prepare('SELECT name, slice, slice_index AS "index", desired, observed, cpu, memory_mb AS memoryMb FROM slivers').all() as Omit<Row, 'gateway'>[]);
    if (mine === undefined) return undefined;
    for (const r of mine) rows.push({ gateway: m.name, ...r });
  }
  return rows;
}

const live = (rows: readonly Row[], slice: string): Row[] => rows.filter((r) => r.slice === slice && r.desired !== 'gone');

/** Each sliver's latest event of each type (sliver.requested, .created, .started, …) at or after `since`, by sliver name, over all gateways. */
function sliverEvents(members: readonly Member[], since: number, names?: ReadonlySet<string>): Map<string, Map<string, number>> {
  const iso = new Date(since).toISOString();
  const out = new Map<string, Map<string, number>>();
  for (const m of members) {
    const rows = withDb(m, (db) => db.prepare('SELECT at, type, detail FROM events WHERE at >= ?').all(iso) as { at: string; type: string; detail: string }[]) ?? [];
    for (const r of rows) {
      const name = String((JSON.parse(r.detail) as { name?: unknown }).name);
      if (names !== undefined && !names.has(name)) continue;
      const mine = out.get(name) ?? new Map<string, number>();
      mine.set(r.type, Math.max(mine.get(r.type) ?? 0, Date.parse(r.at)));
      out.set(name, mine);
    }
  }
  return out;
}

/** When each sliver named in `names` last started (event `sliver.started`) at or after `since`, over all gateways. */
function startedAt(members: readonly Member[], since: number, names?: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, types] of sliverEvents(members, since, names)) {
    const at = types.get('sliver.started');
    if (at !== undefined) out.set(name, at);
  }
  return out;
}


/** Every slice of `specs` has exactly its N live slivers, all running, on N distinct gateways. */
function exactAndRunning(rows: readonly Row[], specs: ReadonlyMap<string, number>): boolean {
  for (const [slice, n] of specs) {
    const l = live(rows, slice);
    if (l.length !== n || new Set(l.map((r) => r.gateway)).size !== n || l.some((r) => r.observed !== 'running')) return false;
  }
  return true;
}

/** True when every running gateway's last word on every member of `names` is `alive`. */
function everyoneSeesAll(members: readonly Member[], names: readonly string[]): boolean {
  return members.every((m) => {
    const status = new Map<string, string>();
    for (const l of memberLines(m.dataDir)) status.set(l.member, l.status);
    return names.every((n) => status.get(n) === 'alive');
  });
}

// ---------------------------------------------------------------- a testbed for some figures

interface Bench {
  state: TestbedState;
  dir: string;
  key: string;
  members(): Member[];
  member(name: string): Member;
}

async function makeSlice(b: Bench, entry: Member, name: string, slivers: number, pollMs: number): Promise<ClientResult> {
  return startClient(entry, { mode: 'create', key: b.key, spec: { name, slivers, resources: { memoryMb: 64 } }, pollMs, timeoutMs: 120_000 }).result;
}

// ---------------------------------------------------------------- figure 1

interface Figure1 {
  runs: number; gateways: number;
  apiMs: number[]; hostsMs: number[]; placedMs: number[]; raw1Ms: number[]; raw3Ms: number[];
  /** From the request until the last host had its sliver in its store (event sliver.requested). */
  committedMs: number[];
  /** Per sliver: from its row in the host's store until it ran (sliver.requested → sliver.started). */
  hostMs: number[];
  failures: string[];
}

async function figure1(b: Bench, runs: number): Promise<Figure1> {
  const entry = b.member('gw1');
  const bridge = `${PREFIX}rawbr`;
  const r: Figure1 = { runs, gateways: b.state.gateways, apiMs: [], hostsMs: [], placedMs: [], raw1Ms: [], raw3Ms: [], committedMs: [], hostMs: [], failures: [] };
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  let raw: RawLxc | undefined;
  try {
    await run('ip', ['link', 'set', bridge, 'up']);
    raw = await rawLxc(bridge);
    for (let i = 0; i < runs; i++) {
      r.raw1Ms.push(await raw.createStart(`bslraw${i}`));
      await raw.destroy(`bslraw${i}`);
      const three = [0, 1, 2].map((k) => `bslraw${i}x${k}`);
      const t3 = performance.now();
      await Promise.all(three.map((n) => raw?.createStart(n)));
      r.raw3Ms.push(performance.now() - t3);
      for (const n of three) await raw.destroy(n);

      const name = `one${i}`;
      const res = await makeSlice(b, entry, name, 3, 50);
      if (res.status !== 201 || res.runningAt === null || res.runningAt === undefined) {
        r.failures.push(`${name}: ${res.status ?? '?'} ${res.code ?? ''} ${res.detail ?? ''} state ${res.view?.state ?? '?'}`);
      } else {
        const sentAt = res.sentAt as number;
        r.apiMs.push(res.runningAt - sentAt);
        r.placedMs.push((res.answeredAt as number) - sentAt);
        const events = [...sliverEvents(b.members(), sentAt, new Set([0, 1, 2].map((k) => `${name}-${k}`))).values()];
        const started = events.map((e) => e.get('sliver.started')).filter((t): t is number => t !== undefined);
        const requested = events.map((e) => e.get('sliver.requested')).filter((t): t is number => t !== undefined);
        if (started.length === 3) r.hostsMs.push(Math.max(...started) - sentAt);
        if (requested.length === 3) r.committedMs.push(Math.max(...requested) - sentAt);
        for (const e of events) {
          const [a, z] = [e.get('sliver.requested'), e.get('sliver.started')];
          if (a !== undefined && z !== undefined) r.hostMs.push(z - a);
        }
        progress(`figure 1 run ${i + 1}/${runs}: running after ${sec(res.runningAt - sentAt)} (API), ${sec(Math.max(...started) - sentAt)} (hosts' events), placed after ${sec((res.answeredAt as number) - sentAt)}, on the hosts' stores at ${sec(r.committedMs.at(-1))}, each host's create+start ${r.hostMs.slice(-3).map((x) => sec(x)).join(', ')}; plain lxc ${sec(r.raw1Ms.at(-1))}, three at once ${sec(r.raw3Ms.at(-1))}`);
      }
      await deleteSlices(entry, b.key, [name]);
      const gone = await until(60_000, 250, () => (census(b.members())?.every((row) => row.slice !== name) === true ? true : undefined));
      if (gone === undefined) r.failures.push(`${name}: not gone 60 s after its delete`);
    }
  } finally {
    await raw?.close();
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  }
  return r;
}

// ---------------------------------------------------------------- figure 2

interface Figure2 {
  gateways: number; slices: number;
  placed: number; refusals: Record<string, number>; allRunningMs: number | null; answersMs: number[];
  /** From the first request until the last host had its sliver in its store (sliver.requested). */
  lastCommittedMs: number | null;
  /** Per sliver on its host: sliver.requested → sliver.started. */
  hostMs: number[];
  maxCpu: { gateway: string; committed: number; contributed: number };
  maxMemory: { gateway: string; committed: number; contributed: number };
  maxSlivers: { gateway: string; committed: number; contributed: number };
  overCommitted: string[]; spreadViolations: string[]; failures: string[];
}

async function figure2(b: Bench, slices: number): Promise<Figure2> {
  const members = b.members();
  const n = members.length;
  if (slices > n) progress(`figure 2: ${slices} slices from ${n} gateways: some gateways are the entry of more than one`);
  const names = Array.from({ length: slices }, (_, i) => `many${i}`);
  const entries = names.map((_, i) => members[Math.floor((i * n) / slices) % n] as Member);
  progress(`figure 2: starting ${slices} clients (entries ${entries.map((m) => m.name).join(', ')})`);
  const clients = names.map((name, i) => startClient(entries[i] as Member, {
    mode: 'create', key: b.key, spec: { name, slivers: 3, resources: { memoryMb: 64 } }, go: true, pollMs: 0, timeoutMs: 120_000,
  }));
  await Promise.all(clients.map((c) => c.ready));
  // Let the clients' start settle before the clock starts.
  await sleep(1000);
  for (const c of clients) c.go();
  const results = await Promise.all(clients.map((c) => c.result));
  const r: Figure2 = {
    gateways: n, slices, placed: 0, refusals: {}, allRunningMs: null, answersMs: [], lastCommittedMs: null, hostMs: [],
    maxCpu: { gateway: '-', committed: 0, contributed: 0 }, maxMemory: { gateway: '-', committed: 0, contributed: 0 }, maxSlivers: { gateway: '-', committed: 0, contributed: 0 },
    overCommitted: [], spreadViolations: [], failures: [],
  };
  const t0 = Math.min(...results.map((x) => x.sentAt ?? Number.POSITIVE_INFINITY));
  const spread = Math.max(...results.map((x) => x.sentAt ?? 0)) - t0;
  progress(`figure 2: the ${slices} requests left within ${spread} ms of each other`);
  const placed = results.filter((x) => x.status === 201).map((x) => x.name as string);
  r.placed = placed.length;
  r.answersMs = results.map((x) => (x.answeredAt ?? 0) - (x.sentAt ?? 0));
  for (const x of results) {
    if (x.status !== 201) {
      const code = x.code ?? String(x.status);
      r.refusals[code] = (r.refusals[code] ?? 0) + 1;
      progress(`figure 2: ${x.name ?? '?'} refused: ${x.status ?? '?'} ${code}: ${x.detail ?? ''}`);
    }
  }
  const specs = new Map(placed.map((s) => [s, 3]));
  const done = await until(180_000, 250, () => {
    const rows = census(members);
    return rows !== undefined && exactAndRunning(rows, specs) ? rows : undefined;
  });
  if (done === undefined) {
    r.failures.push('not every placed slice had its 3 slivers running within 180 s');
  } else {
    const events = [...sliverEvents(members, t0, new Set(placed.flatMap((s) => [0, 1, 2].map((k) => `${s}-${k}`)))).values()];
    const started = events.map((e) => e.get('sliver.started')).filter((t): t is number => t !== undefined);
    const requested = events.map((e) => e.get('sliver.requested')).filter((t): t is number => t !== undefined);
    r.allRunningMs = started.length === placed.length * 3 ? Math.max(...started) - t0 : null;
    r.lastCommittedMs = requested.length === placed.length * 3 ? Math.max(...requested) - t0 : null;
    for (const e of events) {
      const [a, z] = [e.get('sliver.requested'), e.get('sliver.started')];
      if (a !== undefined && z !== undefined) r.hostMs.push(z - a);
    }
  }

  // Committed against contributed, as each gateway's own `sliver ls` and the community's view say.
  const nodes = await readNodes(members[0] as Member);
  const contributed = new Map(nodes.items.map((i) => [i.name, i.contributed ?? {}]));
  const listed = await mapBounded(members, 4, async (m) => ({ m, items: JSON.parse(await runHearth(m, ['sliver', 'ls', '--json'])) as Sliver[] }));
  for (const { m, items } of listed) {
    const mine = items.filter((s) => s.desired !== 'gone');
    const c = contributed.get(m.name) ?? {};
    const use = { cpu: mine.reduce((a, s) => a + s.resources.cpu, 0), memoryMb: mine.reduce((a, s) => a + s.resources.memoryMb, 0), slivers: mine.length };
    const cap = { cpu: c['cpu'] ?? Number.NaN, memoryMb: c['memoryMb'] ?? Number.NaN, slivers: c['slivers'] ?? Number.NaN };
    if (use.cpu > r.maxCpu.committed) r.maxCpu = { gateway: m.name, committed: use.cpu, contributed: cap.cpu };
    if (use.memoryMb > r.maxMemory.committed) r.maxMemory = { gateway: m.name, committed: use.memoryMb, contributed: cap.memoryMb };
    if (use.slivers > r.maxSlivers.committed) r.maxSlivers = { gateway: m.name, committed: use.slivers, contributed: cap.slivers };
    if (use.cpu > cap.cpu + 1e-9 || use.memoryMb > cap.memoryMb || use.slivers > cap.slivers) {
      r.overCommitted.push(`${m.name}: cpu ${use.cpu}/${cap.cpu}, memory ${use.memoryMb}/${cap.memoryMb}, slivers ${use.slivers}/${cap.slivers}`);
    }
  }
  const rows = census(members) ?? [];
  for (const s of placed) {
    const l = live(rows, s);
    if (new Set(l.map((x) => x.gateway)).size !== l.length) r.spreadViolations.push(`${s}: ${l.map((x) => x.gateway).join(',')}`);
  }

  progress(`figure 2: removing the ${placed.length} slices`);
  await deleteSlices(members[0] as Member, b.key, placed);
  const gone = await until(120_000, 500, () => (census(members)?.every((row) => !row.slice.startsWith('many')) === true ? true : undefined));
  if (gone === undefined) r.failures.push("figure 2's slices were not gone 120 s after their delete");
  return r;
}

// ---------------------------------------------------------------- figure 3

interface Figure3Run {
  victim: string; healer: string | null; endToEndMs: number | null;
  detectedMs: number | null; detectedEverywhereMs: number | null; healingMs: number | null; healedMs: number | null; startedMs: number | null;
  backToNMs: number | null;
}

async function figure3(b: Bench, runs: number): Promise<{ runs: Figure3Run[]; gateways: number; failures: string[] }> {
  const failures: string[] = [];
  const out: Figure3Run[] = [];
  const name = 'heal';
  const specs = new Map([[name, 3]]);
  const created = await makeSlice(b, b.member('gw1'), name, 3, 200);
  if (created.status !== 201 || created.runningAt === null) {
    failures.push(`the slice did not run: ${created.status ?? '?'} ${created.code ?? ''} ${created.detail ?? ''}`);
    return { runs: out, gateways: b.state.gateways, failures };
  }
  for (let i = 0; i < runs; i++) {
    const before = await until(120_000, 500, () => {
      const rows = census(b.members());
      return rows !== undefined && exactAndRunning(rows, specs) ? live(rows, name) : undefined;
    });
    if (before === undefined) {
      failures.push(`run ${i + 1}: the slice was not at exactly 3 running`);
      break;
    }
    // Kill a host other than gw1, which keeps answering the user; a different one each run where there is a choice.
    const hosts = before.map((x) => x.gateway).filter((g) => g !== 'gw1').sort();
    const victim = hosts[i % hosts.length] as string;
    const observer = b.member('gw1');
    const watch = startClient(observer, { mode: 'watch', name, slivers: 3, avoid: [victim], pollMs: 100, timeoutMs: 90_000 });
    await watch.ready;
    const killedAt = Date.now();
    await testbedKill(victim, { dir: b.dir });
    const seen = await watch.result;
    const survivors = b.members().filter((m) => m.name !== victim);

    const after = (m: Member, msgs: string[]): ReturnType<typeof logLines> => logLines(m.dataDir, msgs).filter((l) => l.at >= killedAt);
    const healing = survivors.flatMap((m) => after(m, ['healing: placing']).filter((l) => l.fields['slice'] === name).map((l) => ({ m, l })))
      .sort((x, y) => x.l.at - y.l.at)[0];
    const healer = healing?.m;
    const failedAt = (m: Member): number | undefined => memberLines(m.dataDir).find((l) => l.at >= killedAt && l.member === victim && l.status === 'failed')?.at;
    const detected = survivors.map(failedAt);
    const healedLine = healer === undefined ? undefined : after(healer, ['slice healed']).find((l) => l.fields['slice'] === name);
    const placement = (healedLine?.fields['placement'] ?? {}) as Record<string, string>;
    const moved = Object.entries(placement).filter(([, g]) => !before.some((x) => x.gateway === g)).map(([idx]) => `${name}-${idx}`);
    const started = startedAt(survivors, killedAt, new Set(moved));
    const rel = (t: number | undefined | null): number | null => (t === undefined || t === null ? null : t - killedAt);
    const result: Figure3Run = {
      victim, healer: healer?.name ?? null,
      endToEndMs: rel(seen.at),
      detectedMs: healer === undefined ? null : rel(failedAt(healer)),
      detectedEverywhereMs: detected.every((t) => t !== undefined) ? rel(Math.max(...(detected as number[]))) : null,
      healingMs: rel(healing?.l.at),
      healedMs: rel(healedLine?.at),
      startedMs: started.size > 0 && started.size === moved.length ? rel(Math.max(...started.values())) : null,
      backToNMs: null,
    };
    if (seen.at === null || seen.at === undefined) {
      failures.push(`run ${i + 1}: the slice did not run without ${victim} within 90 s; last seen ${JSON.stringify(seen.view?.slivers.map((s) => [s.gateway, s.observed]))}`);
      if (healer === undefined) for (const m of survivors) progress(`${m.name} log tail:\n${logTail(m, 8)}`);
    }
    progress(`figure 3 run ${i + 1}/${runs}: killed ${victim}; healer ${result.healer ?? '?'} saw it failed at ${sec(result.detectedMs)}, healing at ${sec(result.healingMs)}, healed at ${sec(result.healedMs)}, new sliver started at ${sec(result.startedMs)}, user saw it running at ${sec(result.endToEndMs)}`);

    // Bring the gateway back and wait until the slice is at exactly three again and everyone sees everyone.
    await testbedRestart(victim, { dir: b.dir });
    b.state = readTestbedState(b.dir) ?? b.state;
    const restartedAt = Date.now();
    const back = await until(120_000, 500, () => {
      const rows = census(b.members());
      return rows !== undefined && exactAndRunning(rows, specs) && everyoneSeesAll(b.members(), b.members().map((m) => m.name)) ? true : undefined;
    });
    if (back === undefined) failures.push(`run ${i + 1}: not back to exactly 3 with ${victim} alive everywhere within 120 s of its restart`);
    else result.backToNMs = Date.now() - restartedAt;
    out.push(result);
    await sleep(2000);
  }
  await deleteSlices(b.member('gw1'), b.key, [name]);
  await until(60_000, 500, () => (census(b.members())?.every((row) => row.slice !== name) === true ? true : undefined));
  return { runs: out, gateways: b.state.gateways, failures };
}

// ---------------------------------------------------------------- figure 4

/** A split of `gateways` into sides of `sizeA` and the rest that cuts the most of `placements` (each a slice's hosts). */
function chooseSplit(gateways: readonly string[], placements: readonly string[][], sizeA: number, seed: number): { a: string[]; b: string[]; cut: number } {
  const rng = createRng(seed);
  const cutOf = (a: ReadonlySet<string>): number => placements.filter((p) => p.some((g) => a.has(g)) && p.some((g) => !a.has(g))).length;
  let best = { a: new Set<string>(), cut: -1 };
  for (let restart = 0; restart < 50; restart++) {
    const order = [...gateways].sort(() => rng() - 0.5);
    const a = new Set(order.slice(0, sizeA));
    let cut = cutOf(a);
    for (let improved = true; improved;) {
      improved = false;
      for (const x of [...a]) {
        for (const y of gateways.filter((g) => !a.has(g))) {
          a.delete(x);
          a.add(y);
          const c = cutOf(a);
          if (c > cut) {
            cut = c;
            improved = true;
            break;
          }
          a.delete(y);
          a.add(x);
        }
        if (improved) break;
      }
    }
    if (cut > best.cut) best = { a: new Set(a), cut };
  }
  return { a: gateways.filter((g) => best.a.has(g)), b: gateways.filter((g) => !best.a.has(g)), cut: best.cut };
}

interface Figure4 {
  gateways: number; slices: number; sides: [number, number]; cut: number;
  sidesHealedMs: number | null; viewWholeMs: number | null; firstAdoptMs: number | null; lastRemovalMs: number | null;
  exactMs: number | null; belowN: string[];
  /** The slice keepers' lines from the split on, ms after the split: who healed what, and when. */
  timeline: string[];
  failures: string[];
}

async function figure4(b: Bench, slices: number): Promise<Figure4> {
  const members = b.members();
  const n = members.length;
  const names = Array.from({ length: slices }, (_, i) => `split${i}`);
  const r: Figure4 = {
    gateways: n, slices, sides: [0, 0], cut: 0, sidesHealedMs: null, viewWholeMs: null, firstAdoptMs: null, lastRemovalMs: null,
    exactMs: null, belowN: [], timeline: [], failures: [],
  };
  for (const [i, name] of names.entries()) {
    const res = await makeSlice(b, members[Math.floor((i * n) / slices) % n] as Member, name, 2, 200);
    if (res.status !== 201 || res.runningAt === null) r.failures.push(`${name}: ${res.status ?? '?'} ${res.code ?? ''} ${res.detail ?? ''}`);
  }
  const specs = new Map(names.map((s) => [s, 2]));
  const placed = await until(60_000, 500, () => {
    const rows = census(members);
    return rows !== undefined && exactAndRunning(rows, specs) ? rows : undefined;
  });
  if (placed === undefined || r.failures.length > 0) {
    r.failures.push('the slices did not all run before the split');
    return r;
  }
  const hostsOf = new Map(names.map((s) => [s, live(placed, s).map((x) => x.gateway)]));
  const split = chooseSplit(members.map((m) => m.name), [...hostsOf.values()], Math.round(n * 0.6), SEED);
  r.sides = [split.a.length, split.b.length];
  r.cut = split.cut;
  progress(`figure 4: split ${split.a.join(',')} / ${split.b.join(',')} cuts ${split.cut} of ${slices} slices`);
  const partitionedAt = Date.now();
  await testbedPartition(`${split.a.join(',')}/${split.b.join(',')}`, { dir: b.dir });

  // Each side runs every slice it held a sliver of, at exactly N running slivers of its own.
  const sides = [split.a, split.b].map((side) => members.filter((m) => side.includes(m.name)));
  const sidesHealed = await until(120_000, 500, () => {
    for (const side of sides) {
      const rows = census(side);
      if (rows === undefined) return undefined;
      for (const s of names) {
        const held = (hostsOf.get(s) ?? []).some((g) => side.some((m) => m.name === g));
        if (held && !exactAndRunning(rows, new Map([[s, 2]]))) return undefined;
      }
    }
    return Date.now();
  });
  if (sidesHealed === undefined) {
    r.failures.push('the two sides did not both heal their slices within 120 s');
    await testbedHeal({ dir: b.dir });
    return r;
  }
  r.sidesHealedMs = sidesHealed - partitionedAt;
  progress(`figure 4: both sides run their slices ${sec(r.sidesHealedMs)} after the split; healing the network`);
  await sleep(2000);

  const healAt = Date.now();
  await testbedHeal({ dir: b.dir });
  const minLive = new Map(names.map((s) => [s, Number.POSITIVE_INFINITY]));
  const exact = await until(180_000, 250, () => {
    const rows = census(members);
    if (rows === undefined) return undefined;
    for (const s of names) minLive.set(s, Math.min(minLive.get(s) as number, live(rows, s).length));
    return exactAndRunning(rows, specs) ? Date.now() : undefined;
  });
  for (const [s, min] of minLive) if (min < 2) r.belowN.push(`${s}: ${min}`);
  if (exact === undefined) {
    const rows = census(members) ?? [];
    r.failures.push(`not exactly 2 of every slice within 180 s of the heal: ${names.map((s) => `${s}=${live(rows, s).map((x) => x.gateway).join(',')}`).join(' ')}`);
  } else {
    r.exactMs = exact - healAt;
  }
  const names2 = members.map((m) => m.name);
  const after = (msgs: string[]): number[] => members.flatMap((m) => logLines(m.dataDir, msgs).filter((l) => l.at >= healAt && names.includes(String(l.fields['slice']))).map((l) => l.at));
  const adopts = after(['took a newer placement']);
  const removals = after(['removed an extra sliver']);
  r.firstAdoptMs = adopts.length === 0 ? null : Math.min(...adopts) - healAt;
  r.lastRemovalMs = removals.length === 0 ? null : Math.max(...removals) - healAt;
  // When every gateway saw every other alive again (from the membership's own lines).
  const whole = members.map((m) => {
    const status = new Map<string, string>();
    for (const l of memberLines(m.dataDir)) {
      status.set(l.member, l.status);
      if (l.at >= healAt && names2.every((g) => status.get(g) === 'alive')) return l.at;
    }
    return names2.every((g) => status.get(g) === 'alive') ? healAt : undefined;
  });
  r.viewWholeMs = whole.every((t) => t !== undefined) ? Math.max(...(whole as number[])) - healAt : null;
  const keeperLines = ['healing: placing', 'slice healed', 'healing failed', 'took a newer placement', 'removed an extra sliver', 'could not confirm', 'a host did not commit'];
  const rel = (at: number): string => `${((at - partitionedAt) / 1000).toFixed(2)} s`;
  r.timeline = [
    ...members.flatMap((m) => logLines(m.dataDir, keeperLines).filter((l) => l.at >= partitionedAt).map((l) => ({
      at: l.at, text: `${rel(l.at)} ${m.name} ${String(l.fields['slice'] ?? '')}: ${l.msg}${l.fields['err'] === undefined ? '' : ` (${String(l.fields['err'])})`}`,
    }))),
    { at: healAt, text: `${rel(healAt)} the network healed` },
  ].sort((x, y) => x.at - y.at).map((x) => x.text);
  for (const line of r.timeline) progress(`figure 4 timeline: ${line}`);
  progress(`figure 4: every gateway saw all alive ${sec(r.viewWholeMs)} after the heal, first newer placement taken at ${sec(r.firstAdoptMs)}, last extra removed at ${sec(r.lastRemovalMs)}, exactly N at ${sec(r.exactMs)}`);

  await deleteSlices(members[0] as Member, b.key, names);
  await until(120_000, 500, () => (census(members)?.every((row) => !names.includes(row.slice)) === true ? true : undefined));
  return r;
}

// ---------------------------------------------------------------- running it

// The raw reference's bridge goes too.
const teardown = takeDownOnExit(progress, async () => void (await run('ip', ['link', 'del', `${PREFIX}rawbr`])));

async function withTestbed<T>(root: string, gateways: number, keep: boolean, body: (b: Bench) => Promise<T>): Promise<T> {
  const dir = `${root}/tb${gateways}`;
  const port = values.port === undefined ? await freePort() : Number(values.port);
  teardown.active = dir;
  let done = false;
  try {
    const up = await testbedUp({ gateways, link: LINK, seed: SEED, dir, prefix: PREFIX, port, underlay: UNDERLAY, progress });
    const b: Bench = {
      state: up.state, dir, key: `${root}/user.key`,
      members() {
        return this.state.members;
      },
      member(name) {
        const m = this.state.members.find((x) => x.name === name);
        if (m === undefined) throw new Error(`no gateway ${name}`);
        return m;
      },
    };
    const result = await body(b);
    done = true;
    return result;
  } finally {
    if (keep && done) {
      progress(`kept the testbed: node dist/src/cli/main.js testbed down --dir ${dir}`);
    } else {
      await testbedDown({ dir, progress });
      teardown.active = undefined;
    }
  }
}

function stats(ms: readonly number[]): string {
  return ms.length === 0 ? '–' : `median ${sec(median(ms))} (min ${sec(Math.min(...ms))}, max ${sec(Math.max(...ms))}, n=${ms.length})`;
}

async function main(): Promise<void> {
  const machine = await machineLine();
  const root = values.dir ?? mkdtempSync('/tmp/hearth-bench-slices-');
  mkdirSync(root, { recursive: true });
  // The gateways' containers live below; their unprivileged root must traverse it.
  chmodSync(root, 0o755);
  writeFileSync(`${root}/user.key`, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  progress(`machine: ${machine}`);

  const groups = new Map<number, number[]>();
  for (const f of FIGURES) groups.set(gatewaysFor(f), [...(groups.get(gatewaysFor(f)) ?? []), f]);
  const results: Record<string, unknown> = {};
  const rows: string[][] = [];
  const groupList = [...groups];
  try {
    for (const [gi, [gateways, figures]] of groupList.entries()) {
      await withTestbed(root, gateways, values.keep && gi === groupList.length - 1, async (b) => {
        for (const f of figures.sort()) {
          progress(`figure ${f} on ${gateways} gateways, ${LINK} links`);
          if (f === 1) {
            const r = await figure1(b, RUNS[1] as number);
            results['1'] = r;
            const ratio1 = median(r.apiMs) / median(r.raw1Ms);
            const ratio3 = median(r.apiMs) / median(r.raw3Ms);
            rows.push([`1. slice of 3 busybox, request → all running (API polled every 50 ms), ${gateways} gw`, stats(r.apiMs), '≤ 2 s']);
            rows.push(['   same, from the hosts\' own records (last sliver.started)', stats(r.hostsMs), '']);
            rows.push(['   of which placement (POST answered: leases + commits)', stats(r.placedMs), '']);
            rows.push(['   last host has the sliver in its store (sliver.requested)', stats(r.committedMs), '']);
            rows.push(['   per sliver on its host: store → running (lxc-copy + start)', stats(r.hostMs), '']);
            rows.push(['   reference: plain lxc-copy snapshot + lxc-start, one busybox', `${stats(r.raw1Ms)}; slice/plain ${ratio1.toFixed(2)}`, '']);
            rows.push(['   reference: plain lxc-copy snapshot + lxc-start, three at once', `${stats(r.raw3Ms)}; slice/plain ${ratio3.toFixed(2)}`, '']);
          } else if (f === 2) {
            const r = await figure2(b, SLICES[2] as number);
            results['2'] = r;
            const refused = Object.entries(r.refusals).map(([c, k]) => `${k} ${c}`).join(', ') || 'none';
            rows.push([`2. ${r.slices} slices of 3 at once from ${Math.min(r.slices, gateways)} entry gateways, ${gateways} gw: placed`, `${r.placed}/${r.slices}; refused: ${refused}`, `${r.slices}/${r.slices}`]);
            rows.push(['   time until all their slivers run (hosts\' events)', sec(r.allRunningMs), '']);
            rows.push(['   POST answered (placement), per request', stats(r.answersMs), '']);
            rows.push(['   last host has its sliver in its store (sliver.requested)', sec(r.lastCommittedMs), '']);
            rows.push(['   per sliver on its host: store → running (lxc-copy + start)', stats(r.hostMs), '']);
            rows.push(['   most committed on one gateway: cpu / memory / slivers',
              `${r.maxCpu.committed}/${r.maxCpu.contributed} (${r.maxCpu.gateway}), ${r.maxMemory.committed}/${r.maxMemory.contributed} MB (${r.maxMemory.gateway}), ${r.maxSlivers.committed}/${r.maxSlivers.contributed} (${r.maxSlivers.gateway})`,
              'none over']);
            rows.push(['   over-committed gateways; slices with two slivers on one gateway', `${r.overCommitted.length === 0 ? 'none' : r.overCommitted.join('; ')}; ${r.spreadViolations.length === 0 ? 'none' : r.spreadViolations.join('; ')}`, 'none']);
          } else if (f === 3) {
            const r = await figure3(b, RUNS[3] as number);
            results['3'] = r;
            const pick = (k: keyof Figure3Run): number[] => r.runs.map((x) => x[k]).filter((v): v is number => typeof v === 'number');
            const e2e = pick('endToEndMs');
            rows.push([`3. host killed → slice running without it (API polled every 100 ms), ${gateways} gw`, `${stats(e2e)}`, '≤ 15 s']);
            rows.push(['   the healer saw it failed (its "member state" line)', stats(pick('detectedMs')), '']);
            rows.push(['   every survivor saw it failed', stats(pick('detectedEverywhereMs')), '']);
            rows.push(['   healing started ("healing: placing …")', stats(pick('healingMs')), '']);
            rows.push(['   placement committed ("slice healed")', stats(pick('healedMs')), '']);
            rows.push(['   new sliver running (its sliver.started event)', stats(pick('startedMs')), '']);
            rows.push(['   restart → exactly 3 again, all alive everywhere', stats(pick('backToNMs')), '']);
          } else {
            const r = await figure4(b, SLICES[4] as number);
            results['4'] = r;
            rows.push([`4. split ${r.sides[0]}/${r.sides[1]} cutting ${r.cut} of ${r.slices} slices of 2, healed → exactly N, ${gateways} gw`, sec(r.exactMs), '≤ 30 s']);
            rows.push(['   both sides healed their slices, after the split', sec(r.sidesHealedMs), '']);
            rows.push(['   every gateway saw every other alive, after the heal', sec(r.viewWholeMs), '']);
            rows.push(['   first "took a newer placement" / last "removed an extra sliver"', `${sec(r.firstAdoptMs)} / ${sec(r.lastRemovalMs)}`, '']);
            rows.push(['   slices that fell below N on the way', r.belowN.length === 0 ? 'none' : r.belowN.join(', '), 'none']);
          }
        }
      });
    }
  } finally {
    if (values.dir === undefined && !values.keep) rmSync(root, { recursive: true, force: true });
  }

  const failures = Object.entries(results).flatMap(([f, r]) => ((r as { failures?: string[] }).failures ?? []).map((x) => `figure ${f}: ${x}`));
  console.log(JSON.stringify({ machine, link: LINK, seed: SEED, results }, null, 2));
  console.log('');
  console.log(`machine: ${machine}`);
  console.log(`links: ${LINK}, layout seed ${SEED}`);
  const w = [Math.max(...rows.map((x) => (x[0] as string).length)), Math.max(...rows.map((x) => (x[1] as string).length))];
  console.log(`${'figure'.padEnd(w[0] as number)} | ${'result'.padEnd(w[1] as number)} | goal`);
  console.log(`${'-'.repeat(w[0] as number)}-|-${'-'.repeat(w[1] as number)}-|-----`);
  for (const [a, b, c] of rows) console.log(`${(a as string).padEnd(w[0] as number)} | ${(b as string).padEnd(w[1] as number)} | ${c as string}`);
  if (failures.length > 0) {
    console.log('\nnot as expected:');
    for (const f of failures) console.log(`  ${f}`);
    process.exitCode = 1;
  }
}

await main();
