// Benchmark of a community at size (issue 11): N real hearth agents on
// loopback, each with the real Serf it starts, without containers
// (`virt.driver: none`: slivers are admitted, reserved and recorded, nothing
// runs), so membership, placement and healing are the real code. Measured:
//  - full view: from the last member's first appearance alive in any
//    agent's log until every agent's log shows every member alive;
//  - the last 20 joins, each: its rumor reaching every older agent, and the
//    joiner's own agent seeing every older member (the full view above is
//    one draw of these; `hearth sim` predicts the first as a distribution);
//  - failure seen: from a kill -9 of one agent (its serf dies with it) until
//    every other agent's log says it failed;
//  - a slice of 3 asked by a user (`hearth slice create`, signed): placed
//    (the entry's "slice placed"), its slivers started (hosts' events);
//  - service directory: a service of the slice (check none) from its
//    gateway's "service announced" until every other gateway pulled it
//    (the `sv` tag's gossip, then a pull over the peer API), and how busy
//    the machine was meanwhile: its run queue (/proc/stat's procs_running
//    every 100 ms), its busy share and each gateway's CPU (agent and serf)
//    above its rate in the 8 s before the slice was asked (the work the
//    one-machine model, src/sim/machine.ts, puts on the shared cores), and
//    each host's agent's CPU over its list's window;
//  - load: --slices more slices of 3 (default 50), each asked of another
//    entry gateway, a few at once: placed or refused, how the slivers
//    spread over the gateways (max / mean);
//  - healing: one host of the slice is killed; the failure seen by the
//    healer, "slice healed", the moved sliver started on its new host, and
//    the record: the other surviving holder takes the new placement (and
//    when its Serf had the healer's news: the rest is its pull; and the two
//    holders' agents' CPU meanwhile, as a share of a core); and
//    every slice of the load that had a sliver there, healed and running;
//    and the agents' and serfs' CPU from the first agent's detection until
//    the heal (who has the cores while the heal waits for one);
//  - the failure in memberlist's words: the first probe left unanswered and
//    the declaration, against the model's first probe and suspicion timeout;
//  - what a change costs the community (the one-machine model's inputs,
//    src/sim/machine.ts): the gateways' CPU above their settled rate in the
//    20 s after the failure's first detection, in the 20 s after a drain,
//    and for each of 3 tag updates alone (the gateway holding the fewest
//    slivers moves to a zone, 10 s apart), with the tag updates each Serf
//    learnt meanwhile; and a failure with nothing to heal (kill -9 of a
//    gateway that never held a sliver, at the end): its own burst and its
//    20 s reaction, the failure's cost with no heal's updates and pulls in it.
//    The updates and that failure are traced and split in two: the first
//    second from the first Serf's word of it (as the agents see it), and
//    1-4 s (once each Serf hands the event on to its agent, coalesced);
//  - memory per gateway (agent + its serf): USS and PSS from smaps_rollup.
// Times come from the agents' own logs and stores (one clock), read
// incrementally, so watching a hundred agents costs little CPU.
// Run after `npm run build` (root not needed; serf on PATH):
//   node dist/bench/scale.js [--gateways 100] [--batch 10] [--profile lan|local|wan] [--settle 20] [--keep-logs]
//     [--slices 50] [--slice-concurrency 4]
//     [--node-options '…' (default the testbed's AGENT_NODE_FLAGS; --node-options= for none)] [--json]
//     [--cpu-prof DIR (each agent writes a V8 CPU profile to DIR/NAME/ when it is stopped at the end, sampled
//      every --cpu-prof-interval-us, 10000 unless told; read them with bench/cpu-prof.ts: a diagnosis run,
//      its times are not figures)]
//     [--cpu-prof-only sc-gw010,sc-gw050 (only these agents write one: profiling all 100 overloads this machine)]
//     [--slow-peer-ms N (each agent logs its peer calls and requests of N ms or more, with where their time went:
//      HEARTH_SLOW_PEER_MS; 1000 unless told)]
// Everything (processes, temp dir) is removed on exit, Ctrl-C included; --keep-logs keeps the temp dir.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { initDataDir } from '../src/agent/config.js';
import { createSerfRpc, type SerfRpc } from '../src/overlay/serf-rpc.js';
import type { SliceView } from '../src/model/slice.js';
import { machineLine, machineStat, median, sleep, ticksOf, until, withDb } from './lib.js';
import { canSignal } from '../src/kit/pid.js';
import { ApiProblem, createApiClient, type ApiClient } from '../src/cli/client.js';
import { freePort } from '../test/support/ports.js';
import { AGENT_NODE_FLAGS } from '../src/testbed/gateway-process.js';
import { quantile } from '../src/sim/draw.js';
import { BURST_WINDOW_MS, burstEndMs } from '../src/sim/machine.js';
import { gossipEndMs, PROFILE_CONFIGS, rumorMissChance, spreadCurve, suspicionTimeoutMs, type LinkModel } from '../src/sim/memberlist.js';
import { slowPeerMsFromEnv } from '../src/peer/client.js';
import { AT_ONCE_MS, DECLARED, FAILURE_LEARNT, failureStart, type FailureStart } from './failure-start.js';
import { followLog, memoryKb, processesMentioning, sampleCpu, serfChildren, traceCpu, type CpuWindow, type LogFollower } from './procs.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    gateways: { type: 'string', default: '100' },
    batch: { type: 'string', default: '10' },
    profile: { type: 'string', default: 'lan' },
    settle: { type: 'string', default: '20' },
    /** Slices of 3 placed after the first one, each asked of another gateway, before the kill: the load the heal must carry. */
    slices: { type: 'string', default: '50' },
    'slice-concurrency': { type: 'string', default: '4' },
    'join-concurrency': { type: 'string', default: '4' },
    'node-options': { type: 'string', default: AGENT_NODE_FLAGS.join(' ') },
    json: { type: 'boolean', default: false },
    /** Keep the gateways' data directories (their logs) after the run, to read where the time went. */
    'keep-logs': { type: 'boolean', default: false },
    'slow-peer-ms': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'cpu-prof-only': { type: 'string' },
    'cpu-prof-interval-us': { type: 'string', default: '10000' },
  },
});
const N = Number(values.gateways);
/** The agents' threshold for logging a peer call or request as slow (HEARTH_SLOW_PEER_MS), checked before any is started. */
const SLOW_PEER_MS = slowPeerMsFromEnv(values['slow-peer-ms']);
const BATCH = Number(values.batch);
const PROFILE = values.profile as 'lan' | 'local' | 'wan';
const SETTLE_SEC = Number(values.settle);
const JOIN_CONCURRENCY = Number(values['join-concurrency']);
const LOAD_SLICES = Number(values.slices);
const SLICE_CONCURRENCY = Number(values['slice-concurrency']);
const PROFILED = values['cpu-prof-only'] === undefined ? undefined : new Set(values['cpu-prof-only'].split(','));
if (!Number.isInteger(LOAD_SLICES) || LOAD_SLICES < 0) throw new Error('--slices must be a whole number');
if (!Number.isInteger(SLICE_CONCURRENCY) || SLICE_CONCURRENCY < 1) throw new Error('--slice-concurrency must be a positive integer');
if (!Number.isInteger(N) || N < 4) throw new Error('--gateways must be an integer of at least 4 (a slice of 3 and one to kill)');
if (!['lan', 'local', 'wan'].includes(PROFILE)) throw new Error('--profile is lan, local or wan');

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const UPDATE_LEARNT = 'serf: serf: EventMemberUpdate: ';
/** Serf's own lines as its agent's event stream gets a member failure, or new tags, coalesced (SERF_QUIET_MS, src/sim/machine.ts). */
const EVENT_HANDED_ON = 'serf: agent: Received event: member-failed';
const UPDATE_HANDED_ON = 'serf: agent: Received event: member-update';
/** memberlist's words for a probe left unanswered and for a suspicion that ran out (followed by the member's name). */
const SUSPECTED = 'serf: memberlist: Suspect ';
/**
 * An agent's push-pull (Serf join of one member), logged at info when it comes after joins (src/overlay/catch-up.ts),
 * and its check before, when the other member's view agreed and no push-pull was needed.
 */
const CAUGHT_UP = "caught up with a member's list";
const CATCH_UP_FAILED = "catching up with a member's list failed";
const VIEWS_AGREE = "a member's view agrees with this one";
const WATCHED = [UPDATE_LEARNT, SUSPECTED, DECLARED, FAILURE_LEARNT, EVENT_HANDED_ON, UPDATE_HANDED_ON, 'member state', 'in the community', 'slice placed', 'service announced', 'pulled services', 'pulling services failed', 'healing: placing', 'slice healed', 'took a newer placement', 'agent started', CAUGHT_UP, CATCH_UP_FAILED, VIEWS_AGREE];
/** How long a failure's or a drain's reaction is measured for, from the first agent's word of it. */
const REACTION_WINDOW_MS = 20_000;
/** The tag updates updateCost makes, and how far apart. */
const UPDATE_STEPS = 3;
const UPDATE_GAP_MS = 10_000;
const progress = (line: string): void => void process.stderr.write(`scale: ${line}\n`);
const sec = (ms: number | null | undefined): string => (ms === null || ms === undefined || Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);

interface Gateway {
  name: string;
  dataDir: string;
  apiPort: number;
  /** Its Serf's RPC port (the key is in its community.json once it is in one). */
  rpcPort: number;
  /** Its API, with its owner token. */
  api: ApiClient;
  child?: ChildProcess;
  pid?: number;
  log: LogFollower;
  killed: boolean;
}

const dir = mkdtempSync('/tmp/hearth-scale-');
const gateways: Gateway[] = [];

