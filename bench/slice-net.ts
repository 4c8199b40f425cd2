// Benchmark of slice networks (issue 8) on the emulated network, with real
// agents, real Serf, real LXC and real wireguard-go. Per link profile, one
// testbed of three gateways and one slice of two busybox slivers, placed on
// two of them:
//  1. round-trip time and TCP throughput between the two slivers over the
//     slice network (100.72.0.2 → 100.72.0.3: veth, bridge, VXLAN, WireGuard,
//     then the emulated link), and between the same two gateways' namespaces
//     over their community addresses (the emulated link alone), with the same
//     tools: busybox `ping -i 0.01` and busybox `dd | nc` timed from inside
//     the sender; interleaved run by run (host, sliver, host, sliver, …),
//     medians, and sliver/host ratios; and what the link emulator and the
//     wireguard-go daemons used of the two cores meanwhile;
//  2. re-placement: the gateway hosting sliver 1 dies (cut off the emulated
//     network and its agent killed at the same moment, as a power cut looks to
//     the others), and we time from then until
//       (a) sliver 1 started on another gateway (that gateway's own
//           `sliver.started` event), and the slice API of sliver 0's gateway
//           shows it there (polled every 100 ms by bench/slice-client.ts),
//       (b) sliver 0 gets an answer from 100.72.0.3 again (a continuous busybox
//           ping every 50 ms inside sliver 0, each reply stamped),
//       (c) = b − a (started): from re-placed to reachable;
//     then the network is healed and the gateway restarted, and the next run
//     waits until it removed its stale sliver and the two reach each other.
// Why the cut and not only the kill: `testbedKill` kills the agent (and its
// Serf) but not its slivers or its wireguard-go, so the old sliver 1 keeps
// answering at 100.72.0.3 until the survivors' flood lists move to the new
// gateway, and a ping cannot tell the old sliver from the new one.
// Busybox in slivers and in the gateways' namespaces is the same binary (the
// slivers' is the host's). Inside slivers there is no Node.
// Run as root after `npm run build`:
//   node dist/bench/slice-net.js [--profile lan,wifi] [--runs 5] [--seconds 5] [--pings 200]
//     [--replace-runs 3] [--cpu 1] [--prefix bnx] [--underlay 172.31.77.0/24] [--port P] [--seed 1] [--json]

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { SliceView } from '../src/model/slice.js';
import { aliveCount, readNodes } from '../src/testbed/community.js';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { testbedHeal, testbedKill, testbedPartition, testbedRestart } from '../src/testbed/controller-ops.js';
import { runHearth, runInGateway } from '../src/testbed/gateway-process.js';
import { layoutMesh } from '../src/testbed/layout.js';
import { getLinkProfile } from '../src/testbed/profiles.js';
import { readTestbedState, type TestbedGatewayState, type TestbedState } from '../src/testbed/state.js';
import { freePort } from '../test/support/ports.js';
import { cpuSnapshot, cpuUse, logLines, machineLine, median, progress, sleep, spawnInGateway, until, type CpuUse } from './lib.js';
import { takeDownOnExit } from './teardown.js';

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'lan,wifi' },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    pings: { type: 'string', default: '200' },
    'replace-runs': { type: 'string', default: '3' },
    cpu: { type: 'string', default: '1' },
    prefix: { type: 'string', default: 'bnx' },
    underlay: { type: 'string', default: '172.31.77.0/24' },
    port: { type: 'string' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const PROFILES = values.profile.split(',').map((p) => getLinkProfile(p.trim()).name);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const PINGS = Number(values.pings);
const REPLACE_RUNS = Number(values['replace-runs']);
const PREFIX = values.prefix;
if (/^t[a-z]{3}$/.test(PREFIX)) throw new Error(`--prefix ${PREFIX} looks like a test run's; the test runner would sweep it`);
const UNDERLAY = parseSubnet(values.underlay);
const SEED = Number(values.seed);
const SLICE = 'net';
const TARGET = '100.72.0.3';
const TCP_PORT = 5201;
const API = 'http://127.0.0.1:7470';
const CLIENT = fileURLToPath(new URL('./slice-client.js', import.meta.url));

type Member = TestbedGatewayState;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** The machine's uptime in seconds (10 ms steps): the one clock the slivers can read too. */
function uptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

// ---------------------------------------------------------------- running things

/** `busybox sh -c script` in a gateway's namespace (no CLI, no container). */
async function hostShell(m: Member, script: string, timeoutMs: number): Promise<string> {
  const r = await runInGateway(m, ['busybox', 'sh', '-c', script], { timeoutMs });
  if (r.code !== 0) throw new Error(`${m.name}: busybox sh exited ${r.code}: ${r.stderr.trim().slice(-300)}`);
  return r.stdout;
}

/** `busybox sh -c script` in a sliver, through its gateway's CLI (`hearth sliver exec`). */
async function sliverShell(m: Member, sliver: string, script: string, timeoutSec: number): Promise<string> {
  return runHearth(m, ['sliver', 'exec', '--timeout', String(timeoutSec), sliver, '--', 'busybox', 'sh', '-c', script], { timeoutMs: (timeoutSec + 30) * 1000 });
}

interface Path {
  label: 'host' | 'sliver';
  /** Runs a script at the sending end. */
  send(script: string, timeoutSec: number): Promise<string>;
  /** Starts the receiving end's one-shot TCP sink; resolves when it is gone. */
  receive(timeoutSec: number): { done: Promise<unknown>; stop(): void };
  address: string;
}

// The sink answers with the byte count it read (nc -e: the program's stdout is the socket).
const SINK = ['busybox', 'nc', '-l', '-p', String(TCP_PORT), '-e', 'busybox', 'wc', '-c'];

function hostPath(from: Member, to: Member): Path {
  return {
    label: 'host',
    address: to.communityAddress,
    send: (script, timeoutSec) => hostShell(from, script, timeoutSec * 1000),
    receive(timeoutSec) {
      const child = spawnInGateway(to, ['busybox', 'timeout', String(timeoutSec), ...SINK]);
      child.stdin.end();
      child.stdout.resume();
      child.stderr.resume();
      const done = new Promise((resolve) => child.once('close', resolve));
      return { done, stop: () => child.kill() };
    },
  };
}

function sliverPath(from: Member, to: Member): Path {
  return {
    label: 'sliver',
    address: TARGET,
    send: (script, timeoutSec) => sliverShell(from, `${SLICE}-0`, script, timeoutSec),
    receive(timeoutSec) {
      // A sink nobody connects to ends with its exec's timeout.
      const done = runHearth(to, ['sliver', 'exec', '--timeout', String(timeoutSec), `${SLICE}-1`, '--', ...SINK], { timeoutMs: (timeoutSec + 30) * 1000 })
        .catch((err: unknown) => err);
      return { done, stop: () => undefined };
    },
  };
}

// ---------------------------------------------------------------- figure 1: RTT and throughput

interface Rtt { avgMs: number; loss: number }

async function rtt(path: Path): Promise<Rtt> {
  const out = await path.send(`busybox ping -q -c ${PINGS} -i 0.01 -W 2 ${path.address} || true`, 60 + PINGS / 50);
  const m = /round-trip min\/avg\/max = [\d.]+\/([\d.]+)\/[\d.]+ ms/.exec(out);
  const loss = /(\d+)% packet loss/.exec(out);
  if (m === null) throw new Error(`${path.label}: no round-trip line in: ${out.trim()}`);
  return { avgMs: Number(m[1]), loss: Number(loss?.[1] ?? Number.NaN) / 100 };
}

/**
 * Mbit/s of a TCP stream of zeros for SECONDS: `dd | nc` in the sender,
 * timed there with /proc/uptime from the start of the attempt that connected
 * until nc ends, which is after the sink has read everything, closed and
 * sent back its count.
 */
async function throughput(path: Path): Promise<number> {
  const timeoutSec = SECONDS + 60;
  const sink = path.receive(timeoutSec);
  const script = [
    'n=0',
    'while :; do',
    '  t0=$(busybox cut -d" " -f1 /proc/uptime)',
    `  busybox timeout ${SECONDS} busybox dd if=/dev/zero bs=65536 2>/dev/null | busybox nc ${path.address} ${TCP_PORT} && break`,
    '  n=$((n+1)); [ $n -gt 200 ] && exit 3',
    '  busybox sleep 0.1',
    'done',
    't1=$(busybox cut -d" " -f1 /proc/uptime)',
    'echo "times $t0 $t1"',
  ].join('\n');
  try {
    const out = await path.send(script, timeoutSec);
    const bytes = /^(\d+)\s*$/m.exec(out);
    const times = /times ([\d.]+) ([\d.]+)/.exec(out);
    if (bytes === null || times === null) throw new Error(`${path.label}: unexpected sender output: ${out.trim().slice(0, 300)}`);
    const seconds = Number(times[2]) - Number(times[1]);
    return (Number(bytes[1]) * 8) / (seconds * 1e6);
  } finally {
    sink.stop();
    await sink.done;
  }
}

interface Figure1 {
  host: { rttMs: number[]; loss: number[]; mbps: number[]; cpu: CpuUse[] };
  sliver: { rttMs: number[]; loss: number[]; mbps: number[]; cpu: CpuUse[] };
  /** One run of the same `dd | nc` over the sender gateway's loopback: what the tool itself can do here. */
  toolCeilingMbps: number;
  failures: string[];
}

async function figure1(state: TestbedState, a: Member, b: Member): Promise<Figure1> {
  const paths = [hostPath(a, b), sliverPath(a, b)];
  const r: Figure1 = { host: { rttMs: [], loss: [], mbps: [], cpu: [] }, sliver: { rttMs: [], loss: [], mbps: [], cpu: [] }, toolCeilingMbps: Number.NaN, failures: [] };
  // Warm both paths (ARP, the tunnel's handshake).
  for (const p of paths) await rtt(p).catch(() => undefined);
  for (let i = 0; i < RUNS; i++) {
    for (const p of paths) {
      try {
        const x = await rtt(p);
        const before = cpuSnapshot(state);
        const mbps = await throughput(p);
        const cpu = cpuUse(before, cpuSnapshot(state));
        r[p.label].rttMs.push(x.avgMs);
        r[p.label].loss.push(x.loss);
        r[p.label].mbps.push(mbps);
        r[p.label].cpu.push(cpu);
        progress(`run ${i + 1}/${RUNS} ${p.label.padEnd(6)} rtt ${x.avgMs.toFixed(3)} ms (loss ${(x.loss * 100).toFixed(1)}%), ${mbps.toFixed(1)} Mbit/s; ` +
          `during it: emulator ${cpu.emulatorCores.toFixed(2)} cores, wireguard-go ${cpu.wireguardCores.toFixed(2)}, machine ${(cpu.machineBusy * 100).toFixed(0)}% busy; load ${load()}`);
      } catch (err) {
        r.failures.push(`run ${i + 1} ${p.label}: ${(err as Error).message}`);
        progress(`run ${i + 1}/${RUNS} ${p.label}: ${(err as Error).message}`);
      }
    }
  }
  try {
    r.toolCeilingMbps = await throughput({ ...hostPath(a, a), address: '127.0.0.1' });
    progress(`tool ceiling (dd | nc over ${a.name}'s loopback): ${r.toolCeilingMbps.toFixed(0)} Mbit/s`);
  } catch (err) {
    r.failures.push(`tool ceiling: ${(err as Error).message}`);
  }
  return r;
}

// ---------------------------------------------------------------- figure 2: re-placement

interface ReplaceRun {
  victim: string; newHost: string | null;
  /** Cut + kill → the slice API shows sliver 1 running on another gateway. */
  replacedMs: number | null;
  /** Cut + kill → the new host's record that sliver 1 started there (its `sliver.started` event). */
  startedMs: number | null;
  /** Cut + kill → sliver 0 has an answer from 100.72.0.3. */
  reachableMs: number | null;
  /** reachable − started: from the new sliver running on its new gateway until its slice peer reaches it. */
  startedToReachableMs: number | null;
  /** From the agents' logs, ms after the cut: the healer committed the new placement, the new sliver joined the slice network on its gateway, sliver 0's gateway set its flood list. */
  healedMs: number | null; joinedMs: number | null; floodSetMs: number | null;
  /** The ping loop started after the cut (its first answer is then an upper bound), or saw no gap. */
  notes: string[];
}

/** Polls the slice API of `m` (from its namespace) until the slice runs on 2 gateways, none in `avoid`. */
function watchSlice(m: Member, avoid: string[]): { ready: Promise<void>; result: Promise<{ at: number | null }> } {
  const token = readFileSync(`${m.dataDir}/owner.token`, 'utf8').trim();
  const job = { mode: 'watch', api: API, name: SLICE, slivers: 2, avoid, pollMs: 100, timeoutMs: 90_000 };
  const child = spawnInGateway(m, [process.execPath, CLIENT, JSON.stringify(job)], { HEARTH_BENCH_TOKEN: token });
  child.stdin.end();
  let buffer = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<{ at: number | null }>((resolve) => {
    let got: { at: number | null } = { at: null };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const j = JSON.parse(line) as { ready?: boolean; at?: number | null };
          if (j.ready === true) onReady();
          else got = { at: j.at ?? null };
        } catch {
          // not a result line
        }
      }
    });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.once('close', () => {
      clearTimeout(timer);
      onReady();
      resolve(got);
    });
  });
  return { ready, result };
}

