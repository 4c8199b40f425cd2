// What one pull of a gateway's service list costs in CPU, both sides, with
// the real peer server (src/peer/server.ts, mutual TLS) and client
// (src/peer/client.ts), in node with the flags bench/scale.ts gives its
// agents. The simulator's one-machine model (src/sim/machine.ts, a
// machine's `pull` in BENCH_MACHINES) takes a pull's cost from here: in the
// 100-gateway run every other agent pulls a host's list as its tags change,
// on the cores that run them all.
// Two child processes, a host (the server, one route answering a list of
// `--items` announcements, as the agent's services route does) and a puller
// (the client), one pull at a time so nothing queues: for each way of
// connecting, `--pulls` pulls after a warm-up, and the CPU time
// (process.cpuUsage, user + system) each process spent over them.
//  - new connection: the client's connections are closed after each pull, so
//    every pull makes a TLS 1.3 handshake with certificates both ways (the
//    peer server drops a connection idle for 5 s, so most pulls in the bench
//    start this way);
//  - reused: one kept-alive connection for every pull.
// With `--route reserve`, the call is a heal's instead: the healer's POST of
// a slice's only sliver to its new host, reserved and committed in one call
// (src/agent/slice-host.ts's reserve route, over a real slice hosting and
// SQLite store; the user's documents signed beforehand, as the healer
// presents them), a new slice each call; the host removes each sliver after
// answering, so its store stays as small as a gateway's, and that cleanup's
// CPU is left out of the figure. The model's heal call takes its cost from
// here (a machine's `heal`).
// With `--load N`, N more processes run beside them all the while, always
// runnable, each writing over a `--load-mb` working set one cache line at a
// time, as the other agents and Serfs of a 100-gateway run keep the run
// queue full: what a pull costs in CPU on a machine that busy.
// Run after `npm run build`:
//   node dist/bench/pull-cost.js [--route list|reserve] [--pulls 200] [--items 1] [--runs 3] [--load 0] [--load-mb 4] [--json]

import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVICES_PATH, readAnnouncements, type Announcement } from '../src/cloud/services.js';
import { formatHostPort, type HostPort } from '../src/model/host-port.js';
import { loadOrCreateIdentity } from '../src/overlay/identity.js';
import { createPeerClient } from '../src/peer/client.js';
import { createPeerServer } from '../src/peer/server.js';
import { SCALE_AGENT_FLAGS } from './agent-flags.js';
import { SLICE_ROUTES, sliceHostRoutes } from '../src/agent/slice-host.js';
import { signDocument, type SignedDocument } from '../src/cloud/signed-document.js';
import { DEFAULT_POLICY } from '../src/model/policy.js';
import { SLICE_KINDS } from '../src/model/slice.js';
import type { PeerRoute } from '../src/peer/router.js';
import { createSliceHosting } from '../src/slivers/hosting.js';
import { openDb } from '../src/store/db.js';
import { createStore } from '../src/store/store.js';

const WARMUP_PULLS = 20;
const HOST = 'gw-host';
const PULLER = 'gw-puller';
const MODES = ['new connection', 'reused'] as const;
type Mode = (typeof MODES)[number];
const ROUTES = ['list', 'reserve'] as const;
type Route = (typeof ROUTES)[number];

interface Cpu { user: number; system: number }
/** What the puller reports for one mode: its CPU and wall time over the measured pulls. */
interface PullerResult { cpuMs: number; wallMs: number; pulls: number }

const cpuMs = (from: Cpu, to: Cpu): number => (to.user - from.user + to.system - from.system) / 1000;

function announcements(items: number): Announcement[] {
  return Array.from({ length: items }, (_, i) => ({ name: i === 0 ? 'web' : `web-${i}`, type: 'http', protocol: 'tcp', hostPort: 20_000 + i, sliver: 'ld-001-0', slice: 'ld-001' }));
}

/**
 * The reserve route of a gateway holding nothing, over a slice hosting and a SQLite store in `dir`. Each sliver
 * it hosts is removed once the answer is on its way; `cleanup` is the CPU that took (process.cpuUsage, ms).
 */
function reserveRoute(dir: string): { route: PeerRoute; cleanup: { ms: number } } {
  const db = openDb(join(dir, 'host.db'));
  const store = createStore({ db, now: () => new Date().toISOString() });
  const nowSec = (): number => Math.floor(Date.now() / 1000);
  const hosting = createSliceHosting({
    store, contribution: () => ({ cpu: 4, memoryMb: 8192, diskMb: 65_536, slivers: 32 }), policy: () => DEFAULT_POLICY,
    templates: ['busybox'], nowSec, kick: () => undefined,
  });
  const reserve = sliceHostRoutes({ hosting, store, nowSec }).find((r) => r.method === SLICE_ROUTES.reserve.method && r.path === SLICE_ROUTES.reserve.path) as PeerRoute;
  const cleanup = { ms: 0 };
  return {
    cleanup,
    route: {
      ...reserve,
      handler: async (req) => {
        const answer = await reserve.handler(req);
        setImmediate(() => {
          const from = process.cpuUsage();
          for (const s of store.listSlivers()) store.deleteSliver(s.id);
          cleanup.ms += cpuMs(from, process.cpuUsage());
        });
        return answer;
      },
    },
  };
}