// Cleanup: every agent is killed (its serf dies with it: pdeathsig), then any
// process still naming the temp dir (a serf whose agent died oddly), then the dir.
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const g of gateways) if (g.pid !== undefined && !g.killed) {
    try {
      process.kill(g.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5000;
  for (;;) {
    const left = processesMentioning(dir);
    if (left.length === 0 || Date.now() > deadline) {
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      break;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  if (values['keep-logs']) process.stderr.write(`scale: the gateways' logs are kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    progress(`${signal}: killing ${gateways.length} agents and removing ${dir}`);
    cleanup();
    process.exit(code);
  });
}

async function makeGateway(i: number): Promise<Gateway> {
  const name = `sc-gw${String(i).padStart(3, '0')}`;
  const dataDir = join(dir, name);
  const [apiPort, serfPort, rpcPort, peerPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const { paths } = await initDataDir({
    dataDir, name, apiPort,
    community: { bind: `127.0.0.1:${serfPort}`, rpcPort, profile: PROFILE },
    peer: { host: '127.0.0.1', port: peerPort },
    contribution: { cpu: 2, memoryMb: 2048, diskMb: 8192, slivers: 8 },
    sliceNet: { enabled: false },
    virt: { driver: 'none' },
    // The subordinate ids a container would need are not ours to write: nothing runs.
    subidFiles: { subuid: join(dir, 'subuid'), subgid: join(dir, 'subgid') },
  });
  const token = readFileSync(paths.ownerToken, 'utf8').trim();
  const api = createApiClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token });
  return { name, dataDir, apiPort, rpcPort, api, log: followLog(join(dataDir, 'agent.log'), WATCHED), killed: false };
}

function startAgent(g: Gateway): void {
  const out = openSync(join(g.dataDir, 'agent.log'), 'a');
  const nodeOptions = values['node-options'] === '' ? [] : values['node-options'].split(/\s+/);
  if (values['cpu-prof'] !== undefined && (PROFILED === undefined || PROFILED.has(g.name))) nodeOptions.push('--cpu-prof', `--cpu-prof-dir=${join(values['cpu-prof'], g.name)}`, `--cpu-prof-interval=${values['cpu-prof-interval-us']}`);
  const child = spawn(process.execPath, [...nodeOptions, CLI, 'agent', '--data-dir', g.dataDir], {
    env: { ...withoutHearthEnv(), HEARTH_LOG_LEVEL: 'info', ...(SLOW_PEER_MS === undefined ? {} : { HEARTH_SLOW_PEER_MS: String(SLOW_PEER_MS) }) },
    stdio: ['ignore', out, out],
    // Its own process group: a Ctrl-C in the terminal reaches the bench, which kills them all.
    detached: true,
  });
  closeSync(out);
  child.on('error', () => undefined);
  g.child = child;
  if (child.pid !== undefined) g.pid = child.pid;
}

/** This process's environment without variables that would point the CLI at some gateway's owner. */
function withoutHearthEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['HEARTH_TOKEN', 'HEARTH_API', 'HEARTH_DATA_DIR']) delete env[k];
  return env;
}

async function answers(g: Gateway): Promise<boolean> {
  try {
    await g.api.request('GET', '/api/v1/node');
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function bounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  }));
  return out;
}

const medianMax = (xs: number[]): { median: number; max: number } | null => (xs.length === 0 ? null : { median: median(xs), max: Math.max(...xs) });

const readAll = (): void => {
  for (const g of gateways) if (!g.killed) g.log.read();
};

/** When `g` first had all of `names` alive at once, from its "member state" lines. */
function fullViewAt(g: Gateway, names: readonly string[]): number | undefined {
  const status = new Map<string, string>();
  for (const l of g.log.lines) {
    if (l.msg !== 'member state') continue;
    status.set(String(l.fields['member']), String(l.fields['status']));
    if (names.every((n) => status.get(n) === 'alive')) return l.at;
  }
  return undefined;
}

/** Each agent's first sight of each member alive, by its log: agent → member → epoch ms. One pass over the logs. */
type AliveSightings = Map<string, Map<string, number>>;

function aliveSightings(): AliveSightings {
  const seen: AliveSightings = new Map();
  for (const g of gateways) {
    const firstAlive = new Map<string, number>();
    for (const l of g.log.lines) {
      if (l.msg !== 'member state' || l.fields['status'] !== 'alive') continue;
      const m = String(l.fields['member']);
      if (l.at < (firstAlive.get(m) ?? Number.POSITIVE_INFINITY)) firstAlive.set(m, l.at);
    }
    seen.set(g.name, firstAlive);
  }
  return seen;
}

/** When each member first shows up alive in any agent's log. */
function firstAliveAnywhere(sightings: AliveSightings): Map<string, number> {
  const first = new Map<string, number>();
  for (const byMember of sightings.values()) {
    for (const [name, at] of byMember) if (at < (first.get(name) ?? Number.POSITIVE_INFINITY)) first.set(name, at);
  }
  return first;
}

/** The agents gossip over loopback: no delay, no loss. */
const LOOPBACK: LinkModel = { delayMs: 0, jitterMs: 0, loss: 0 };

/** How many of the last joins the per-join spreads are taken over. */
const JOIN_SAMPLES = 20;

/** Median, 95th percentile (nearest rank, as `hearth sim` takes them) and largest of some times in ms. */
function spreadOf(xs: readonly number[]): { medianMs: number; p95Ms: number; maxMs: number; samples: number } {
  return { medianMs: Math.round(quantile(xs, 0.5)), p95Ms: Math.round(quantile(xs, 0.95)), maxMs: Math.round(Math.max(...xs)), samples: xs.length };
}

/**
 * Every join, from the joiner's first appearance alive in any agent's log:
 * - rumor: until the last agent that was a member before it saw it alive: one gossip rumor reaching
 *   every agent, which `hearth sim` models as its propagation's toAll;
 * - own: until the joiner's own agent saw alive every member older than it: its Serf's push-pull at
 *   the join, then its starting agent reading the list (start-up on this machine, not gossip).
 * The spreads are taken over the last JOIN_SAMPLES joins. The full view after the last join is one draw
 * of the later of the two (and of the joins beside it).
 * - misses: the joins whose rumor some older member's Serf missed, learning of the joiner only after the
 *   model's gossip had died out (at a push-pull: its agent's after the joins quietened, another's with
 *   it, memberlist's own; or from the joiner's next tag update), against what the model expects of joins
 *   at those sizes (rumorMissChance: memberlist sends a rumor 8 times below 100 members, 12 from 100);
 *   each with when it was learnt, from the last member's first appearance alive (`lastAppeared`).
 * From each agent's sightings and each member's first appearance (aliveSightings, firstAliveAnywhere).
 */
function joinSpreads(seen: AliveSightings, appeared: ReadonlyMap<string, number>, lastAppeared: number): {
  rumor: ReturnType<typeof spreadOf>; own: ReturnType<typeof spreadOf>;
  misses: { joins: number; missed: { joiner: string; members: number; rumorMs: number; afterLastMs: number }[]; expected: number | null };
} {
  const memberSince = (name: string): number => seen.get(name)?.get(name) ?? Number.POSITIVE_INFINITY;
  const joiners = [...appeared.keys()].sort((a, b) => (appeared.get(a) as number) - (appeared.get(b) as number));
  const inf = Number.POSITIVE_INFINITY;
  const joins = joiners.flatMap((j) => {
    const at = appeared.get(j) as number;
    const older = gateways.filter((g) => g.name !== j && memberSince(g.name) < at).map((g) => g.name);
    if (older.length === 0) return [];
    return [{
      joiner: j, members: older.length + 1,
      rumorMs: Math.max(...older.map((g) => seen.get(g)?.get(j) ?? inf)) - at,
      ownMs: Math.max(...older.map((g) => seen.get(j)?.get(g) ?? inf)) - at,
    }];
  });
  const last = joins.slice(-JOIN_SAMPLES);
  const rumors = { rumor: spreadOf(last.map((j) => j.rumorMs)), own: spreadOf(last.map((j) => j.ownMs)) };
  if (PROFILE === 'local') return { ...rumors, misses: { joins: joins.length, missed: [], expected: null } };
  const model = PROFILE_CONFIGS[PROFILE];
  const missed: { joiner: string; members: number; rumorMs: number; afterLastMs: number }[] = [];
  let expected = 0;
  for (const { joiner, members, rumorMs } of joins) {
    const curve = spreadCurve(model, LOOPBACK, members);
    if (rumorMs > gossipEndMs(curve)) missed.push({ joiner, members, rumorMs, afterLastMs: (appeared.get(joiner) as number) + rumorMs - lastAppeared });
    expected += rumorMissChance(curve, members);
  }
  return { ...rumors, misses: { joins: joins.length, missed, expected: Math.round(expected * 100) / 100 } };
}

/** How long after the last join the bench counts the agents' push-pulls after joins. */
const SYNC_WINDOW_MS = 10_000;

/**
 * The agents' catch-ups after joins (src/overlay/catch-up.ts) up to SYNC_WINDOW_MS after the last member
 * (`lastJoiner`) first showed up alive at `lastAppeared`: the push-pulls made, how many before it, and the
 * checks that found the other member's view the same (no push-pull); and each agent's first catch-up (either)
 * after its agent saw the last member alive, from that first appearance (`hearth sim`'s afterJoins) and
 * from its own seeing (the quiet wait, the check and any push-pull).
 */
function syncsAfterJoins(sightings: AliveSightings, lastJoiner: string, lastAppeared: number): {
  made: number; failed: number; during: number; agreed: number; agreedDuring: number; afterLast: ReturnType<typeof spreadOf>; afterSeen: ReturnType<typeof spreadOf>;
} {
  let made = 0;
  let failed = 0;
  let during = 0;
  let agreed = 0;
  let agreedDuring = 0;
  const afterLast: number[] = [];
  const afterSeen: number[] = [];
  for (const g of gateways) {
    const mine = g.log.lines.filter((l) => l.fields['why'] === 'after joins' && l.at <= lastAppeared + SYNC_WINDOW_MS);
    const ok = mine.filter((l) => l.msg === CAUGHT_UP);
    const same = mine.filter((l) => l.msg === VIEWS_AGREE);
    made += ok.length;
    failed += mine.filter((l) => l.msg === CATCH_UP_FAILED).length;
    during += ok.filter((l) => l.at < lastAppeared).length;
    agreed += same.length;
    agreedDuring += same.filter((l) => l.at < lastAppeared).length;
    const seen = sightings.get(g.name)?.get(lastJoiner);
    const sync = seen === undefined ? undefined : mine.find((l) => l.at >= seen && l.msg !== CATCH_UP_FAILED)?.at;
    if (seen === undefined || sync === undefined) continue;
    afterLast.push(sync - lastAppeared);
    afterSeen.push(sync - seen);
  }
  const of = (xs: number[]): ReturnType<typeof spreadOf> => (xs.length === 0 ? { medianMs: 0, p95Ms: 0, maxMs: 0, samples: 0 } : spreadOf(xs));
  return { made, failed, during, agreed, agreedDuring, afterLast: of(afterLast), afterSeen: of(afterSeen) };
}

/** How many members `g` sees alive now, by its log. */
function aliveNow(g: Gateway): number {
  const status = new Map<string, string>();
  for (const l of g.log.lines) if (l.msg === 'member state') status.set(String(l.fields['member']), String(l.fields['status']));
  return [...status.values()].filter((s) => s === 'alive').length;
}

function failedAt(g: Gateway, victim: string, after: number): number | undefined {
  return g.log.lines.find((l) => l.msg === 'member state' && l.at >= after && l.fields['member'] === victim && l.fields['status'] === 'failed')?.at;
}

/** Members some live gateway saw fail although nobody killed them, since `from`. */
function falseFailures(from: number, killed: ReadonlySet<string>): number {
  return gateways.filter((g) => !g.killed).reduce((n, g) => n + g.log.lines.filter((l) => l.msg === 'member state' && l.at >= from
    && l.fields['status'] === 'failed' && !killed.has(String(l.fields['member']))).length, 0);
}

/** When each sliver `g` started since `after` first started there, by name, from its events. */
function sliversStartedSince(g: Gateway, after: number): Map<string, number> {
  const iso = new Date(after).toISOString();
  const rows = withDb(g, (db) => db.prepare("SELECT at, detail FROM events WHERE type = 'sliver.started' AND at >= ? ORDER BY at").all(iso) as { at: string; detail: string }[]) ?? [];
  const started = new Map<string, number>();
  for (const r of rows) {
    const name = (JSON.parse(r.detail) as { name?: unknown }).name;
    if (typeof name === 'string' && !started.has(name)) started.set(name, Date.parse(r.at));
  }
  return started;
}

function sliverStarted(g: Gateway, sliverName: string, after: number): number | undefined {
  return sliversStartedSince(g, after).get(sliverName);
}

interface CpuSample { agents: number; serfs: number; busy: number; total: number; at: number; wall: number; agentCount: number; serfCount: number }

/** The CPU ticks the live agents and their serfs have used so far, and the whole machine's. */
function cpuNow(): CpuSample {
  const live = gateways.filter((g) => !g.killed && g.pid !== undefined).map((g) => g.pid as number);
  const serfs = [...serfChildren(new Set(live)).values()];
  const { busy, total } = machineStat();
  const sum = (pids: number[]): number => pids.map(ticksOf).reduce((a, b) => a + b, 0);
  return { agents: sum(live), serfs: sum(serfs), busy, total, at: performance.now(), wall: Date.now(), agentCount: live.length, serfCount: serfs.length };
}

/** The agents' and serfs' CPU between two samples (of the same processes), and how busy the whole machine was. */
function cpuBetween(a: CpuSample, b: CpuSample): { agentsCores: number; serfsCores: number; perAgentPercent: number; perSerfPercent: number; machineBusyPercent: number } {
  const secs = (b.at - a.at) / 1000;
  const hz = 100; // USER_HZ on Linux
  const cores = (d: number): number => Number((d / hz / secs).toFixed(2));
  return {
    agentsCores: cores(b.agents - a.agents), serfsCores: cores(b.serfs - a.serfs),
    perAgentPercent: Number(((b.agents - a.agents) / hz / secs / b.agentCount * 100).toFixed(2)),
    perSerfPercent: Number(((b.serfs - a.serfs) / hz / secs / Math.max(1, b.serfCount) * 100).toFixed(2)),
    machineBusyPercent: Number(((b.busy - a.busy) / (b.total - a.total) * 100).toFixed(1)),
  };
}

/** CPU used by the agents and by their serfs over `ms`, from /proc/PID/stat, and how busy the whole machine was. */
async function measureCpu(ms: number): Promise<ReturnType<typeof cpuBetween>> {
  const before = cpuNow();
  await sleep(ms);
  return cpuBetween(before, cpuNow());
}

/** The CPU a change cost the community: the gateways' (agents' and serfs') over a window, above their settled rate. */
interface Reaction {
  windowMs: number;
  /** Per live gateway, in ms of one core: what the window cost above `settled`. */
  cpuMsPerGateway: number;
  /** The same, split: the agent's part and its serf's. */
  agentMs: number;
  serfMs: number;
  /** The members' tag updates the median live Serf learnt in the window. */
  updates: number;
}

/** A gateway's settled CPU in a cpuBetween measure (its agent's and its serf's), in percent of a core; several measures, averaged. */
function settledOf(...cs: ReturnType<typeof cpuBetween>[]): { agent: number; serf: number } {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return { agent: mean(cs.map((c) => c.perAgentPercent)), serf: mean(cs.map((c) => c.perSerfPercent)) };
}
const perGatewayPercent = (c: ReturnType<typeof cpuBetween>): number => Number((c.perAgentPercent + c.perSerfPercent).toFixed(2));

/** What the gateways did between two samples (of the same processes) beyond their settled rates (settledOf). */
function reactionBetween(a: CpuSample, b: CpuSample, settled: { agent: number; serf: number }): Reaction {
  const windowMs = b.at - a.at;
  // USER_HZ ticks of 10 ms, per gateway, less the settled percent of the window.
  const above = (ticks: number, percent: number): number => (ticks * 10) / b.agentCount - (percent / 100) * windowMs;
  const agentMs = above(b.agents - a.agents, settled.agent);
  const serfMs = above(b.serfs - a.serfs, settled.serf);
  const updates = gateways.filter((g) => !g.killed)
    .map((g) => g.log.lines.filter((l) => l.at >= a.wall && l.at <= b.wall && l.msg.startsWith(UPDATE_LEARNT)).length);
  return { windowMs: Math.round(windowMs), cpuMsPerGateway: Math.round(agentMs + serfMs), agentMs: Math.round(agentMs), serfMs: Math.round(serfMs), updates: median(updates) };
}

/**
 * A failure in memberlist's words: the first member whose probe of `victim` went unanswered (its "Suspect … has failed,
 * no acks received" comes at the end of that probe's interval) and the first to declare it ("Marking … as failed,
 * suspect timeout reached (K peer confirmations)"), after `since`. Beside them, the model's (`drawDetection`): a first
 * probe after an exponential wait of about one probe interval, so the chance of one at least this late, and a
 * suspicion timeout of Lifeguard's minimum at this size.
 */
function failureCourse(victim: string, since: number): {
  firstSuspicionMs: number; declaredMs: number; timeoutMs: number; confirmations: number | null; modelTimeoutMs: number; modelChanceOfFirstProbeAsLate: number;
  /** How the first members learnt it: the early carrier, and whether the prober's gossip carried it at once (bench/failure-start.ts). */
  start: FailureStart | null;
} | null {
  const live = gateways.filter((g) => !g.killed);
  const first = (prefix: string): { at: number; msg: string } | undefined => live
    .flatMap((g) => g.log.lines.filter((l) => l.at >= since && l.msg.startsWith(`${prefix}${victim} `)))
    .sort((x, y) => x.at - y.at)[0];
  const suspected = first(SUSPECTED);
  const declared = first(DECLARED);
  if (suspected === undefined || declared === undefined || PROFILE === 'local') return null;
  const model = PROFILE_CONFIGS[PROFILE];
  // Each of the others probes one member a probe interval, the failed one among N - 1: one probe of it every interval × N / (N - 1).
  const meanWaitMs = (model.probeIntervalMs * N) / (N - 1);
  const firstProbeMs = suspected.at - since - model.probeIntervalMs;
  const confirmations = /\((\d+) peer confirmations\)/.exec(declared.msg)?.[1];
  return {
    firstSuspicionMs: suspected.at - since, declaredMs: declared.at - since, timeoutMs: declared.at - suspected.at,
    confirmations: confirmations === undefined ? null : Number(confirmations),
    modelTimeoutMs: suspicionTimeoutMs(model, N),
    modelChanceOfFirstProbeAsLate: Number(Math.exp(-Math.max(0, firstProbeMs) / meanWaitMs).toFixed(3)),
    start: failureStart(live.map((g) => g.log.lines), victim, since),
  };
}

function showStart(s: FailureStart | null): string {
  return s === null ? '' : `; the second member ${s.second.afterMs} ms after the first (${s.second.byTimer ? 'its own timer' : 'the dead message'}), `
    + `within ${AT_ONCE_MS} ms ${s.atOnce.byTimer} more by their timers and ${s.atOnce.byMessage} by the dead message`;
}

interface MemoryFigures {
  samples: number;
  agentUssMb: { median: number; max: number };
  serfUssMb: { median: number; max: number };
  gatewayUssMb: { median: number; max: number };
  gatewayPssMb: { median: number; max: number };
  agentRssMb: { median: number };
}

function measureMemory(): MemoryFigures {
  const live = gateways.filter((g) => !g.killed && g.pid !== undefined);
  const serfs = serfChildren(new Set(live.map((g) => g.pid as number)));
  const rows = live.flatMap((g) => {
    const agent = memoryKb(g.pid as number);
    const serfPid = serfs.get(g.pid as number);
    const serf = serfPid === undefined ? undefined : memoryKb(serfPid);
    return agent === undefined || serf === undefined ? [] : [{ agent, serf }];
  });
  const mb = (kb: number): number => Number((kb / 1024).toFixed(1));
  const stat = (xs: number[]): { median: number; max: number } => ({ median: mb(median(xs)), max: mb(Math.max(...xs)) });
  return {
    samples: rows.length,
    agentUssMb: stat(rows.map((r) => r.agent.uss)),
    serfUssMb: stat(rows.map((r) => r.serf.uss)),
    gatewayUssMb: stat(rows.map((r) => r.agent.uss + r.serf.uss)),
    gatewayPssMb: stat(rows.map((r) => r.agent.pss + r.serf.pss)),
    agentRssMb: { median: mb(median(rows.map((r) => r.agent.rss))) },
  };
}

async function main(): Promise<void> {
  const machine = await machineLine();
  progress(`${machine}; ${N} gateways, profile ${PROFILE}, in ${dir}`);
  const t0 = Date.now();

  // 1. Data dirs, then agents in batches: each batch must answer before the next starts.
  for (let i = 0; i < N; i++) gateways.push(await makeGateway(i + 1));
  progress(`${N} data dirs made (${sec(Date.now() - t0)})`);
  const startT = Date.now();
  for (let b = 0; b < N; b += BATCH) {
    const batch = gateways.slice(b, b + BATCH);
    for (const g of batch) startAgent(g);
    const ok = await until(120_000, 250, async () => ((await Promise.all(batch.map(answers))).every(Boolean) ? true : undefined));
    if (ok === undefined) throw new Error(`agents ${batch[0]?.name}..${batch.at(-1)?.name} did not answer within 120 s`);
    const load = (await run('cat', ['/proc/loadavg'])).stdout.split(' ')[0];
    progress(`started ${Math.min(b + BATCH, N)}/${N} agents (${sec(Date.now() - startT)}, load ${load})`);
  }
  const startAllMs = Date.now() - startT;

  // 2. One community: created on the first, one invite, the others join.
  const [first, ...rest] = gateways as [Gateway, ...Gateway[]];
  await first.api.request('POST', '/api/v1/community', { name: 'scale' });
  const invite = await first.api.request<{ token: string }>('POST', '/api/v1/community/invites', { expiresInSec: 3600 });
  const joinT = Date.now();
  const joinCpuFrom = cpuNow();
  let joined = 0;
  const joinRetries: string[] = [];
  await bounded(rest, JOIN_CONCURRENCY, async (g) => {
    // A join can fail on a loaded machine (Serf: "timeout waiting for update broadcast"); the owner would try again, so does the bench, and says so.
    for (let attempt = 1; ; attempt++) {
      try {
        await g.api.request('POST', '/api/v1/community/join', { token: invite.token });
        break;
      } catch (err) {
        // A join that answered an error may still have kept the community (its life cycle retries by itself).
        if (attempt > 1 && err instanceof ApiProblem && err.problem.code === 'already_in_community') break;
        if (attempt === 3) throw err;
        joinRetries.push(`${g.name}: ${(err as Error).message.slice(0, 200)}`);
        progress(`join of ${g.name} failed (attempt ${attempt}), trying again: ${(err as Error).message.slice(0, 200)}`);
        await sleep(2000);
      }
    }
    joined++;
    if (joined % 10 === 0 || joined === rest.length) progress(`joined ${joined + 1}/${N} (${sec(Date.now() - joinT)})`);
  });
  const lastJoin = Date.now();
  // Each joiner's Serf starts at its join: the serfs' ticks at the end are all the joins' (and the first's since).
  const joinCpu = cpuBetween(joinCpuFrom, cpuNow());
  progress(`CPU over the joins: agents ${joinCpu.agentsCores} cores, serfs ${joinCpu.serfsCores} cores, machine busy ${joinCpu.machineBusyPercent}%`);
  const names = gateways.map((g) => g.name);
  const viewAt = new Map<string, number>();
  const converged = await until(180_000, 500, () => {
    readAll();
    for (const g of gateways) if (!viewAt.has(g.name)) {
      const at = fullViewAt(g, names);
      if (at !== undefined) viewAt.set(g.name, at);
    }
    return viewAt.size === N ? true : undefined;
  });
  // Those that never saw everyone at once are told, with what they see now; the other steps go on.
  const behind = gateways.filter((g) => !viewAt.has(g.name)).map((g) => `${g.name} sees ${aliveNow(g)}`);
  // From when the last member first showed up alive anywhere: a join's API answer can come long after (it
  // waits for the issuer to show up in its view), so the answer is no reference on a loaded machine.
  const sightings = aliveSightings();
  const appearedAt = firstAliveAnywhere(sightings);
  const lastAppeared = Math.max(...appearedAt.values());
  const lastJoiner = [...appearedAt].find(([, at]) => at === lastAppeared)?.[0] as string;
  const fullViewMs = converged === undefined ? null : Math.max(...viewAt.values()) - lastAppeared;
  progress(converged === undefined
    ? `only ${viewAt.size}/${N} agents saw all ${N} alive within 180 s of the last join; behind: ${behind.join(', ')}`
    : `every agent sees all ${N} alive ${sec(fullViewMs)} after the last member first showed up alive (joins took ${sec(lastJoin - joinT)})`);
  const joins = joinSpreads(sightings, appearedAt, lastAppeared);
  progress(`the last ${joins.rumor.samples} joins reached every older agent in ${sec(joins.rumor.medianMs)} (median), ${sec(joins.rumor.p95Ms)} (95th), ${sec(joins.rumor.maxMs)} (max); `
    + `the joiner's own agent saw every older member in ${sec(joins.own.medianMs)}, ${sec(joins.own.p95Ms)}, ${sec(joins.own.maxMs)}`);
  if (joins.misses.expected !== null) {
    progress(`joins whose rumor some Serf missed (learnt after the model's gossip died out): ${joins.misses.missed.length} of ${joins.misses.joins}`
      + `${joins.misses.missed.length === 0 ? '' : ` (${joins.misses.missed.map((m) => `${m.joiner} at ${m.members}: ${sec(m.rumorMs)}, ${sec(m.afterLastMs)} after the last join`).join(', ')})`}; the model expects ${joins.misses.expected}`);
  }

  progress(`settling ${SETTLE_SEC} s before memory and the next steps`);
  const settleFrom = Date.now();
  await sleep(SETTLE_SEC * 1000);
  readAll();
  // Read after the settling: the window reaches past the full view (and a late agent's sight of the last join).
  const syncs = syncsAfterJoins(aliveSightings(), lastJoiner, lastAppeared);
  progress(`push-pulls after the joins quietened: ${syncs.made} made (${syncs.failed} failed) within ${sec(SYNC_WINDOW_MS)} of the last join, ${syncs.during} before it; `
    + `${syncs.agreed} checks found the views the same (no push-pull), ${syncs.agreedDuring} before it; `
    + `each of ${syncs.afterLast.samples} agents' first catch-up after it saw the last join came ${sec(syncs.afterLast.medianMs)} (median), ${sec(syncs.afterLast.p95Ms)} (95th), ${sec(syncs.afterLast.maxMs)} (max) after the join, `
    + `${sec(syncs.afterSeen.medianMs)}, ${sec(syncs.afterSeen.p95Ms)}, ${sec(syncs.afterSeen.maxMs)} after the agent saw it`);
  const memory = measureMemory();
  const cpu = await measureCpu(10_000);
  progress(`CPU over 10 s: agents ${cpu.agentsCores} cores (${cpu.perAgentPercent}% each), serfs ${cpu.serfsCores} cores (${cpu.perSerfPercent}% each), machine busy ${cpu.machineBusyPercent}%`);
  progress(`memory per gateway (agent + serf): USS median ${memory.gatewayUssMb.median} MB, max ${memory.gatewayUssMb.max}; PSS median ${memory.gatewayPssMb.median} MB`);
  const falseWhileSettling = falseFailures(settleFrom, new Set());

  // 3. A user asks the first gateway for a slice of 3 with one service (check none: nothing runs to check).
  const user = join(dir, 'user');
  mkdirSync(user);
  const keyFile = join(user, 'user.key');
  await run(process.execPath, [CLI, 'user', 'keygen', '--out', keyFile]);
  const servicesFile = join(user, 'services.json');
  writeFileSync(servicesFile, JSON.stringify([{ name: 'web', type: 'http', port: 80, check: { kind: 'none' } }]));
  const sliceName = 'sc-slice';
  /** A slice of 3 asked of `entry` as the user (`hearth slice create --no-wait --json`). */
  const createSlice = async (entry: Gateway, name: string, extra: string[]): Promise<SliceView> => {
    const created = await run(process.execPath, [CLI, '--data-dir', user, 'slice', 'create', name, '-n', '3', '--memory', '128', ...extra, '--key', keyFile, '--no-wait', '--json'], {
      // As a user: no owner token (the data dir is the user's own, empty), so reads are signed with the key.
      env: { ...withoutHearthEnv(), HEARTH_API: `http://127.0.0.1:${entry.apiPort}` },
    }).catch((err: unknown) => {
      throw new Error(`hearth slice create ${name} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
    });
    const v = JSON.parse(created.stdout) as SliceView;
    const on = v.slivers.map((s) => s.gateway).filter((g): g is string => g !== null);
    if (on.length !== 3) throw new Error(`slice ${name} was placed on ${on.length} gateways: ${created.stdout.slice(0, 400)}`);
    return v;
  };
  // Every agent's and serf's CPU over the directory's pulls, above the 8 s before the slice was asked, and the run queue.
  const directoryTrace = traceGateways(gateways.map((g) => g.pid as number));
  await sleep(9000);
  // What the agents spend while the others pull from the slice's hosts (known once placed): the pulls, or their own work besides.
  const agentCpu = sampleCpu(gateways.map((g) => g.pid).filter((pid): pid is number => pid !== undefined), 250);
  const askedAt = Date.now();
  const view = await createSlice(first, sliceName, ['--services', servicesFile]);
  const answeredAt = Date.now();
  const hosts = view.slivers.map((s) => s.gateway as string);
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const sliverNames = view.slivers.map((s) => `${sliceName}-${s.index}`);
  const startedAll = await until(60_000, 250, () => {
    const ts = view.slivers.map((s) => sliverStarted(byName.get(s.gateway as string) as Gateway, `${sliceName}-${s.index}`, askedAt));
    return ts.every((t) => t !== undefined) ? Math.max(...(ts as number[])) : undefined;
  });
  readAll();
  const placedAt = first.log.lines.find((l) => l.msg === 'slice placed' && l.fields['slice'] === sliceName)?.at;
  progress(`slice placed on ${hosts.join(', ')}: answered ${sec(answeredAt - askedAt)} after the CLI started, placed at ${sec(placedAt === undefined ? undefined : placedAt - askedAt)}, all started at ${sec(startedAll === undefined ? undefined : startedAll - askedAt)}`);

  // 4. The service directory: each host's announcement reaches every other gateway by a pull.
  const announced = new Map<string, number>();
  const directory = await until(120_000, 500, () => {
    readAll();
    for (const h of hosts) {
      const at = (byName.get(h) as Gateway).log.lines.find((l) => l.msg === 'service announced' && l.at >= askedAt)?.at;
      if (at !== undefined) announced.set(h, at);
    }
    if (announced.size < hosts.length) return undefined;
    const spread: number[] = [];
    for (const h of hosts) {
      const pulls = gateways.filter((g) => g.name !== h).map((g) => g.log.lines.find((l) => l.msg === 'pulled services' && l.at >= (announced.get(h) as number)
        && l.fields['member'] === h && (l.fields['services'] as unknown[]).length > 0)?.at);
      if (pulls.some((t) => t === undefined)) return undefined;
      spread.push(Math.max(...(pulls as number[])) - (announced.get(h) as number));
    }
    return spread;
  });
  directoryTrace.stop();
  agentCpu.stop();
  progress(directory === undefined ? 'the service did not reach every gateway within 120 s' : `service directory: every gateway pulled each host's service ${directory.map(sec).join(', ')} after its announcement`);
  // How busy the machine was while the pulls ran: threads runnable, the machine's busy share and the gateways' CPU above their rate before.
  const firstAnnounced = Math.min(...announced.values());
  const directoryWindow = directory === undefined ? undefined : [firstAnnounced, firstAnnounced + Math.max(...directory)] as const;
  const directoryBefore = directoryTrace.over(askedAt - 9000, askedAt - 1000);
  const directoryMachine = directoryWindow === undefined ? undefined : directoryTrace.over(...directoryWindow);
  const directoryLoad = directoryMachine === undefined ? undefined : { mean: directoryMachine.runnable, samples: directoryMachine.samples };
  const directoryCpu = directoryWindow === undefined || directoryBefore === undefined ? null : cpuAbove(directoryTrace, directoryBefore, ...directoryWindow, N);
  if (directoryLoad !== undefined) {
    progress(`while the directory's pulls ran: ${directoryLoad.mean} threads runnable on average (${directoryLoad.samples} samples), the machine ${directoryMachine?.machineBusyPercent ?? '–'}% busy `
      + `(${directoryBefore?.machineBusyPercent ?? '–'}% before the slice), each gateway ${showAbove(directoryCpu)} above its rate before`);
  }
  /** Each host's agent's CPU from its announcement until the last other gateway pulled its list, as a share of a core. */
  const hostShares = directory === undefined ? [] : hosts.map((h, i) => {
    const from = announced.get(h) as number;
    return { host: h, cpuShare: agentCpu.shareOver(byName.get(h)?.pid ?? -1, from, from + (directory[i] as number)) ?? null };
  });
  if (hostShares.length > 0) progress(`the hosts' agents meanwhile used ${hostShares.map((x) => `${x.host} ${x.cpuShare ?? '–'}`).join(', ')} of a core`);
  // Where the directory's time went, per host: when the others' Serfs learnt of its new tags
  // (their log's EventMemberUpdate), when they started the pull that brought its list, how long
  // that pull took, and how many pulls from it failed first.
  const pullsOf = (h: string): { learntMs: number[]; startedMs: number[]; tookMs: number[]; failed: number } => {
    const since = announced.get(h) ?? Infinity;
    const learntMs = gateways.filter((g) => g.name !== h).flatMap((g) => {
      const l = g.log.lines.find((x) => x.at >= since && x.msg === `${UPDATE_LEARNT}${h}`);
      return l === undefined ? [] : [l.at - since];
    });
    const got = gateways.filter((g) => g.name !== h).flatMap((g) => {
      const l = g.log.lines.find((x) => x.msg === 'pulled services' && x.at >= since && x.fields['member'] === h && (x.fields['services'] as unknown[]).length > 0);
      return l === undefined || typeof l.fields['ms'] !== 'number' ? [] : [{ end: l.at - since, took: l.fields['ms'] }];
    });
    const failed = gateways.reduce((n, g) => n + g.log.lines.filter((x) => x.msg === 'pulling services failed' && x.at >= since && x.fields['member'] === h).length, 0);
    return { learntMs, startedMs: got.map((p) => p.end - p.took), tookMs: got.map((p) => p.took), failed };
  };
  const directoryPulls = hosts.map((h) => {
    const p = pullsOf(h);
    return { host: h, failed: p.failed, learntMs: medianMax(p.learntMs), startedMs: medianMax(p.startedMs), tookMs: medianMax(p.tookMs) };
  });
  for (const p of directoryPulls) {
    progress(`  ${p.host}: the others' Serfs learnt of its tags ${sec(p.learntMs?.median)} (median) / ${sec(p.learntMs?.max)} (last) after the announcement; `
      + `pulls started ${sec(p.startedMs?.median)} / ${sec(p.startedMs?.max)}, took ${sec(p.tookMs?.median)} / ${sec(p.tookMs?.max)}; ${p.failed} failed`);
  }

  // 4b. The load: more slices of 3, each asked of the next gateway in turn (never only the first), a few at once.
  const loadAskedAt = Date.now();
  type Asked = { name: string; entry: string; askedAt: number; answeredMs: number };
  const load = await bounded(Array.from({ length: LOAD_SLICES }, (_, i) => i), SLICE_CONCURRENCY, async (i): Promise<Asked & ({ placement: Map<number, string> } | { error: string })> => {
    const name = `ld-${String(i + 1).padStart(3, '0')}`;
    const entry = gateways[(i + 1) % N] as Gateway;
    const t = Date.now();
    try {
      const v = await createSlice(entry, name, []);
      return { name, entry: entry.name, askedAt: t, answeredMs: Date.now() - t, placement: new Map(v.slivers.map((s) => [s.index, s.gateway as string])) };
    } catch (err) {
      progress(`load: ${(err as Error).message.slice(0, 300)}`);
      return { name, entry: entry.name, askedAt: t, answeredMs: Date.now() - t, error: (err as Error).message.slice(0, 300) };
    }
  });
  const loadTookMs = Date.now() - loadAskedAt;
  const placedLoad = load.flatMap((l) => ('placement' in l ? [l] : []));
  // Every placed sliver running on its host, from the hosts' events (one read per host per poll).
  const loadHosts = new Set(placedLoad.flatMap((l) => [...l.placement.values()]));
  const loadStarted = await until(120_000, 1000, () => {
    const started = new Map(gateways.filter((g) => !g.killed && loadHosts.has(g.name)).map((g) => [g.name, sliversStartedSince(g, loadAskedAt)]));
    const ts = placedLoad.map((l) => [...l.placement].map(([i, h]) => started.get(h)?.get(`${l.name}-${i}`)));
    return ts.flat().every((t) => t !== undefined) ? ts.map((row) => Math.max(...(row as number[]))) : undefined;
  });
  readAll();
  const placedLines = placedLoad.flatMap((l) => {
    const line = (byName.get(l.entry) as Gateway).log.lines.find((x) => x.msg === 'slice placed' && x.fields['slice'] === l.name);
    return line === undefined ? [] : [{ at: line.at - l.askedAt, took: typeof line.fields['ms'] === 'number' ? line.fields['ms'] : undefined }];
  });
  const loadPlacedMs = placedLines.map((p) => p.at);
  // How long the entry itself took, from the request's arrival (the rest is the CLI's start and signing, and the way there).
  const loadEntryMs = placedLines.flatMap((p) => (p.took === undefined ? [] : [p.took]));
  // How the slivers spread: slivers per gateway over every slice placed so far (the first one too).
  const perGateway = new Map(gateways.map((g) => [g.name, 0]));
  for (const h of [...hosts, ...placedLoad.flatMap((l) => [...l.placement.values()])]) perGateway.set(h, (perGateway.get(h) ?? 0) + 1);
  const counts = [...perGateway.values()];
  const spread = { maxPerGateway: Math.max(...counts), meanPerGateway: Number((counts.reduce((a, b) => a + b, 0) / N).toFixed(2)), gatewaysWithNone: counts.filter((c) => c === 0).length };
  const loadFigures = {
    asked: LOAD_SLICES, placed: placedLoad.length, refused: load.flatMap((l) => ('error' in l ? [`${l.name}: ${l.error}`] : [])),
    tookMs: loadTookMs, cliAnsweredMs: medianMax(placedLoad.map((l) => l.answeredMs)), placedMs: medianMax(loadPlacedMs), entryPlacingMs: medianMax(loadEntryMs),
    allStartedMs: loadStarted === undefined ? null : medianMax(loadStarted.map((t, i) => t - (placedLoad[i] as { askedAt: number }).askedAt)),
    spread,
  };
  if (LOAD_SLICES > 0) {
    progress(`load: ${placedLoad.length}/${LOAD_SLICES} slices of 3 placed in ${sec(loadTookMs)} (${SLICE_CONCURRENCY} at once); CLI answered ${sec(loadFigures.cliAnsweredMs?.median)} median / ${sec(loadFigures.cliAnsweredMs?.max)} max, placed ${sec(loadFigures.placedMs?.median)} / ${sec(loadFigures.placedMs?.max)} (the entry's own part ${sec(loadFigures.entryPlacingMs?.median)} / ${sec(loadFigures.entryPlacingMs?.max)}), all started ${loadStarted === undefined ? 'not within 120 s' : `${sec(loadFigures.allStartedMs?.median)} / ${sec(loadFigures.allStartedMs?.max)}`}`);
    progress(`load: slivers per gateway max ${spread.maxPerGateway}, mean ${spread.meanPerGateway} (max/mean ${(spread.maxPerGateway / spread.meanPerGateway).toFixed(2)}); ${spread.gatewaysWithNone} gateways hold none`);
  }

  // 5. Kill -9 one host of the first slice (not the entry; of those, the one holding the most of the load):
  // failure seen everywhere; the slices healed; the first slice's record spread.
  const victimName = hosts.filter((h) => h !== first.name).sort((a, b) => (perGateway.get(b) ?? 0) - (perGateway.get(a) ?? 0))[0] as string;
  const victim = byName.get(victimName) as Gateway;
  const lostIndex = view.slivers.find((s) => s.gateway === victimName)?.index as number;
  const survivors = gateways.filter((g) => g !== victim);
  // The load's slices that lose a sliver with it.
  const lost = placedLoad.flatMap((l) => [...l.placement].filter(([, h]) => h === victimName).map(([i]) => ({ slice: l.name, index: i })));
  // The surviving hosts' agents' CPU while the healed record travels, as the directory's hosts' (not a spinning probe:
  // started at the kill it would take a core from the detection and the heal measured here, and started once the bench
  // sees the heal it comes too late, for the bench itself waits its turn for a core then).
  const holderCpu = sampleCpu(hosts.filter((h) => h !== victimName).map((h) => byName.get(h)?.pid).filter((pid): pid is number => pid !== undefined), 100);
  // Every surviving agent's and serf's CPU from the kill on, to see the failure's burst and the record's trip in time.
  const survivorPids = gateways.filter((g) => g !== victim && g.pid !== undefined).map((g) => g.pid as number);
  const burstTrace = traceGateways(survivorPids);
  // Who has the cores from the first gateway's detection until the heal: the agents, or their serfs.
  const { killedAt, seenMs: detection, firstSeenCpu } = await killAndDetect(victim, survivors);
  progress(detection === undefined ? 'not every gateway saw the kill within 120 s' : `failure seen: first ${sec(Math.min(...detection))}, median ${sec(median(detection))}, last ${sec(Math.max(...detection))} after the kill`);
  const course = failureCourse(victimName, killedAt);
  if (course !== null) {
    progress(`memberlist: first suspicion ${sec(course.firstSuspicionMs)} after the kill (the model's chance of a first probe this late: ${course.modelChanceOfFirstProbeAsLate}), `
      + `declared ${sec(course.declaredMs)}: a suspicion of ${sec(course.timeoutMs)} (${course.confirmations ?? '?'} confirmations; the model's ${sec(course.modelTimeoutMs)})${showStart(course.start)}`);
  }

  const heal = await until(120_000, 250, () => {
    readAll();
    const healed = survivors.flatMap((g) => g.log.lines.filter((l) => l.msg === 'slice healed' && l.at >= killedAt && l.fields['slice'] === sliceName).map((l) => ({ g, l })))[0];
    if (healed === undefined) return undefined;
    const placement = (healed.l.fields['placement'] ?? {}) as Record<string, string>;
    const newHost = byName.get(placement[String(lostIndex)] ?? '');
    if (newHost === undefined) return undefined;
    const started = sliverStarted(newHost, `${sliceName}-${lostIndex}`, killedAt);
    if (started === undefined) return undefined;
    // The heal's two parts: the healer's keeper acting on the failure ("healing: placing"), then its call (the "ms" it logs).
    const began = healed.g.log.lines.find((l) => l.msg.startsWith('healing: placing') && l.at >= killedAt && l.at <= healed.l.at && l.fields['slice'] === sliceName)?.at;
    const callMs = typeof healed.l.fields['ms'] === 'number' ? healed.l.fields['ms'] : null;
    return { healer: healed.g, healedAt: healed.l.at, newHost, started, began, callMs, cpu: firstSeenCpu === undefined ? undefined : cpuBetween(firstSeenCpu, cpuNow()) };
  });
  /** The healed record reaching the other surviving holder: gossip (its Serf had the healer's news), then its agent's pull. */
  const otherHolder = heal === undefined ? undefined : hosts.map((h) => byName.get(h) as Gateway).find((g) => g !== victim && g !== heal.healer);
  const trip = heal === undefined || otherHolder === undefined ? null : await recordTrip(otherHolder, heal.healer, sliceName, heal.healedAt, killedAt, holderCpu);
  const record = trip?.recordMs ?? null;
  const recordLearnt = trip?.learntMs ?? null;
  const recordBurst = trip === null || trip.recordMs === null ? null : { healerCpuShare: trip.healerCpuShare, otherHolderCpuShare: trip.holderCpuShare };
  holderCpu.stop();
  // Each lost sliver of the load: its slice's first "slice healed" naming a new host for it, and that sliver running there.
  const lostHealed = new Map<string, { healedMs: number; runningMs?: number; healers: number }>();
  await until(120_000, 1000, () => {
    readAll();
    const startedOn = new Map<string, Map<string, number>>();
    for (const x of lost) {
      const key = `${x.slice}-${x.index}`;
      if (lostHealed.get(key)?.runningMs !== undefined) continue;
      const heals = survivors.flatMap((g) => g.log.lines.filter((l) => l.msg === 'slice healed' && l.at >= killedAt && l.fields['slice'] === x.slice
        && ((l.fields['indexes'] ?? []) as unknown[]).includes(x.index)));
      const firstHeal = heals.sort((a, b) => a.at - b.at)[0];
      if (firstHeal === undefined) continue;
      const newHost = ((firstHeal.fields['placement'] ?? {}) as Record<string, string>)[String(x.index)];
      const g = newHost === undefined ? undefined : byName.get(newHost);
      if (g !== undefined && !startedOn.has(g.name)) startedOn.set(g.name, sliversStartedSince(g, killedAt));
      const running = g === undefined ? undefined : startedOn.get(g.name)?.get(key);
      lostHealed.set(key, { healedMs: firstHeal.at - killedAt, healers: heals.length, ...(running === undefined ? {} : { runningMs: running - killedAt }) });
    }
    return lost.every((x) => lostHealed.get(`${x.slice}-${x.index}`)?.runningMs !== undefined) ? true : undefined;
  });
  const lostFigures = {
    slivers: lost.length, healed: lostHealed.size,
    running: [...lostHealed.values()].filter((h) => h.runningMs !== undefined).length,
    healedMs: medianMax([...lostHealed.values()].map((h) => h.healedMs)),
    runningMs: medianMax([...lostHealed.values()].flatMap((h) => (h.runningMs === undefined ? [] : [h.runningMs]))),
    healedMoreThanOnce: [...lostHealed.values()].filter((h) => h.healers > 1).length,
  };
  if (lost.length > 0) {
    progress(`the load's ${lost.length} slivers on ${victimName}: ${lostFigures.healed} healed (median ${sec(lostFigures.healedMs?.median)}, last ${sec(lostFigures.healedMs?.max)} after the kill), ${lostFigures.running} running again (median ${sec(lostFigures.runningMs?.median)}, last ${sec(lostFigures.runningMs?.max)}); ${lostFigures.healedMoreThanOnce} healed by more than one gateway`);
  }
  // The failure's whole reaction (every heal's gossip and pulls included) is over 20 s after the first detection.
  let failureReaction: Reaction | null = null;
  let settledAfterFailure: ReturnType<typeof cpuBetween> | null = null;
  if (firstSeenCpu !== undefined) {
    await sleep(Math.max(0, firstSeenCpu.at + REACTION_WINDOW_MS - performance.now()));
    const end = cpuNow();
    // The rate it came above: the 10 s after it (before it, the load's slices were still settling in).
    settledAfterFailure = await measureCpu(10_000);
    readAll();
    failureReaction = reactionBetween(firstSeenCpu, end, settledOf(settledAfterFailure));
    progress(`the failure's reaction: ${failureReaction.cpuMsPerGateway} ms of CPU per gateway (agent ${failureReaction.agentMs}, serf ${failureReaction.serfMs}) above its settled rate over ${sec(failureReaction.windowMs)}, `
      + `with ${failureReaction.updates} tag updates (median Serf)`);
  }
  burstTrace.stop();
  const healerSaw = heal === undefined ? undefined : failedAt(heal.healer, victimName, killedAt);
  const burst = detection === undefined ? null : failureBurst(burstTrace, killedAt + Math.min(...detection), survivorPids.length, {
    healerSaw, healed: heal?.healedAt, recordTaken: heal === undefined || record === null ? undefined : heal.healedAt + record,
  });
  if (burst !== null) {
    const show = (w: CpuWindow | null): string => (w === null ? '–' : `${w.cores['agents']}+${w.cores['serfs']} (${w.machineBusyPercent}%, ${w.runnable} runnable)`);
    progress(`the failure's burst, agents+serfs cores (machine busy, threads runnable): before ${show(burst.before)}; `
      + burst.steps.map((b) => `${sec(b.fromMs)}-${sec(b.toMs)}: ${show(b.cpu)}`).join('; '));
    progress(`  from the healer seeing it to the heal: ${show(burst.healing)}; the record's trip: ${show(burst.recordTrip)}; `
      + `the ${sec(BURST_WINDOW_MS)} from the first detection: ${show(burst.window)}`);
    if (burst.own !== null) {
      progress(`  the failure's own burst: the machine 90% busy until ${sec(burst.own.endMs)} after the first detection; `
        + `${burst.own.agentMs + burst.own.serfMs} ms of CPU per gateway above the rate before (agent ${burst.own.agentMs}, serf ${burst.own.serfMs})`);
    }
  }
  progress(heal === undefined ? 'the slice was not healed within 120 s'
    : `healed by ${heal.healer.name} onto ${heal.newHost.name}: healer saw the failure at ${sec((healerSaw ?? Number.NaN) - killedAt)}, began healing at ${sec((heal.began ?? Number.NaN) - killedAt)}, healed at ${sec(heal.healedAt - killedAt)} (its call ${heal.callMs ?? '?'} ms), sliver started at ${sec(heal.started - killedAt)}; the other holder took the placement ${sec(record)} after (its Serf had the healer's news ${sec(recordLearnt)} after)`
    + (recordBurst === null ? '' : `; meanwhile the healer's agent used ${recordBurst.healerCpuShare ?? '–'} of a core, the other holder's ${recordBurst.otherHolderCpuShare ?? '–'}`));
  const cpuHealing = heal?.cpu ?? null;
  if (cpuHealing !== null) progress(`CPU from the first detection until the heal: agents ${cpuHealing.agentsCores} cores, serfs ${cpuHealing.serfsCores} cores, machine busy ${cpuHealing.machineBusyPercent}%`);

  // 6. A record healed on a settled machine: the owner drains a gateway that holds one sliver of a load slice (not
  // the victim's); the slice's healer places it elsewhere, and its third holder takes the new placement: one gossip
  // and one pull, as after a failure, without the burst of every agent's reaction to a failure.
  const drain = await drainOne(placedLoad, { gateways: new Set([victimName, ...hosts]), slices: new Set(lost.map((x) => x.slice)) }, perGateway, byName);
  readAll();
  const update = await updateCost(perGateway);
  const pushPull = await pushPullCost(new Set([victimName]));
  // 7. A failure and nothing else: what the one-machine model takes as a failure's own cost.
  const alone = await failureAlone(new Set([victimName, first.name, ...hosts, ...(drain === null ? [] : [drain.drained])]));
  const falseAll = falseFailures(joinT, new Set([victimName, ...(alone === null ? [] : [alone.gateway])]));

  const result = {
    /** One instant on both clocks: a V8 profile's times are monotonic microseconds, the logs' are epoch milliseconds. */
    clock: { epochMs: Date.now(), monotonicUs: Number(process.hrtime.bigint() / 1000n) },
    /** Epoch milliseconds of the first join's ask, the first slice's ask and the kill, to cut the profiles' windows. */
    at: { joins: joinT, sliceAsked: askedAt, killed: killedAt },
    machine, gateways: N, profile: PROFILE, batch: BATCH, nodeOptions: values['node-options'], slowPeerMs: SLOW_PEER_MS ?? null,
    startAllAgentsMs: startAllMs, joinsMs: lastJoin - joinT, cpuWhileJoining: joinCpu, pushPullCost: pushPull,
    fullViewMs, fullViewAgents: viewAt.size, behind, joinRetries, syncsAfterJoins: syncs,
    /** The last joins, each: its rumor reaching every older agent, and the joiner seeing every older member; every join's missed rumors (joinSpreads). */
    joinSpreadMs: joins,
    memoryPerGateway: memory, cpuSettled: cpu, cpuWhileHealing: cpuHealing,
    slice: {
      hosts, cliAnsweredMs: answeredAt - askedAt,
      placedMs: placedAt === undefined ? null : placedAt - askedAt,
      allStartedMs: startedAll === undefined ? null : startedAll - askedAt,
    },
    serviceDirectoryMs: directory === undefined ? null : { perHost: directory, max: Math.max(...directory) },
    directoryPulls,
    directoryRunQueue: directoryLoad ?? null,
    /** The machine's busy share over the directory's window (the first announcement to the last pull) and in the 8 s before the slice was asked, and each gateway's CPU above its rate then. */
    directoryMachine: { busyPercent: directoryMachine?.machineBusyPercent ?? null, beforePercent: directoryBefore?.machineBusyPercent ?? null, cpuAbove: directoryCpu },
    directoryHostCpu: hostShares,
    load: loadFigures,
    loadHealing: lostFigures,
    failureSeenMs: detection === undefined ? null : firstMedianLast(detection),
    failureCourse: course,
    /** The failure's reaction above the gateways' CPU in the 10 s after it (the drain's is in drainRecord). */
    failureReaction, cpuSettledAfterFailure: settledAfterFailure,
    /** The surviving gateways' CPU in steps from the first agent's detection (ms), and over the heal and the record's trip. */
    failureBurst: burst,
    /** A gateway's new zones: tag updates and nothing else, what each costs every gateway (perUpdateMs). */
    updateReaction: update,
    /** A gateway that never held a sliver killed: its failure's own burst and reaction, with no heal in them. */
    failureAlone: alone,
    healing: heal === undefined ? null : {
      victim: victimName, healer: heal.healer.name, newHost: heal.newHost.name,
      healerSawFailureMs: healerSaw === undefined ? null : healerSaw - killedAt,
      healedMs: heal.healedAt - killedAt, runningAgainMs: heal.started - killedAt, recordToOtherHolderMs: record, recordLearntByOtherHolderMs: recordLearnt,
      healingBeganMs: heal.began === undefined ? null : heal.began - killedAt, healCallMs: heal.callMs,
      recordBurst,
    },
    drainRecord: drain,
    falseFailures: { whileSettling: falseWhileSettling, sinceFirstJoin: falseAll },
    sliverNames,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const rows: [string, string][] = [
      ['gateways (profile)', `${N} (${PROFILE})`],
      ['start all agents (batches of ' + String(BATCH) + ')', sec(startAllMs)],
      ['joins (' + String(JOIN_CONCURRENCY) + ' at once)', sec(lastJoin - joinT)],
      ['full view after the last member first showed up alive', converged === undefined ? `not within 180 s: ${viewAt.size}/${N} agents saw all` : sec(fullViewMs)],
      ['the last joins reaching every older agent: median / 95th / max', `${sec(joins.rumor.medianMs)} / ${sec(joins.rumor.p95Ms)} / ${sec(joins.rumor.maxMs)}`],
      ["the last joins: the joiner's agent seeing every older member, median / 95th / max", `${sec(joins.own.medianMs)} / ${sec(joins.own.p95Ms)} / ${sec(joins.own.maxMs)}`],
      ["joins whose rumor some Serf missed: measured / the model's expectation", `${joins.misses.missed.length} / ${joins.misses.expected ?? '–'} of ${joins.misses.joins}`],
      ['failure seen: first / median / last', detection === undefined ? 'not within 120 s' : `${sec(Math.min(...detection))} / ${sec(median(detection))} / ${sec(Math.max(...detection))}`],
      ['memberlist: first suspicion / declared (the model\'s chance of a first probe as late)', course === null ? '–' : `${sec(course.firstSuspicionMs)} / ${sec(course.declaredMs)} (${course.modelChanceOfFirstProbeAsLate})`],
      ['a failure alone: own burst 90% busy until / its CPU per gateway; 20 s reaction per gateway', alone === null ? '–'
        : `${sec(alone.burst.own?.endMs)} / ${alone.burst.own === null ? '–' : `${alone.burst.own.agentMs + alone.burst.own.serfMs} ms`}; ${alone.reaction.cpuMsPerGateway} ms`],
      [`the machine busy over the ${sec(BURST_WINDOW_MS)} from a failure's first detection: with its heal / alone`,
        `${burst?.window?.machineBusyPercent ?? '–'}% / ${alone?.burst.window?.machineBusyPercent ?? '–'}%`],
      ["reaction per gateway to the failure / one update / the drain: CPU above settled (tag updates)",
        [failureReaction, update === null ? null : { cpuMsPerGateway: update.perUpdateMs, updates: 1 }, drain?.reaction ?? null]
          .map((r) => (r === null ? '–' : `${r.cpuMsPerGateway} ms (${r.updates})`)).join(' / ')],
      ['slice of 3: CLI answered / placed / all started', `${sec(answeredAt - askedAt)} / ${sec(result.slice.placedMs)} / ${sec(result.slice.allStartedMs)}`],
      ['service directory: max over hosts', directory === undefined ? 'not within 120 s' : sec(Math.max(...directory))],
      ["while the directory's pulls ran: threads runnable (mean), the machine busy, each gateway's CPU above settled", `${directoryLoad?.mean ?? '–'}, ${directoryMachine?.machineBusyPercent ?? '–'}%, ${showAbove(directoryCpu)}`],
      [`load: slices of 3 placed / asked (${SLICE_CONCURRENCY} at once)`, `${placedLoad.length} / ${LOAD_SLICES} in ${sec(loadTookMs)}`],
      ['load: CLI answered / placed / all started, median (max)', `${sec(loadFigures.cliAnsweredMs?.median)} (${sec(loadFigures.cliAnsweredMs?.max)}) / ${sec(loadFigures.placedMs?.median)} (${sec(loadFigures.placedMs?.max)}) / ${sec(loadFigures.allStartedMs?.median)} (${sec(loadFigures.allStartedMs?.max)})`],
      ["load: the entry's own part of placing, median (max)", `${sec(loadFigures.entryPlacingMs?.median)} (${sec(loadFigures.entryPlacingMs?.max)})`],
      ['load: slivers per gateway max / mean, gateways with none', `${spread.maxPerGateway} / ${spread.meanPerGateway}, ${spread.gatewaysWithNone}`],
      ['load: slivers lost with the victim, healed / running again, median (max)', `${lost.length}: ${sec(lostFigures.healedMs?.median)} (${sec(lostFigures.healedMs?.max)}) / ${sec(lostFigures.runningMs?.median)} (${sec(lostFigures.runningMs?.max)})`],
      ['healing: healer saw / healed / running again', heal === undefined ? 'not within 120 s' : `${sec(result.healing?.healerSawFailureMs)} / ${sec(result.healing?.healedMs)} / ${sec(result.healing?.runningAgainMs)}`],
      ['record to the other holder after healing (its Serf had the news)', `${sec(record)} (${sec(recordLearnt)})`],
      ['record to the third holder after a drain (its Serf had the news)', drain === null ? '–' : `${sec(drain.recordMs)} (${sec(drain.learntMs)})`],
      ['memory/gateway USS median / max', `${memory.gatewayUssMb.median} / ${memory.gatewayUssMb.max} MB (agent ${memory.agentUssMb.median}, serf ${memory.serfUssMb.median})`],
      ['memory/gateway PSS median / max', `${memory.gatewayPssMb.median} / ${memory.gatewayPssMb.max} MB`],
      ['CPU settled: agents / serfs (cores), machine busy', `${cpu.agentsCores} / ${cpu.serfsCores}, ${cpu.machineBusyPercent}%`],
      ['CPU from the first detection until the heal: agents / serfs (cores), machine busy', cpuHealing === null ? '–' : `${cpuHealing.agentsCores} / ${cpuHealing.serfsCores}, ${cpuHealing.machineBusyPercent}%`],
      ['CPU over the joins: agents / serfs (cores), machine busy', `${joinCpu.agentsCores} / ${joinCpu.serfsCores}, ${joinCpu.machineBusyPercent}%`],
      ['a push-pull after joins: CPU over the community (agents / serfs)', pushPull === null ? '–' : `${pushPull.perPushPullMs} ms (${pushPull.agentMs} / ${pushPull.serfMs})`],
      ['joins retried', String(joinRetries.length)],
      ['false failures (settling / since first join)', `${falseWhileSettling} / ${falseAll}`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  }
}

interface RecordTrip {
  /** From "slice healed" until the holder took the placement (null: not within 60 s), and until its Serf first had the healer's news. */
  recordMs: number | null; learntMs: number | null;
  /** The healer's and the holder's agents' CPU over that window, as a share of a core (null when it was not taken). */
  healerCpuShare: number | null; holderCpuShare: number | null;
}

/** Half-second steps from the first detection until 5 s after it, then 5-10 and 10-20 s. */
const BURST_STEPS_MS: [number, number][] = [
  ...Array.from({ length: 12 }, (_, i): [number, number] => [i * 500 - 1000, i * 500 - 500]), [5000, 10_000], [10_000, 20_000],
];

/** Every agent's (`pids`) and its serf's CPU, traced from now (bench/cpu-trace.ts). */
function traceGateways(pids: readonly number[]): ReturnType<typeof traceCpu> {
  return traceCpu({ agents: pids, serfs: [...serfChildren(new Set(pids)).values()] });
}

/**
 * Kill -9 of `victim`, then until every one of `watchers` saw it fail (120 s at most): when each did, in ms after
 * the kill (undefined when not all did), and the CPU sample taken as the first of them did.
 */
async function killAndDetect(victim: Gateway, watchers: readonly Gateway[]): Promise<{ killedAt: number; seenMs: number[] | undefined; firstSeenCpu: CpuSample | undefined }> {
  readAll();
  const killedAt = Date.now();
  process.kill(victim.pid as number, 'SIGKILL');
  victim.killed = true;
  let firstSeenCpu: CpuSample | undefined;
  const seenMs = await until(120_000, 250, () => {
    readAll();
    const seen = watchers.map((g) => failedAt(g, victim.name, killedAt));
    if (firstSeenCpu === undefined && seen.some((t) => t !== undefined)) firstSeenCpu = cpuNow();
    return seen.every((t) => t !== undefined) ? (seen as number[]).map((t) => t - killedAt) : undefined;
  });
  return { killedAt, seenMs, firstSeenCpu };
}

/** What a window cost each gateway above a rate before, in ms of one core, its agent's part and its serf's. */
interface CpuAbove { agentMs: number; serfMs: number }

const showAbove = (c: CpuAbove | null): string => (c === null ? '–' : `${c.agentMs + c.serfMs} ms (agent ${c.agentMs}, serf ${c.serfMs})`);

/** The first, median and last of some times (ms); null when there are none. */
function firstMedianLast(ms: readonly number[]): { first: number; median: number; last: number } | null {
  return ms.length === 0 ? null : { first: Math.min(...ms), median: median(ms), last: Math.max(...ms) };
}

/** When `g`'s Serf handed an event on to its agent (its `line`, EVENT_HANDED_ON or UPDATE_HANDED_ON), first at or after `at`. */
function handedOnAfter(g: Gateway, at: number, line: string): number | undefined {
  return g.log.lines.find((l) => l.at >= at && l.msg === line)?.at;
}

/** From a trace of the `gateways` live agents and serfs: the window `from`-`to` (epoch ms) above `before`'s rate. */
function cpuAbove(trace: ReturnType<typeof traceCpu>, before: CpuWindow, from: number, to: number, gateways: number): CpuAbove | null {
  const w = trace.over(from, to);
  if (w === undefined) return null;
  const above = (kind: string): number => Math.round((((w.cores[kind] ?? 0) - (before.cores[kind] ?? 0)) * (to - from)) / gateways);
  return { agentMs: above('agents'), serfMs: above('serfs') };
}

/**
 * The failure's burst, from a trace started at the kill: the `live`
 * gateways' CPU in the 8 s before the first agent's detection (`firstSeen`,
 * epoch ms), from 1 s before it in steps, in the failure's own burst, over
 * the BURST_WINDOW_MS from the first detection (the model's FailureLoad
 * meanBusy: the machine's busy share, `window`), and over the heal (the
 * healer seeing the failure → healed) and the record's trip (healed → the
 * other holder took it), where the bench saw them.
 */
function failureBurst(trace: ReturnType<typeof traceCpu>, firstSeen: number, live: number, marks: Record<'healerSaw' | 'healed' | 'recordTaken', number | undefined>) {
  const window = (from: number | undefined, to: number | undefined): CpuWindow | null =>
    (from === undefined || to === undefined ? null : trace.over(from, to) ?? null);
  const before = window(firstSeen - 10_000, firstSeen - 2000);
  // The failure's own burst, by the model's rule (a quarter second without two samples counts as busy: the sampler,
  // at nice -15, waited for a core).
  const endMs = burstEndMs((from, to) => (window(firstSeen + from, firstSeen + to)?.machineBusyPercent ?? 100) / 100);
  const own = endMs === null || before === null ? null : cpuAbove(trace, before, firstSeen, firstSeen + endMs, live);
  return {
    before,
    own: own === null || endMs === null ? null : { endMs, ...own },
    window: window(firstSeen, firstSeen + BURST_WINDOW_MS),
    steps: BURST_STEPS_MS.map(([fromMs, toMs]) => ({ fromMs, toMs, cpu: window(firstSeen + fromMs, firstSeen + toMs) })),
    healing: window(marks.healerSaw, marks.healed),
    recordTrip: window(marks.healed, marks.recordTaken),
    marksMs: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, v === undefined ? null : v - firstSeen])),
  };
}

/**
 * A healed record of `slice` reaching `holder`: when its agent took the placement (logged after `since`), when its
 * Serf had the healer's news, and the two agents' CPU meanwhile, from `cpu` (sampling both). The window must hold
 * samples a second apart (sampleCpu's least): a record taken sooner is measured over the 1.5 s after the heal.
 */
async function recordTrip(holder: Gateway, healer: Gateway, slice: string, healedAt: number, since: number, cpu: ReturnType<typeof sampleCpu>): Promise<RecordTrip> {
  const took = await until(60_000, 250, () => {
    readAll();
    return holder.log.lines.find((l) => l.msg === 'took a newer placement' && l.at >= since && l.fields['slice'] === slice)?.at;
  });
  const learnt = holder.log.lines.find((l) => l.at >= healedAt && l.msg === `${UPDATE_LEARNT}${healer.name}`)?.at;
  const trip: RecordTrip = {
    recordMs: took === undefined ? null : took - healedAt, learntMs: learnt === undefined ? null : learnt - healedAt,
    healerCpuShare: null, holderCpuShare: null,
  };
  if (took === undefined) return trip;
  const window = [healedAt, Math.max(took, healedAt + 1500)] as const;
  await sleep(Math.max(0, window[1] + 200 - Date.now()));
  return { ...trip, healerCpuShare: cpu.shareOver(healer.pid ?? -1, ...window) ?? null, holderCpuShare: cpu.shareOver(holder.pid ?? -1, ...window) ?? null };
}

/**
 * Members' new tags and nothing else: the owner of a gateway that holds the fewest slivers (none, at 100) moves it to a zone (`hearth node
 * zone`) UPDATE_STEPS times, UPDATE_GAP_MS apart, and every agent reads its record each time. The gateways' CPU over
 * those steps above the mean of their settled rate over the 10 s before and the 10 s after (the two baselines bound
 * a drift), per update.
 */
async function updateCost(perGateway: ReadonlyMap<string, number>): Promise<(Reaction & { perUpdateMs: number; parts: UpdateParts | null }) | null> {
  const g = gateways.filter((x) => !x.killed).sort((a, b) => (perGateway.get(a.name) ?? 0) - (perGateway.get(b.name) ?? 0))[0];
  if (g === undefined) return null;
  const others = gateways.filter((x) => !x.killed && x.pid !== undefined && x !== g);
  const trace = traceGateways(others.map((x) => x.pid as number));
  try {
    const before = await measureCpu(10_000);
    const from = cpuNow();
    const steps: number[] = [];
    for (let i = 0; i < UPDATE_STEPS; i++) {
      steps.push(Date.now());
      await run(process.execPath, [CLI, '--data-dir', g.dataDir, 'node', 'zone', `bench-zone-${i}`, '--json'], { env: withoutHearthEnv() });
      await sleep(Math.max(0, from.at + (i + 1) * UPDATE_GAP_MS - performance.now()));
    }
    const to = cpuNow();
    const after = await measureCpu(10_000);
    readAll();
    const reaction = reactionBetween(from, to, settledOf(before, after));
    const perUpdateMs = Math.round(reaction.cpuMsPerGateway / UPDATE_STEPS);
    const parts = updateParts(trace, g.name, others, steps);
    progress(`${UPDATE_STEPS} updates (${g.name} moved zones, ${sec(UPDATE_GAP_MS)} apart): ${reaction.cpuMsPerGateway} ms of CPU per gateway over ${sec(reaction.windowMs)} `
      + `(${reaction.updates} tag updates, median Serf), ${perUpdateMs} ms each (agent ${Math.round(reaction.agentMs / UPDATE_STEPS)}, serf ${Math.round(reaction.serfMs / UPDATE_STEPS)}); settled before ${perGatewayPercent(before)}%, after ${perGatewayPercent(after)}% of a core per gateway`
      + (parts === null ? '' : `; each, per gateway: ${showAbove(parts.seen)} in its first second, ${showAbove(parts.handedOn)} from 1 s to 4 s; `
        + `Serf handing it on ${sec(parts.handedOnMs?.median)} (median), ${sec(parts.handedOnMs?.last)} (last) after the first Serf learnt it`));
    return { ...reaction, perUpdateMs, parts };
  } finally {
    trace.stop();
  }
}

/** How many push-pulls pushPullCost makes, one each PUSH_PULL_GAP_MS, and how long it waits after the last for their gossip. */
const PUSH_PULLS = 10;
const PUSH_PULL_GAP_MS = 1000;
const PUSH_PULL_TAIL_MS = 5000;

/**
 * What one push-pull after joins (src/overlay/catch-up.ts) costs the community: PUSH_PULLS of them, each a Serf join of
 * one alive member without replay (as the agent asks it), from as many gateways through their own Serf RPC, one every
 * PUSH_PULL_GAP_MS; the gateways' CPU above the mean of their settled rate over the 10 s before and after, from the
 * first until PUSH_PULL_TAIL_MS after the last (the join intent each makes Serf gossip to all), per push-pull, summed
 * over the community.
 */
async function pushPullCost(avoid: ReadonlySet<string>): Promise<{ count: number; perPushPullMs: number; agentMs: number; serfMs: number; windowMs: number } | null> {
  const live = gateways.filter((g) => !g.killed && !avoid.has(g.name));
  if (live.length < PUSH_PULLS + 1) return null;
  const pullers = live.slice(0, PUSH_PULLS);
  const rpcs = pullers.map((g) => createSerfRpc({
    address: `127.0.0.1:${g.rpcPort}`,
    authKey: (JSON.parse(readFileSync(join(g.dataDir, 'community.json'), 'utf8')) as { rpcAuthKey: string }).rpcAuthKey,
  }));
  try {
    await Promise.all(rpcs.map((r) => r.connect()));
    // Each pulls from the member after it in the list (a Serf address, as the view has it).
    const partners = await Promise.all(pullers.map(async (_, i) => {
      const partner = live[(i + 1) % live.length] as Gateway;
      const members = await (rpcs[i] as SerfRpc).members();
      const m = members.find((x) => x.name === partner.name);
      if (m === undefined) throw new Error(`${pullers[i]?.name}'s Serf does not know ${partner.name}`);
      return `${m.addr}:${m.port}`;
    }));
    const before = await measureCpu(10_000);
    const from = cpuNow();
    for (let i = 0; i < PUSH_PULLS; i++) {
      await (rpcs[i] as SerfRpc).join([partners[i] as string], false);
      await sleep(Math.max(0, from.at + (i + 1) * PUSH_PULL_GAP_MS - performance.now()));
    }
    await sleep(PUSH_PULL_TAIL_MS);
    const to = cpuNow();
    const after = await measureCpu(10_000);
    const reaction = reactionBetween(from, to, settledOf(before, after));
    const each = (ms: number): number => Math.round((ms * to.agentCount) / PUSH_PULLS);
    const cost = { count: PUSH_PULLS, perPushPullMs: each(reaction.agentMs + reaction.serfMs), agentMs: each(reaction.agentMs), serfMs: each(reaction.serfMs), windowMs: reaction.windowMs };
    progress(`${PUSH_PULLS} push-pulls (Serf joins of one member, as after joins), ${sec(PUSH_PULL_GAP_MS)} apart: ${cost.perPushPullMs} ms of CPU each over the community `
      + `(agents ${cost.agentMs}, serfs ${cost.serfMs}), over ${sec(reaction.windowMs)}`);
    return cost;
  } finally {
    await Promise.all(rpcs.map((r) => r.close()));
  }
}

/** An update's cost in two parts, as for a failure alone: its first second from the first Serf's word of it, and 1-4 s (means over the steps). */
interface UpdateParts { seen: CpuAbove; handedOn: CpuAbove; handedOnMs: ReturnType<typeof firstMedianLast> }

/** Each of `steps` (epoch ms) split from a trace of `others`, from the first of them whose Serf learnt `member`'s new tags, above the 8 s before the first step. */
function updateParts(trace: ReturnType<typeof traceCpu>, member: string, others: readonly Gateway[], steps: readonly number[]): UpdateParts | null {
  const before = trace.over((steps[0] as number) - 9000, (steps[0] as number) - 1000);
  if (before === undefined) return null;
  const seen: CpuAbove[] = [];
  const handedOn: CpuAbove[] = [];
  const handedOnMs: number[] = [];
  for (const at of steps) {
    const learnt = others.map((g) => g.log.lines.find((l) => l.at >= at && l.msg === `${UPDATE_LEARNT}${member}`)?.at);
    const first = Math.min(...learnt.filter((t): t is number => t !== undefined));
    if (!Number.isFinite(first)) return null;
    const a = cpuAbove(trace, before, first, first + 1000, others.length);
    const b = cpuAbove(trace, before, first + 1000, first + 4000, others.length);
    if (a === null || b === null) return null;
    seen.push(a);
    handedOn.push(b);
    others.forEach((g, i) => {
      const t = learnt[i];
      const handed = t === undefined ? undefined : handedOnAfter(g, t, UPDATE_HANDED_ON);
      if (handed !== undefined) handedOnMs.push(handed - first);
    });
  }
  const mean = (xs: CpuAbove[]): CpuAbove => ({
    agentMs: Math.round(xs.reduce((x, c) => x + c.agentMs, 0) / xs.length), serfMs: Math.round(xs.reduce((x, c) => x + c.serfMs, 0) / xs.length),
  });
  return { seen: mean(seen), handedOn: mean(handedOn), handedOnMs: firstMedianLast(handedOnMs) };
}

/**
 * A failure with nothing to heal: kill -9 of a live gateway, none of `avoid`, that never started a sliver, once the
 * machine has settled. Every other agent's and serf's CPU is traced from the kill; the failure's own burst is found
 * from the first agent's detection as the first failure's is (failureBurst), and its reaction over the 20 s from
 * there, above the 10 s before the kill. Null when no gateway fits, or not every live agent saw it within 120 s.
 */
async function failureAlone(avoid: ReadonlySet<string>): Promise<{
  gateway: string;
  /** Epoch ms of the kill, to cut the profiles' windows (bench/cpu-prof.ts counts from the first kill, `at.killed`). */
  killedAt: number;
  seenMs: ReturnType<typeof firstMedianLast>; reaction: Reaction; burst: ReturnType<typeof failureBurst>;
  parts: { seen: CpuAbove | null; handedOn: CpuAbove | null; handedOnMs: ReturnType<typeof firstMedianLast> };
  course: ReturnType<typeof failureCourse>;
} | null> {
  const live = gateways.filter((g) => !g.killed && g.pid !== undefined);
  const quiet = live.find((g) => !avoid.has(g.name) && sliversStartedSince(g, 0).size === 0);
  if (quiet === undefined) {
    progress('a failure alone: every gateway left has held a sliver; skipped');
    return null;
  }
  const others = live.filter((g) => g !== quiet);
  const settled = await measureCpu(10_000);
  const trace = traceGateways(others.map((g) => g.pid as number));
  try {
    const { killedAt, seenMs: seen, firstSeenCpu } = await killAndDetect(quiet, others);
    if (seen === undefined || firstSeenCpu === undefined) {
      progress(`a failure alone: ${quiet.name} killed, not seen by every gateway within 120 s`);
      return null;
    }
    await sleep(Math.max(0, firstSeenCpu.at + REACTION_WINDOW_MS - performance.now()));
    readAll();
    const reaction = reactionBetween(firstSeenCpu, cpuNow(), settledOf(settled));
    const firstSeen = killedAt + Math.min(...seen);
    const burst = failureBurst(trace, firstSeen, others.length, { healerSaw: undefined, healed: undefined, recordTaken: undefined });
    const seenMs = firstMedianLast(seen);
    // Its two parts: as each agent sees it (the first second from the first detection, by when 90% of the agents
    // saw it in sessions 25-32), and once each Serf hands the event on, coalesced, a second or more after (until 4 s).
    const handedOn = others.flatMap((g, i) => {
      const at = handedOnAfter(g, killedAt + (seen[i] as number), EVENT_HANDED_ON);
      return at === undefined ? [] : [at - firstSeen];
    });
    const part = (fromMs: number, toMs: number): CpuAbove | null =>
      (burst.before === null ? null : cpuAbove(trace, burst.before, firstSeen + fromMs, firstSeen + toMs, others.length));
    const parts = { seen: part(0, 1000), handedOn: part(1000, 4000), handedOnMs: firstMedianLast(handedOn) };
    const course = failureCourse(quiet.name, killedAt);
    progress(`a failure alone: ${quiet.name} (never held a sliver) killed, seen ${sec(seenMs?.first)} / ${sec(seenMs?.median)} / ${sec(seenMs?.last)} after${showStart(course?.start ?? null)}; `
      + (burst.own === null ? 'the machine was never 90% busy; '
        : `the machine 90% busy until ${sec(burst.own.endMs)} after the first detection, ${showAbove(burst.own)} of CPU per gateway above the rate before; `)
      + `${burst.window?.machineBusyPercent ?? '–'}% busy over the ${sec(BURST_WINDOW_MS)} from it; `
      + `per gateway in its first second ${showAbove(parts.seen)}, from 1 s to 4 s ${showAbove(parts.handedOn)}, `
      + `Serf handing the event on ${sec(parts.handedOnMs?.first)} / ${sec(parts.handedOnMs?.median)} / ${sec(parts.handedOnMs?.last)} after the first detection; `
      + `its reaction: ${reaction.cpuMsPerGateway} ms per gateway (agent ${reaction.agentMs}, serf ${reaction.serfMs}) over ${sec(reaction.windowMs)}, with ${reaction.updates} tag updates (median Serf); `
      + burst.steps.map((b) => `${sec(b.fromMs)}-${sec(b.toMs)}: ${b.cpu === null ? '–' : `${b.cpu.cores['agents']}+${b.cpu.cores['serfs']} (${b.cpu.machineBusyPercent}%)`}`).join('; '));
    return { gateway: quiet.name, killedAt, seenMs, reaction, burst, parts, course };
  } finally {
    trace.stop();
  }
}

/** The drain's record: which gateway, slice, healer and third holder; from the drain to "slice healed"; then the record's trip. */
type DrainRecord = { drained: string; slice: string; healer: string; thirdHolder: string; healedMs: number; reaction: Reaction } & RecordTrip;

/**
 * Drains (`hearth node mode drain`, as its owner) a gateway that holds one sliver of one load slice, none of
 * `avoid` (the victim, the first slice's hosts, the slices that were healed), once the machine has settled, and
 * measures that slice's record reaching its third holder after the heal. Null when no gateway fits or a step
 * did not come within 60 s.
 */
async function drainOne(load: readonly { name: string; placement: Map<number, string> }[], avoid: { gateways: ReadonlySet<string>; slices: ReadonlySet<string> },
  perGateway: ReadonlyMap<string, number>, byName: ReadonlyMap<string, Gateway>): Promise<DrainRecord | null> {
  const pick = load.filter((l) => !avoid.slices.has(l.name) && ![...l.placement.values()].some((h) => avoid.gateways.has(h)))
    .flatMap((l) => [...l.placement.values()].filter((h) => perGateway.get(h) === 1).map((h) => ({ slice: l, host: h })))[0];
  if (pick === undefined) {
    progress('drain: no gateway holds a single sliver of a slice untouched by the failure; skipped');
    return null;
  }
  const holders = [...pick.slice.placement.values()].filter((h) => h !== pick.host).map((h) => byName.get(h) as Gateway);
  // The failure's burst has settled (the failure's reaction was measured over 20 s and its baseline over 10 s more);
  // the last 10 s before the drain are the drain's reaction's baseline.
  const settled = await measureCpu(10_000);
  const cpu = sampleCpu(holders.flatMap((g) => (g.pid === undefined ? [] : [g.pid])), 100);
  try {
    const before = cpuNow();
    const drainedAt = Date.now();
    const drained = byName.get(pick.host) as Gateway;
    await run(process.execPath, [CLI, '--data-dir', drained.dataDir, 'node', 'mode', 'drain', '--json'], { env: withoutHearthEnv() });
    const healed = await until(60_000, 250, () => {
      readAll();
      return holders.flatMap((g) => g.log.lines.filter((l) => l.msg === 'slice healed' && l.at >= drainedAt && l.fields['slice'] === pick.slice.name).map((l) => ({ g, at: l.at })))[0];
    });
    if (healed === undefined) {
      progress(`drain: ${pick.host} drained, ${pick.slice.name} not healed within 60 s`);
      return null;
    }
    const third = holders.find((g) => g !== healed.g) as Gateway;
    const trip = await recordTrip(third, healed.g, pick.slice.name, healed.at, drainedAt, cpu);
    await sleep(Math.max(0, before.at + REACTION_WINDOW_MS - performance.now()));
    readAll();
    const record: DrainRecord = {
      drained: pick.host, slice: pick.slice.name, healer: healed.g.name, thirdHolder: third.name, healedMs: healed.at - drainedAt,
      ...trip, reaction: reactionBetween(before, cpuNow(), settledOf(settled)),
    };
    progress(`drain: ${pick.host} drained; ${record.slice} healed by ${record.healer} ${sec(record.healedMs)} after; its third holder ${record.thirdHolder} took the placement ${sec(record.recordMs)} after the heal `
      + `(its Serf had the healer's news ${sec(record.learntMs)} after); the holders' agents used ${record.healerCpuShare ?? '–'} and ${record.holderCpuShare ?? '–'} of a core; `
      + `the drain's reaction: ${record.reaction.cpuMsPerGateway} ms of CPU per gateway (agent ${record.reaction.agentMs}, serf ${record.reaction.serfMs}) over ${sec(record.reaction.windowMs)}, with ${record.reaction.updates} tag updates (median Serf)`);
    return record;
  } finally {
    cpu.stop();
  }
}

/** Stops every live agent with SIGTERM, so each writes its CPU profile, and waits up to 60 s for them. */
async function stopForProfiles(): Promise<void> {
  const live = gateways.filter((g) => !g.killed && g.pid !== undefined);
  for (const g of live) process.kill(g.pid as number, 'SIGTERM');
  const alive = (g: Gateway): boolean => canSignal(g.pid as number);
  await until(60_000, 500, () => (live.some(alive) ? undefined : true));
  for (const g of live) if (!alive(g)) g.killed = true;
  progress(`CPU profiles of ${live.filter((g) => g.killed).length} agents in ${values['cpu-prof']}; the victim's is not written (kill -9)`);
}

try {
  await main();
  if (values['cpu-prof'] !== undefined) await stopForProfiles();
} finally {
  cleanup();
}