/**
 * A continuous ping from sliver 0 to 100.72.0.3, every 50 ms, restarted if
 * busybox ping gives up (a send error while the neighbour is unresolved);
 * each reply stamped with /proc/uptime in centiseconds. Prints `start CS`,
 * then `ok CS` for the first reply at or after `armCs`, or `end CS`.
 */
function pingLoopScript(armCs: number, endCs: number): string {
  return [
    'cs() { u=$(busybox cut -d" " -f1 /proc/uptime); echo ${u%.*}${u#*.}; }',
    'echo "start $(cs)"',
    `(while :; do busybox ping -i 0.05 -w 95 ${TARGET} 2>&1; rc=$?; [ $rc -ge 128 ] && break; [ $(cs) -gt ${endCs} ] && break; busybox sleep 0.05; done) | {`,
    '  early=0',
    '  while read -r l; do',
    '    t=$(cs)',
    `    [ $t -gt ${endCs} ] && { echo "end $t"; exit 0; }`,
    '    case "$l" in',
    `      *"bytes from"*) if [ $t -ge ${armCs} ]; then echo "ok $t $early"; exit 0; else early=$((early+1)); fi ;;`,
    '    esac',
    '  done',
    '  echo "end $(cs)"',
    '}',
  ].join('\n');
}