/** The host: the peer server with the services route (or the reserve route), reporting its CPU use when asked, the reserve's cleanup left out. */
async function host(dir: string, items: number, route: Route): Promise<void> {
  const [me, puller] = await Promise.all([loadOrCreateIdentity(join(dir, HOST), { commonName: HOST }), loadOrCreateIdentity(join(dir, PULLER), { commonName: PULLER })]);
  const list = announcements(items);
  const reserve = route === 'reserve' ? reserveRoute(dir) : undefined;
  const server = createPeerServer({
    identity: me, name: HOST, host: '127.0.0.1', port: 0,
    trust: { memberByFingerprint: (fp) => (fp === puller.id ? PULLER : undefined) },
    routes: [reserve?.route ?? { method: 'GET', path: SERVICES_PATH, handler: () => Promise.resolve({ body: { items: list } }) }],
  });
  const bound = await server.start();
  process.on('message', (m: string) => {
    if (m !== 'cpu') {
      void server.stop().then(() => process.disconnect());
      return;
    }
    const used = process.cpuUsage();
    const spent = (reserve?.cleanup.ms ?? 0) * 1000;
    process.send?.({ user: used.user - spent, system: used.system });
  });
  process.send?.(bound);
}

/** A heal's reserve bodies, one new slice each, the user's documents signed beforehand (a healer presents the user's). */
function reserveBodies(count: number): unknown[] {
  const user = generateKeyPairSync('ed25519').privateKey;
  const at = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, i) => {
    const document: SignedDocument = signDocument({
      kind: SLICE_KINDS.create, body: { name: `heal-${i}`, slivers: 1, template: 'busybox' }, privateKey: user, at, nonce: randomBytes(16).toString('base64url'),
    });
    return { document, index: 0, lease: randomBytes(16).toString('base64url'), ttlSec: 30, commit: { placement: { 0: HOST }, version: 2 } };
  });
}

/** The puller (or healer): the peer client, one call at a time, on a new connection each or on one kept alive. */
async function puller(dir: string, address: string, mode: Mode, pulls: number, items: number, route: Route): Promise<void> {
  const [me, server] = await Promise.all([loadOrCreateIdentity(join(dir, PULLER), { commonName: PULLER }), loadOrCreateIdentity(join(dir, HOST), { commonName: HOST })]);
  const client = createPeerClient({ identity: me, trust: { fingerprintOf: (m) => (m === HOST ? server.id : undefined) } });
  const bodies = route === 'reserve' ? reserveBodies(WARMUP_PULLS + pulls) : [];
  const pull = async (): Promise<void> => {
    if (route === 'reserve') {
      const answer = await client.request(HOST, address, SLICE_ROUTES.reserve.method, SLICE_ROUTES.reserve.path, bodies.shift()) as { kind?: unknown };
      if (answer.kind !== 'hosted') throw new Error(`the reserve answered ${JSON.stringify(answer)}, not a hosted sliver`);
    } else {
      const got = readAnnouncements(await client.request(HOST, address, 'GET', SERVICES_PATH));
      if (got.length !== items) throw new Error(`pulled ${got.length} announcements, not ${items}`);
    }
    if (mode === 'new connection') client.close();
  };
  for (let i = 0; i < WARMUP_PULLS; i++) await pull();
  process.send?.('warm');
  await once(process, 'message');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < pulls; i++) await pull();
  const result: PullerResult = { cpuMs: cpuMs(cpu0, process.cpuUsage()), wallMs: performance.now() - t0, pulls };
  client.close();
  process.send?.(result);
  process.disconnect();
}

/** One process of the load: writes over `mb` of memory one cache line at a time, in slices so it leaves when its parent does. */
function load(mb: number): void {
  const words = new Float64Array((mb * 1024 * 1024) / 8);
  let at = 0;
  const slice = (): void => {
    const until = performance.now() + 10;
    while (performance.now() < until) {
      for (let i = 0; i < 4096; i++) {
        words[at] = (words[at] as number) + 1;
        // 8 words are a 64-byte line; 1009 lines on, so the prefetcher cannot follow.
        at = (at + 8 * 1009) % words.length;
      }
    }
    setImmediate(slice);
  };
  process.on('disconnect', () => process.exit(0));
  slice();
}

const self = fileURLToPath(import.meta.url);
const child = (args: string[]): ChildProcess => fork(self, args, { execArgv: [...SCALE_AGENT_FLAGS] });
const next = async <T>(p: ChildProcess): Promise<T> => (await once(p, 'message'))[0] as T;

interface Figure { mode: Mode; hostMs: number; pullerMs: number; bothMs: number; wallMs: number }

/** One run: a host, then a puller per mode; per-pull CPU of each side. */
async function run(dir: string, pulls: number, items: number, route: Route): Promise<Figure[]> {
  const server = child(['host', dir, String(items), route]);
  const address = formatHostPort(await next<HostPort>(server));
  const out: Figure[] = [];
  try {
    for (const mode of MODES) {
      const p = child(['puller', dir, address, mode, String(pulls), String(items), route]);
      await next<string>(p);
      server.send('cpu');
      const before = await next<Cpu>(server);
      p.send('go');
      const r = await next<PullerResult>(p);
      server.send('cpu');
      const hostMs = cpuMs(before, await next<Cpu>(server)) / r.pulls;
      const pullerMs = r.cpuMs / r.pulls;
      out.push({ mode, hostMs, pullerMs, bothMs: hostMs + pullerMs, wallMs: r.wallMs / r.pulls });
      await once(p, 'exit');
    }
  } finally {
    server.send('stop');
    await once(server, 'exit');
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      route: { type: 'string', default: 'list' },
      pulls: { type: 'string', default: '200' }, items: { type: 'string', default: '1' }, runs: { type: 'string', default: '3' },
      load: { type: 'string', default: '0' }, 'load-mb': { type: 'string', default: '4' }, json: { type: 'boolean', default: false },
    },
  });
  const route = values.route as Route;
  if (!ROUTES.includes(route)) throw new Error(`--route must be one of ${ROUTES.join(', ')}`);
  const pulls = Number(values.pulls);
  const items = Number(values.items);
  const runs = Number(values.runs);
  const loadProcs = Number(values.load);
  const loadMb = Number(values['load-mb']);
  for (const [flag, v, min] of [['--pulls', pulls, 1], ['--items', items, 1], ['--runs', runs, 1], ['--load', loadProcs, 0], ['--load-mb', loadMb, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${flag} must be a whole number of at least ${min}`);
  }
  const { machineLine, median } = await import('./lib.js');
  const dir = await mkdtemp(join(tmpdir(), 'hearth-pull-cost-'));
  const loaders = Array.from({ length: loadProcs }, () => fork(self, ['load', String(loadMb)]));
  const all: Figure[][] = [];
  try {
    await Promise.all([HOST, PULLER].map((n) => loadOrCreateIdentity(join(dir, n), { commonName: n })));
    for (let i = 0; i < runs; i++) all.push(await run(dir, pulls, items, route));
  } finally {
    for (const l of loaders) l.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  const byMode = MODES.map((mode) => {
    const rows = all.map((r) => r.find((f) => f.mode === mode) as Figure);
    const med = (k: 'hostMs' | 'pullerMs' | 'bothMs' | 'wallMs'): number => Math.round(median(rows.map((f) => f[k])) * 100) / 100;
    return { mode, hostMs: med('hostMs'), pullerMs: med('pullerMs'), bothMs: med('bothMs'), wallMs: med('wallMs'), runs: rows.map((f) => Math.round(f.bothMs * 100) / 100) };
  });
  const bodyBytes = Buffer.byteLength(JSON.stringify(route === 'reserve' ? reserveBodies(1)[0] : { items: announcements(items) }));
  if (values.json) {
    console.log(JSON.stringify({ machine: await machineLine(), flags: SCALE_AGENT_FLAGS, route, pulls, items, bodyBytes, runs, load: { processes: loadProcs, mb: loadMb }, modes: byMode }, null, 2));
    return;
  }
  console.log(await machineLine());
  console.log(`node ${SCALE_AGENT_FLAGS.join(' ')}; ${runs} runs of ${pulls} pulls (after ${WARMUP_PULLS} to warm up), one at a time; ${route === 'reserve' ? `a heal's reserve with its commit (${bodyBytes} bytes asked)` : `a list of ${items} (${bodyBytes} bytes)`}`
    + (loadProcs > 0 ? `; beside ${loadProcs} processes each writing over ${loadMb} MB` : ''));
  console.log('| connection | host CPU / pull | puller CPU / pull | both (c_pull), median | each run | wall / pull |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const m of byMode) console.log(`| ${m.mode} | ${m.hostMs} ms | ${m.pullerMs} ms | **${m.bothMs} ms** | ${m.runs.join(', ')} | ${m.wallMs} ms |`);
}

const [role, ...args] = process.argv.slice(2);
if (role === 'host') await host(args[0] as string, Number(args[1]), args[2] as Route);
else if (role === 'load') load(Number(args[0]));
else if (role === 'puller') await puller(args[0] as string, args[1] as string, args[2] as Mode, Number(args[3]), Number(args[4]), args[5] as Route);
else await main();