async function sliverZeroReaches(a: Member, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const ok = await sliverShell(a, `${SLICE}-0`, `busybox ping -c 1 -W 2 ${TARGET} >/dev/null 2>&1 && echo yes || echo no`, 30).catch(() => 'no');
    if (ok.includes('yes')) return true;
    await sleep(1000);
  }
  return false;
}

async function showSlice(m: Member): Promise<SliceView> {
  return JSON.parse(await runHearth(m, ['slice', 'show', SLICE, '--json'])) as SliceView;
}

async function figure2(bench: Bench): Promise<{ runs: ReplaceRun[]; failures: string[] }> {
  const runs: ReplaceRun[] = [];
  const failures: string[] = [];
  for (let i = 0; i < REPLACE_RUNS; i++) {
    const view = await showSlice(bench.member('gw1')).catch(() => showSlice(bench.member('gw2')));
    const g0 = view.slivers.find((s) => s.index === 0)?.gateway ?? null;
    const g1 = view.slivers.find((s) => s.index === 1)?.gateway ?? null;
    if (view.state !== 'running' || g0 === null || g1 === null) {
      failures.push(`run ${i + 1}: the slice is not running on two gateways: ${JSON.stringify(view.slivers)}`);
      break;
    }
    const a = bench.member(g0);
    const victim = bench.member(g1);
    if (!(await sliverZeroReaches(a, 60))) {
      failures.push(`run ${i + 1}: ${SLICE}-0 does not reach ${TARGET} before the cut`);
      break;
    }
    const watch = watchSlice(a, [victim.name]);
    await watch.ready;
    // The ping loop starts some seconds before the cut (a CLI start and an lxc-attach) and counts only answers after it.
    const leadSec = 4;
    const cutAt = uptime() + leadSec;
    const armCs = Math.round((cutAt + 0.2) * 100);
    const loop = sliverShell(a, `${SLICE}-0`, pingLoopScript(armCs, Math.round((cutAt + 90) * 100)), 130);
    while (uptime() < cutAt) await sleep(10);
    const t0 = Date.now();
    const u0 = uptime();
    await testbedPartition(victim.name, { dir: bench.dir });
    const u1 = uptime();
    await testbedKill(victim.name, { dir: bench.dir });
    progress(`replace run ${i + 1}/${REPLACE_RUNS}: ${victim.name} (host of ${SLICE}-1) cut off and killed; the cut took ${((u1 - u0) * 1000).toFixed(0)} ms`);
    const seen = await watch.result;
    const out = await loop.catch((err: unknown) => `error ${(err as Error).message}`);
    const start = /start (\d+)/.exec(out);
    const ok = /ok (\d+) (\d+)/.exec(out);
    const r: ReplaceRun = {
      victim: victim.name, newHost: null,
      replacedMs: seen.at === null ? null : seen.at - t0,
      reachableMs: ok === null ? null : Math.round(Number(ok[1]) * 10 - u0 * 1000),
      startedMs: null, startedToReachableMs: null, healedMs: null, joinedMs: null, floodSetMs: null, notes: [],
    };
    if (u1 * 100 > armCs) r.notes.push(`the cut took ${((u1 - u0) * 1000).toFixed(0)} ms; answers just after it may be the old sliver's`);
    if (start !== null && Number(start[1]) > armCs) r.notes.push(`the ping loop started ${((Number(start[1]) - armCs) * 10).toFixed(0)} ms after the cut`);
    if (ok === null) failures.push(`run ${i + 1}: ${SLICE}-0 never reached ${TARGET} again within 90 s: ${out.trim().slice(-200)}`);
    const after = await showSlice(a).catch(() => undefined);
    r.newHost = after?.slivers.find((s) => s.index === 1)?.gateway ?? null;
    const newHost = bench.members().find((m) => m.name === r.newHost);
    const started = newHost === undefined ? undefined : startedEvent(newHost, `${SLICE}-1`, t0);
    r.startedMs = started === undefined ? null : started - t0;
    if (r.startedMs !== null && r.reachableMs !== null) r.startedToReachableMs = r.reachableMs - r.startedMs;
    const survivors = bench.members().filter((m) => m.name !== victim.name);
    const firstAfter = (m: Member | undefined, msg: string, match: (f: Record<string, unknown>) => boolean = () => true): number | null => {
      if (m === undefined) return null;
      const l = logLines(m.dataDir, [msg]).find((x) => x.at >= t0 && match(x.fields));
      return l === undefined ? null : l.at - t0;
    };
    const healed = survivors.map((m) => firstAfter(m, 'slice healed', (f) => f['slice'] === SLICE)).filter((x): x is number => x !== null);
    r.healedMs = healed.length === 0 ? null : Math.min(...healed);
    r.joinedMs = firstAfter(survivors.find((m) => m.name === r.newHost), 'sliver joined its slice network', (f) => f['sliver'] === `${SLICE}-1`);
    r.floodSetMs = firstAfter(a, 'slice segment flood list set');
    runs.push(r);
    const s = (x: number | null): string => (x === null ? '–' : `${(x / 1000).toFixed(2)} s`);
    progress(`replace run ${i + 1}/${REPLACE_RUNS}: ${SLICE}-1 on ${r.newHost ?? '?'}: started at ${s(r.startedMs)}, shown re-placed (API) at ${s(r.replacedMs)}, reachable at ${s(r.reachableMs)}, ` +
      `started → reachable ${s(r.startedToReachableMs)}; logs: healed ${s(r.healedMs)}, joined ${s(r.joinedMs)}, flood list set ${s(r.floodSetMs)}${r.notes.length > 0 ? `; ${r.notes.join('; ')}` : ''}`);

    // Bring the gateway back: network first, then its agent, which must remove its stale sliver.
    await testbedHeal({ dir: bench.dir });
    await testbedRestart(victim.name, { dir: bench.dir });
    bench.state = readTestbedState(bench.dir) ?? bench.state;
    const back = await until(180_000, 1000, async () => {
      const nodes = await readNodes(a).catch(() => undefined);
      if (nodes === undefined || aliveCount(nodes) !== bench.state.gateways) return undefined;
      const stale = (JSON.parse(await runHearth(victim, ['sliver', 'ls', '--json']).catch(() => '[{}]')) as { slice?: string; desired?: string }[])
        .filter((x) => x.slice === SLICE && x.desired !== 'gone');
      return stale.length === 0 ? true : undefined;
    });
    if (back === undefined) {
      failures.push(`run ${i + 1}: ${victim.name} was not back without its stale sliver within 180 s of its restart`);
      break;
    }
    await sleep(2000);
  }
  return { runs, failures };
}

/** When `sliver` last started on `m` at or after `since` (ms since the epoch), from its database's events (read-only). */
function startedEvent(m: Member, sliver: string, since: number): number | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(`${m.dataDir}/hearth.db`, { readonly: true, fileMustExist: true, timeout: 1000 });
    const rows = db.prepare("SELECT at, detail FROM events WHERE type = 'sliver.started' AND at >= ?").all(new Date(since).toISOString()) as { at: string; detail: string }[];
    const mine = rows.filter((r) => (JSON.parse(r.detail) as { name?: unknown }).name === sliver).map((r) => Date.parse(r.at));
    return mine.length === 0 ? undefined : Math.max(...mine);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}


// ---------------------------------------------------------------- one profile

interface Bench {
  state: TestbedState;
  dir: string;
  members(): Member[];
  member(name: string): Member;
}

interface ProfileResult {
  profile: string; hops: number; gateways: [string, string]; loadBefore: string; loadAfter: string;
  figure1: Figure1; figure2: { runs: ReplaceRun[]; failures: string[] };
}


const teardown = takeDownOnExit(progress);

async function profileRun(root: string, profile: string): Promise<ProfileResult> {
  const dir = `${root}/${profile}`;
  const port = values.port === undefined ? await freePort() : Number(values.port);
  teardown.active = dir;
  try {
    const loadBefore = load();
    progress(`${profile}: testbed of 3 up (prefix ${PREFIX}, underlay ${values.underlay}); load ${loadBefore}`);
    const up = await testbedUp({ gateways: 3, link: profile, seed: SEED, dir, prefix: PREFIX, port, underlay: UNDERLAY, progress: () => undefined });
    const bench: Bench = {
      state: up.state, dir,
      members() {
        return this.state.members;
      },
      member(name) {
        const m = this.state.members.find((x) => x.name === name);
        if (m === undefined) throw new Error(`no gateway ${name}`);
        return m;
      },
    };
    const view = JSON.parse(await runHearth(bench.member('gw1'), [
      'slice', 'create', SLICE, '--slivers', '2', '--cpu', values.cpu, '--memory', '64', '--key', `${root}/user.key`, '--json',
    ])) as SliceView;
    const g0 = view.slivers.find((s) => s.index === 0)?.gateway;
    const g1 = view.slivers.find((s) => s.index === 1)?.gateway;
    if (view.state !== 'running' || g0 === null || g0 === undefined || g1 === null || g1 === undefined) throw new Error(`the slice did not run: ${JSON.stringify(view)}`);
    const a = bench.member(g0);
    const b = bench.member(g1);
    const hops = layoutMesh({ gateways: 3, seed: SEED }).hops[a.gateway - 1]?.[b.gateway - 1] ?? Number.NaN;
    progress(`${profile}: ${SLICE}-0 on ${a.name}, ${SLICE}-1 on ${b.name} (${hops} hop${hops === 1 ? '' : 's'} apart)`);
    if (!(await sliverZeroReaches(a, 60))) throw new Error(`${SLICE}-0 never reached ${TARGET}`);
    const f1 = await figure1(bench.state, a, b);
    const f2 = await figure2(bench);
    return { profile, hops, gateways: [a.name, b.name], loadBefore, loadAfter: load(), figure1: f1, figure2: f2 };
  } finally {
    await testbedDown({ dir, progress: () => undefined });
    teardown.active = undefined;
  }
}


// ---------------------------------------------------------------- output

const f = (x: number, digits: number): string => (Number.isNaN(x) ? '–' : x.toFixed(digits));
const sec = (xs: readonly (number | null)[]): string => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? '–' : `${(median(v) / 1000).toFixed(2)} s (${(Math.min(...v) / 1000).toFixed(2)}–${(Math.max(...v) / 1000).toFixed(2)}, n=${v.length})`;
};

const cpuCell = (xs: readonly CpuUse[]): string =>
  `${f(median(xs.map((x) => x.emulatorCores)), 2)} / ${f(median(xs.map((x) => x.wireguardCores)), 2)}, ${f(median(xs.map((x) => x.machineBusy * 100)), 0)}%`;

function profileLine(r: ProfileResult): string {
  const p = getLinkProfile(r.profile);
  return `${r.profile}: ${p.perHopDelayMs} ± ${p.perHopJitterMs} ms, ${p.perHopLoss * 100}% loss per hop, ${p.rateBitsPerSecond / 1e6} Mbit/s; ` +
    `${r.gateways.join(' → ')}, ${r.hops} hop(s); load average ${r.loadBefore} → ${r.loadAfter}`;
}

function networkRows(r: ProfileResult): string[][] {
  const p = getLinkProfile(r.profile);
  const h = r.figure1.host;
  const s = r.figure1.sliver;
  const rttRatio = median(s.rttMs) / median(h.rttMs);
  const tputRatio = median(s.mbps) / median(h.mbps);
  const bound = p.perHopLoss > 0 ? ' (bound by the emulated link: its rate and loss)' : '';
  return [
    [r.profile, `RTT, busybox ping -i 0.01 (${PINGS}), median of avgs`, `${f(median(h.rttMs), 3)} ms`, `${f(median(s.rttMs), 3)} ms`, `${f(rttRatio, 2)} (goal ≤ 1.2: ${rttRatio <= 1.2 ? 'met' : 'not met'})`],
    [r.profile, `TCP, busybox dd into nc for ${SECONDS} s, median${bound}`, `${f(median(h.mbps), 1)} Mbit/s`, `${f(median(s.mbps), 1)} Mbit/s`, `${f(tputRatio, 2)} (goal ≥ 0.8: ${tputRatio >= 0.8 ? 'met' : 'not met'})`],
    [r.profile, 'CPU during TCP: emulator / wireguard-go cores, machine busy', cpuCell(h.cpu), cpuCell(s.cpu), ''],
    [r.profile, 'the same dd into nc over loopback (the tool\'s ceiling)', `${f(r.figure1.toolCeilingMbps, 0)} Mbit/s`, '', ''],
  ];
}

function replaceRows(r: ProfileResult): string[][] {
  const reps = r.figure2.runs;
  return [
    [r.profile, 'placement committed elsewhere ("slice healed" in the healer\'s log)', sec(reps.map((x) => x.healedMs))],
    [r.profile, "sliver 0's gateway floods to the new gateway (its log)", sec(reps.map((x) => x.floodSetMs))],
    [r.profile, '(a) sliver 1 started on the new gateway (its sliver.started event)', sec(reps.map((x) => x.startedMs))],
    [r.profile, '    sliver 1 joined the slice network there (its log)', sec(reps.map((x) => x.joinedMs))],
    [r.profile, '    the slice API shows it there (polled every 100 ms)', sec(reps.map((x) => x.replacedMs))],
    [r.profile, '(b) sliver 0 reaches 100.72.0.3 again (ping every 50 ms)', sec(reps.map((x) => x.reachableMs))],
    [r.profile, '(c) = b − a: re-placed (started) → reachable, per run', sec(reps.map((x) => x.startedToReachableMs))],
  ];
}

function printTable(header: readonly string[], rows: readonly string[][]): void {
  const w = header.map((h, k) => Math.max(h.length, ...rows.map((x) => (x[k] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, k) => c.padEnd(w[k] as number)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const x of rows) console.log(line(x));
}

async function main(): Promise<void> {
  const machine = await machineLine();
  progress(`machine: ${machine}; load ${load()}`);
  const root = mkdtempSync('/tmp/hearth-bench-slicenet-');
  chmodSync(root, 0o755);
  writeFileSync(`${root}/user.key`, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  const results: ProfileResult[] = [];
  try {
    for (const profile of PROFILES) results.push(await profileRun(root, profile));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (values.json) console.log(JSON.stringify({ machine, runs: RUNS, seconds: SECONDS, pings: PINGS, replaceRuns: REPLACE_RUNS, cpu: Number(values.cpu), results }, null, 2));
  console.log(`\nmachine: ${machine}`);
  console.log(`${RUNS} runs of ${PINGS} pings and ${SECONDS} s of TCP per path, interleaved; ${REPLACE_RUNS} re-placements per profile; slivers of ${values.cpu} CPU`);
  for (const r of results) console.log(`- ${profileLine(r)}`);
  console.log('');
  printTable(['profile', 'figure', 'host ↔ host', 'sliver ↔ sliver', 'sliver / host'], results.flatMap(networkRows));
  console.log('');
  printTable(['profile', 'after the gateway of sliver 1 was cut off and killed', 'median (min–max, n)'], results.flatMap(replaceRows));
  const failures = results.flatMap((r) => [...r.figure1.failures, ...r.figure2.failures].map((x) => `${r.profile}: ${x}`));
  const notes = results.flatMap((r) => r.figure2.runs.flatMap((x, i) => x.notes.map((n) => `${r.profile} re-placement ${i + 1}: ${n}`)));
  for (const n of notes) console.log(`note: ${n}`);
  if (failures.length > 0) {
    console.log('\nnot as expected:');
    for (const x of failures) console.log(`  ${x}`);
    process.exitCode = 1;
  }
}

await main();
