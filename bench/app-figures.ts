// Benchmark of two figures of the shipped apps (issue 9, "Figures"), on the
// emulated network with real agents, real Serf, real LXC and the apps' real
// software: a testbed of --gateways (default 5) on --link (default wifi)
// links. Each app is deployed alone through gw1's CLI as a user would
// (`hearth app deploy APP --gateways 3 --key KEY --json`), measured once
// every one of its services is listed in gw1's directory, then removed:
//  1. video, a viewer's first segment: from a gateway's network namespace
//     that hosts no sliver of the app (a machine of the community network
//     beside that gateway), bench/hls-client.ts (Node, one kept-alive
//     HTTP/1.1 connection, as a player's) asks an edge's forward for
//     /hls/live.m3u8, then for the first segment that playlist names, then
//     for that segment again; times from its first request (connection
//     made, playlist received, segment received to its last byte) and the
//     edge's X-Cache for each. The segment is one nobody asked this edge
//     for (X-Cache MISS, checked): the edge fetches it from the origin over
//     the slice network while the viewer waits. --video-runs (default 6),
//     alternating between the two edges, 2.5 s apart (a new segment every 2 s),
//     once the origin's playlist names a full window (until then its first
//     segment stays the same, and a later run would find it cached).
//  2. file sharing, throughput between two gateways: a file of --file-mb
//     (default 64) MiB of random bytes made in one peer sliver's /srv/share
//     and published there (`hearth-publish`, the app's own way); the other
//     peer's catalog poll adds its torrent and transmission downloads it.
//     In the downloading sliver a shell loop (`transmission-remote -l` every
//     0.2 s, each change stamped with `date +%s.%N`, the machine's clock)
//     stamps the torrent added, its first bytes, 100 %, and its sha256
//     computed; the publishing sliver stamps its own steps likewise,
//     until its own transmission seeds the file (its data checked). Mbit/s
//     = bits of the file over (added → checksum verified), and over (first
//     bytes → 100 %), each against the profile's rate, which the link
//     emulator applies to each path between two gateways whatever its hops
//     (hops add delay and loss). --share-runs (default 3), alternating the
//     direction. Meanwhile the bench reads, once a second, what the machine,
//     the link emulator and the wireguard-go daemons used of the CPU, and
//     the emulator's counters (frames lost to the emulated loss, dropped by
//     a full rate queue).
// Images must be cached (`hearth image ls`).
// Run as root after `npm run build`:
//   node dist/bench/app-figures.js [--figures video,file-sharing] [--video-runs 6] [--share-runs 3] [--file-mb 64]
//     [--gateways 5] [--link wifi] [--seed 7] [--prefix bfg] [--dir DIR] [--underlay 172.22.0.0/16] [--port P]
//     [--share-on gwA,gwB,gwC]   (file sharing placed on these three only: with --seed 4, gw1,gw2,gw4 are
//                                 pairwise two hops apart, so its peers are too)

import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DirectoryEntry } from '../src/cloud/services.js';
import { missingServices } from '../src/cli/demo-plan.js';
import { roleAt } from '../src/model/app.js';
import { PACKAGE_ROOT } from '../src/agent/version.js';
import type { SliceView } from '../src/model/slice.js';
import { parseSubnet, testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { runHearth, runInGateway } from '../src/testbed/gateway-process.js';
import { layoutMesh } from '../src/testbed/layout.js';
import { requestLinkEmulator } from '../src/testbed/linkemu-control.js';
import type { LinkEmulatorCounters } from '../src/testbed/linkemu.js';
import { getLinkProfile } from '../src/testbed/profiles.js';
import { memberOf, type TestbedGatewayState, type TestbedState } from '../src/testbed/state.js';
import { freePort } from '../test/support/ports.js';
import { appImageLines, removeApp } from './app-steps.js';
import { cpuSnapshot, cpuUse, machineLine, medianMax, progress, sec, sleep, until, type CpuSnapshot, type CpuUse } from './lib.js';
import { takeDownOnExit } from './teardown.js';

const { values } = parseArgs({
  options: {
    figures: { type: 'string', default: 'video,file-sharing' },
    'video-runs': { type: 'string', default: '6' },
    'share-runs': { type: 'string', default: '3' },
    'file-mb': { type: 'string', default: '64' },
    gateways: { type: 'string', default: '5' },
    link: { type: 'string', default: 'wifi' },
    seed: { type: 'string', default: '7' },
    prefix: { type: 'string', default: 'bfg' },
    dir: { type: 'string' },
    underlay: { type: 'string', default: '172.22.0.0/16' },
    port: { type: 'string' },
    'share-on': { type: 'string' },
  },
});

const FIGURES = values.figures.split(',').map((f) => f.trim());
for (const f of FIGURES) if (f !== 'video' && f !== 'file-sharing') throw new Error(`--figures: ${f} is not video or file-sharing`);
const VIDEO_RUNS = Number(values['video-runs']);
const SHARE_RUNS = Number(values['share-runs']);
const FILE_BYTES = Number(values['file-mb']) * 1024 * 1024;
const GATEWAYS = Number(values.gateways);
const SEED = Number(values.seed);
const PROFILE = getLinkProfile(values.link);
const PREFIX = values.prefix;
// The test runner's sweep removes namespaces of prefixes like these.
if (/^t[a-z]{3}$/.test(PREFIX)) throw new Error(`--prefix ${PREFIX} looks like a test run's; the test runner would sweep it`);
const UNDERLAY = parseSubnet(values.underlay);
const HOPS = layoutMesh({ gateways: GATEWAYS, seed: SEED }).hops;
/** The only gateways file sharing may be placed on (the others are set to safe mode meanwhile): a choice of how many hops apart its peers are. */
const SHARE_ON = values['share-on']?.split(',').map((g) => g.trim());
if (SHARE_ON !== undefined && (SHARE_ON.length !== 3 || SHARE_ON.some((g) => !/^gw\d+$/.test(g) || Number(g.slice(2)) > GATEWAYS))) {
  throw new Error(`--share-on: three of gw1..gw${GATEWAYS}, comma-separated, not ${values['share-on'] ?? ''}`);
}
const HLS_CLIENT = fileURLToPath(new URL('./hls-client.js', import.meta.url));
/** How many segments the video app's live playlist names once its stream runs steadily (ffmpeg's hls_list_size in its recipe). */
const HLS_WINDOW = ((): number => {
  const size = /hls_list_size (\d+)/.exec(readFileSync(join(PACKAGE_ROOT, 'apps', 'video.json'), 'utf8'))?.[1];
  if (size === undefined) throw new Error('apps/video.json sets no hls_list_size: the bench cannot tell when the live playlist is full');
  return Number(size);
})();
/** Past this after the deploy, the app is taken for not serving. */
const SERVING_TIMEOUT_MS = 300_000;

type Member = TestbedGatewayState;
interface Bench { state: TestbedState; key: string; failures: string[] }

const gatewayNumber = (name: string | null): number => Number((name ?? '').replace(/^gw/, ''));
const hops = (a: string | null, b: string | null): number => HOPS[gatewayNumber(a) - 1]?.[gatewayNumber(b) - 1] ?? Number.NaN;
const memberNamed = (b: Bench, name: string | null): Member => {
  const m = b.state.members.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no member ${String(name)}`);
  return m;
};
const loadNow = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
const ms = (x: number): string => `${Math.round(x)} ms`;
const mbit = (x: number): string => `${x.toFixed(1)} Mbit/s`;

/** Deploys APP over three gateways from gw1 and waits until gw1's directory lists every service of it. */
async function deployServing(b: Bench, app: string): Promise<{ view: SliceView; directory: DirectoryEntry[] }> {
  const gw1 = memberOf(b.state, 1);
  const t0 = Date.now();
  const view = JSON.parse(await runHearth(gw1, ['app', 'deploy', app, '--gateways', '3', '--key', b.key, '--json'])) as SliceView;
  progress(`${app}: placed on ${view.slivers.map((s) => `${s.name ?? '?'}@${s.gateway ?? '?'}`).join(', ')}`);
  const directory = await until(SERVING_TIMEOUT_MS, 1000, async () => {
    const d = await runHearth(gw1, ['services', '--json']).then((out) => JSON.parse(out) as DirectoryEntry[], () => undefined);
    return d !== undefined && missingServices(view, d).length === 0 ? d.filter((e) => e.slice === view.name) : undefined;
  });
  if (directory === undefined) throw new Error(`${app}: not every service listed by gw1 ${SERVING_TIMEOUT_MS / 1000} s after the deploy`);
  progress(`${app}: every service listed by gw1 ${sec(Date.now() - t0)} after the deploy`);
  return { view, directory };
}

/** Removes the app; a failure (gw1 too loaded to gather the slice, say) is recorded, and the testbed's teardown takes what is left. */
async function remove(b: Bench, slice: string): Promise<void> {
  const took = await removeApp(memberOf(b.state, 1), b.state.members, slice, b.key).catch((e: Error) => {
    b.failures.push(`${slice}: app rm: ${e.message}`);
    return undefined;
  });
  progress(`${slice}: ${took === undefined ? 'NOT removed everywhere' : `removed everywhere ${sec(took)} after app rm`}`);
}

/** The slivers of the view whose role is `role`, with their gateways. */
function slivers(view: SliceView, role: string): { name: string; gateway: string }[] {
  const recipe = view.spec.app;
  if (recipe === null) throw new Error(`${view.name} is no app`);
  return view.slivers.filter((s) => roleAt(recipe, view.spec.slivers, s.index)?.name === role)
    .map((s) => ({ name: s.name ?? `${view.name}-${s.index}`, gateway: s.gateway ?? '?' }));
}

// ---------------------------------------------------------------- 1. video: a viewer's first segment

interface Step { url: string; status: number; cache: string | null; bytes: number; length: number | null; headersMs: number; doneMs: number }
interface ClientOut { startedAt: number; connectMs: number | null; playlist?: Step; segment?: Step; again?: Step; error?: string }

interface VideoRun {
  run: number; client: string; edge: string; origin: string; clientEdgeHops: number; edgeOriginHops: number;
  connectMs: number | null; playlistMs: number | null; segmentMs: number | null; segmentOnlyMs: number | null; againMs: number | null;
  playlistCache: string | null; segmentCache: string | null; segmentBytes: number | null; segment: string | null; error: string | null;
}

async function videoFigure(b: Bench): Promise<VideoRun[]> {
  const { view, directory } = await deployServing(b, 'video');
  const origin = slivers(view, 'origin')[0]?.gateway ?? '?';
  const edges = directory.filter((e) => e.name === 'edge');
  const used = new Set(view.slivers.map((s) => s.gateway));
  const client = b.state.members.find((m) => !used.has(m.name));
  if (client === undefined || edges.length === 0) throw new Error(`video: no gateway without a video sliver, or no edge (${edges.length})`);
  // Until the origin's playlist names a full window, its first segment stays the same: a second run would find it cached.
  const source = directory.find((e) => e.name === 'origin');
  const full = source === undefined ? undefined : await until(60_000, 1000, async () => {
    const r = await runInGateway(client, [process.execPath, HLS_CLIENT, `http://${source.address}/hls/live.m3u8`, '--count'], { timeoutMs: 30_000 });
    const segments = (JSON.parse(r.stdout || '{}') as { segments?: number }).segments ?? 0;
    return segments >= HLS_WINDOW ? segments : undefined;
  });
  if (full === undefined) throw new Error(`video: the origin's playlist did not name ${HLS_WINDOW} segments within 60 s`);
  progress(`video: the origin's playlist names a full window of ${full} segments`);
  const runs: VideoRun[] = [];
  for (let run = 1; run <= VIDEO_RUNS; run++) {
    const edge = edges[(run - 1) % edges.length] as DirectoryEntry;
    const url = `http://${edge.address}/hls/live.m3u8`;
    const result = await runInGateway(client, [process.execPath, HLS_CLIENT, url], { timeoutMs: 90_000 });
    let out: ClientOut;
    try {
      out = JSON.parse(result.stdout) as ClientOut;
    } catch {
      out = { startedAt: 0, connectMs: null, error: `the client printed no JSON (exit ${result.code}): ${result.stderr.trim().slice(-200)}` };
    }
    const { playlist, segment, again } = out;
    const r: VideoRun = {
      run, client: client.name, edge: edge.gateway, origin, clientEdgeHops: hops(client.name, edge.gateway), edgeOriginHops: hops(edge.gateway, origin),
      connectMs: out.connectMs, playlistMs: playlist?.doneMs ?? null, segmentMs: segment?.doneMs ?? null,
      segmentOnlyMs: segment !== undefined && playlist !== undefined ? segment.doneMs - playlist.doneMs : null,
      againMs: again !== undefined && segment !== undefined ? again.doneMs - segment.doneMs : null,
      playlistCache: playlist?.cache ?? null, segmentCache: segment?.cache ?? null, segmentBytes: segment?.bytes ?? null, segment: segment?.url ?? null, error: out.error ?? null,
    };
    if (r.error === null && (segment?.status !== 200 || (segment.length !== null && segment.length !== segment.bytes))) {
      r.error = `segment ${segment?.url ?? '?'} answered ${segment?.status ?? '?'} with ${segment?.bytes ?? '?'} of ${segment?.length ?? '?'} bytes`;
    }
    if (r.error !== null) b.failures.push(`video run ${run}: ${r.error}`);
    else if (r.segmentCache !== 'MISS') b.failures.push(`video run ${run}: the segment was not cold at the edge (X-Cache ${String(r.segmentCache)})`);
    progress(`video run ${run}: ${client.name} → edge on ${edge.gateway} (${r.clientEdgeHops} hop(s); origin on ${origin}, ${r.edgeOriginHops} hop(s) on)`
      + `: connected ${r.connectMs === null ? '–' : ms(r.connectMs)}, playlist ${r.playlistMs === null ? '–' : ms(r.playlistMs)} (${String(r.playlistCache)}),`
      + ` ${r.segment ?? '?'} ${r.segmentBytes ?? '?'} B at ${r.segmentMs === null ? '–' : ms(r.segmentMs)} (${String(r.segmentCache)}), again ${r.againMs === null ? '–' : ms(r.againMs)}`
      + `${r.error === null ? '' : `; ${r.error}`}`);
    runs.push(r);
    await sleep(2500);
  }
  await remove(b, view.name);
  return runs;
}

// ---------------------------------------------------------------- 2. file sharing: throughput between two gateways

/** Shell functions both peers' scripts use: this torrent's "Done Have" in transmission's list, stamps, and a bounded wait. */
const shellCommon = (name: string): string => `n=${name}
st() { transmission-remote 127.0.0.1:9091 -l 2>/dev/null | awk -v n="$n" '$NF == n { print $2, $3 }'; }
stamp() { echo "@ $1 $(date +%s.%N) $2"; }
listed() { [ -n "$(st)" ]; }
some() { s=$(st); [ -n "$s" ] && [ "\${s#* }" != None ]; }
complete() { [ "$(st | cut -d' ' -f1)" = 100% ]; }
wait_for() { i=0; until $1; do i=$((i + 1)); if [ $i -ge 3000 ]; then stamp timeout $1; exit 0; fi; [ -z "\${3:-}" ] || [ $i -lt 100 ] || [ $((i % 50)) -ne 0 ] || $3; sleep 0.2; done; stamp $2; }
`;

/** Lines of a slow wait's evidence: the torrent's tracker and peer info, each line prefixed with '# '. */
const whyScript = `why() { id=$(transmission-remote 127.0.0.1:9091 -l 2>/dev/null | awk -v n="$n" '$NF == n { sub(/\\*$/, "", $1); print $1 }')
  echo "# --- $(date +%s.%N)"; transmission-remote 127.0.0.1:9091 -t "$id" -it -ip 2>&1 | sed 's/^/# /'; }
`;

/**
 * The downloading peer: stamps the torrent added, its first bytes, 100 %,
 * and the file's sha256; while no byte has come after 20 s, every 10 s it
 * prints the torrent's tracker and peer info (why), which the bench shows.
 */
const watchScript = (name: string): string => `${shellCommon(name)}${whyScript}stamp watching
wait_for listed added
wait_for some first why
wait_for complete done
stamp verified "$(sha256sum /srv/share/$n | cut -d' ' -f1)"
`;

/**
 * The publishing peer: makes the file, publishes it, stamps when its own
 * transmission seeds it (100 %, its data checked). The catalog lists the
 * torrent before that, so the other peer may add it first: whichever of
 * the two announces last learns the other from the tracker and connects.
 */
const publishScript = (name: string, bytes: number): string => `${shellCommon(name)}head -c ${bytes} /dev/urandom > /srv/share/$n || { stamp failed made; exit 0; }
stamp sum "$(sha256sum /srv/share/$n | cut -d' ' -f1)"
stamp publish
hearth-publish /srv/share/$n >/dev/null && stamp published || stamp failed publish
wait_for complete seeding
`;

/** The `@ KEY SECONDS [VALUE]` lines of a script's output, as KEY → {at (ms), value}. */
function stamps(out: string): Map<string, { at: number; value: string }> {
  const m = new Map<string, { at: number; value: string }>();
  for (const line of out.split('\n')) {
    const [at, key, time, value] = line.trim().split(/\s+/);
    if (at === '@' && key !== undefined && time !== undefined) m.set(key, { at: Number(time) * 1000, value: value ?? '' });
  }
  return m;
}

interface ShareRun {
  run: number; from: string; to: string; hops: number; bytes: number;
  publishedToAddedMs: number | null;
  /** From the torrent added at the downloader to the publisher seeding (negative: seeding before). */
  addedToSeedingMs: number | null;
  addedToFirstMs: number | null; firstToDoneMs: number | null; addedToVerifiedMs: number | null;
  /** Over added → verified (the figure), and over first bytes → 100 % (the transfer alone). */
  mbps: number | null; transferMbps: number | null;
  sumOk: boolean;
  cpu: CpuUse | null; lost: number | null; queueDrops: number | null; forwarded: number | null;
}

async function emulatorCounters(b: Bench): Promise<LinkEmulatorCounters | undefined> {
  const r = await requestLinkEmulator(b.state.emulator.control, { op: 'stats' }).catch(() => undefined);
  return r?.ok === true ? r.stats.counters : undefined;
}

/**
 * `fn` with every gateway but `only` in safe mode (what runs stays, nothing
 * new is taken), so that a placement made meanwhile can only use `only`; the
 * others are set back to production however `fn` ends.
 */
async function placedOnly<T>(b: Bench, only: readonly string[], fn: () => Promise<T>): Promise<T> {
  const others = b.state.members.filter((m) => !only.includes(m.name));
  for (const m of others) await runHearth(m, ['node', 'mode', 'safe']);
  // The modes reach gw1's view by gossip, in about a second on a testbed this size.
  await sleep(5000);
  try {
    return await fn();
  } finally {
    for (const m of others) {
      await runHearth(m, ['node', 'mode', 'production']).catch((e: Error) => void b.failures.push(`${m.name}: back to production: ${e.message}`));
    }
  }
}

async function shareFigure(b: Bench): Promise<ShareRun[]> {
  const { view } = SHARE_ON === undefined ? await deployServing(b, 'file-sharing')
    : await placedOnly(b, SHARE_ON, () => deployServing(b, 'file-sharing'));
  if (SHARE_ON !== undefined && view.slivers.some((s) => !SHARE_ON.includes(s.gateway ?? ''))) {
    throw new Error(`file-sharing: placed beyond --share-on ${SHARE_ON.join(',')}: ${view.slivers.map((s) => s.gateway).join(', ')}`);
  }
  const peers = slivers(view, 'peer');
  if (peers.length < 2 || peers[0]?.gateway === peers[1]?.gateway) throw new Error(`file-sharing: want two peers on two gateways, got ${JSON.stringify(peers)}`);
  const runs: ShareRun[] = [];
  for (let run = 1; run <= SHARE_RUNS; run++) {
    const [from, to] = (run % 2 === 1 ? [peers[0], peers[1]] : [peers[1], peers[0]]) as [{ name: string; gateway: string }, { name: string; gateway: string }];
    const name = `bench-${run}.bin`;
    progress(`file-sharing run ${run} (load average ${loadNow()}): ${name}, ${FILE_BYTES} bytes, ${from.name} on ${from.gateway} → ${to.name} on ${to.gateway} (${hops(from.gateway, to.gateway)} hop(s))`);
    const snapshots: CpuSnapshot[] = [cpuSnapshot(b.state)];
    const counters = [await emulatorCounters(b)];
    const sampler = setInterval(() => snapshots.push(cpuSnapshot(b.state)), 1000);
    const exec = (peer: { name: string; gateway: string }, script: string): Promise<string> =>
      runHearth(memberNamed(b, peer.gateway), ['sliver', 'exec', '--timeout', '1800', peer.name, '--', 'sh', '-c', script], { timeoutMs: 1_860_000 })
        .catch((e: Error) => `exec failed: ${e.message}`);
    const watching = exec(to, watchScript(name));
    // The watcher's CLI and first poll before the publisher starts: its stamps must come first.
    await sleep(4000);
    const [watched, published] = await Promise.all([watching, exec(from, publishScript(name, FILE_BYTES))]);
    clearInterval(sampler);
    snapshots.push(cpuSnapshot(b.state));
    counters.push(await emulatorCounters(b));
    const w = stamps(watched);
    const p = stamps(published);
    const at = (s: Map<string, { at: number }>, key: string): number | null => s.get(key)?.at ?? null;
    const diff = (a: number | null, z: number | null): number | null => (a === null || z === null ? null : z - a);
    const added = at(w, 'added'); const first = at(w, 'first'); const done = at(w, 'done'); const verified = at(w, 'verified');
    const sum = p.get('sum')?.value ?? '';
    const r: ShareRun = {
      run, from: from.gateway, to: to.gateway, hops: hops(from.gateway, to.gateway), bytes: FILE_BYTES,
      publishedToAddedMs: diff(at(p, 'published'), added), addedToSeedingMs: diff(added, at(p, 'seeding')), addedToFirstMs: diff(added, first), firstToDoneMs: diff(first, done), addedToVerifiedMs: diff(added, verified),
      mbps: null, transferMbps: null,
      sumOk: sum !== '' && w.get('verified')?.value === sum, cpu: null, lost: null, queueDrops: null, forwarded: null,
    };
    if (r.addedToVerifiedMs !== null && r.sumOk) r.mbps = (FILE_BYTES * 8) / (r.addedToVerifiedMs / 1000) / 1e6;
    if (r.firstToDoneMs !== null && r.sumOk) r.transferMbps = (FILE_BYTES * 8) / (r.firstToDoneMs / 1000) / 1e6;
    // The machine's CPU over the transfer: the samples just around first bytes → 100 %.
    if (first !== null && done !== null) {
      const a = [...snapshots].reverse().find((s) => s.at <= first) ?? snapshots[0];
      const z = snapshots.find((s) => s.at >= done) ?? snapshots.at(-1);
      if (a !== undefined && z !== undefined && z.at > a.at) r.cpu = cpuUse(a, z);
    }
    const [c0, c1] = counters;
    if (c0 !== undefined && c1 !== undefined) {
      r.lost = c1.droppedLoss - c0.droppedLoss; r.queueDrops = c1.droppedRate - c0.droppedRate; r.forwarded = c1.forwarded - c0.forwarded;
    }
    if (!r.sumOk) b.failures.push(`file-sharing run ${run}: checksum ${w.get('verified')?.value ?? 'none'} against the published ${sum || 'none'}; downloader said: ${watched.slice(-300)}; publisher said: ${published.slice(-300)}`);
    const why = watched.split('\n').filter((l) => l.startsWith('# '));
    if (why.length > 0) progress(`file-sharing run ${run}: no byte 20 s after added; the downloader's tracker and peers meanwhile:\n${why.join('\n')}`);
    const watchAt = at(w, 'watching'); const publishAt = at(p, 'publish');
    if (watchAt === null || publishAt === null || watchAt > publishAt) b.failures.push(`file-sharing run ${run}: the watcher did not start before the publish (${String(watchAt)} vs ${String(publishAt)})`);
    progress(`file-sharing run ${run}: published → added ${sec(r.publishedToAddedMs)}, added → seeder ready ${sec(r.addedToSeedingMs)}, added → first bytes ${sec(r.addedToFirstMs)}, first → 100 % ${sec(r.firstToDoneMs)},`
      + ` added → verified ${sec(r.addedToVerifiedMs)}: ${r.mbps === null ? '–' : mbit(r.mbps)} (transfer ${r.transferMbps === null ? '–' : mbit(r.transferMbps)}); checksum ${r.sumOk ? 'equal' : 'NOT equal'};`
      + ` emulator: ${String(r.forwarded)} frames, ${String(r.lost)} lost, ${String(r.queueDrops)} queue drops`
      + `${r.cpu === null ? '' : `; machine ${(r.cpu.machineBusy * 100).toFixed(0)}% busy, emulator ${r.cpu.emulatorCores.toFixed(2)} core, wireguard-go ${r.cpu.wireguardCores.toFixed(2)} core`}`);
    runs.push(r);
  }
  await remove(b, view.name);
  return runs;
}

// ---------------------------------------------------------------- running it

/** The bench's own temporary dir, removed however the bench ends. */
let tempRoot: string | undefined;
const teardown = takeDownOnExit(progress, async () => {
  if (tempRoot !== undefined) rmSync(tempRoot, { recursive: true, force: true });
});

function printVideo(runs: readonly VideoRun[]): void {
  const row = (label: string, pick: (r: VideoRun) => number | null): void => {
    const s = medianMax(runs.map(pick), ms);
    console.log(`| ${label} | ${s.median} / ${s.max}${s.n < runs.length ? ` (n=${s.n})` : ''} | ${runs.map((r) => { const v = pick(r); return v === null ? '–' : Math.round(v); }).join(', ')} |`);
  };
  console.log('');
  console.log(`| video, from the viewer's first request (${runs.length} runs) | median / max | each run (ms) |`);
  console.log('| --- | --- | --- |');
  row('connection made', (r) => r.connectMs);
  row('playlist received', (r) => r.playlistMs);
  row('**first segment received (last byte)**', (r) => r.segmentMs);
  row('of which the segment alone (after the playlist)', (r) => r.segmentOnlyMs);
  row('(the same segment again, from the edge\'s cache)', (r) => r.againMs);
  console.log(`segment sizes (bytes): ${runs.map((r) => r.segmentBytes ?? '–').join(', ')}; edge X-Cache playlist: ${runs.map((r) => r.playlistCache ?? '–').join(', ')}; segment: ${runs.map((r) => r.segmentCache ?? '–').join(', ')}`);
  console.log(`paths: ${runs.map((r) => `${r.client}→${r.edge} ${r.clientEdgeHops} hop(s), ${r.edge}→${r.origin} ${r.edgeOriginHops}`).join('; ')}`);
}

function printShare(runs: readonly ShareRun[]): void {
  const rate = PROFILE.rateBitsPerSecond / 1e6;
  console.log('');
  console.log(`| file sharing, ${FILE_BYTES / 2 ** 20} MiB (run: from → to, hops) | published → added | added → seeder ready | added → first bytes | first bytes → 100 % | **added → checksum verified** | **Mbit/s (÷ ${rate})** | transfer alone Mbit/s (÷ ${rate}) | machine busy; emulator; wireguard-go | emulator: frames, lost, queue drops |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of runs) {
    const cpu = r.cpu === null ? '–' : `${(r.cpu.machineBusy * 100).toFixed(0)}%; ${r.cpu.emulatorCores.toFixed(2)}; ${r.cpu.wireguardCores.toFixed(2)} core`;
    console.log(`| ${r.run}: ${r.from} → ${r.to}, ${r.hops} | ${sec(r.publishedToAddedMs)} | ${sec(r.addedToSeedingMs)} | ${sec(r.addedToFirstMs)} | ${sec(r.firstToDoneMs)} | **${sec(r.addedToVerifiedMs)}** |`
      + ` **${r.mbps === null ? '–' : `${r.mbps.toFixed(1)} (${(r.mbps / rate).toFixed(2)})`}** | ${r.transferMbps === null ? '–' : `${r.transferMbps.toFixed(1)} (${(r.transferMbps / rate).toFixed(2)})`} | ${cpu} |`
      + ` ${String(r.forwarded)}, ${String(r.lost)}, ${String(r.queueDrops)} |`);
  }
  const s = medianMax(runs.map((r) => r.mbps), mbit);
  console.log(`median ${s.median} over added → verified; the emulator's rate on every path: ${rate} Mbit/s (of frames), ${PROFILE.perHopDelayMs} ± ${PROFILE.perHopJitterMs} ms and ${PROFILE.perHopLoss * 100}% loss per hop`);
}

async function main(): Promise<void> {
  const machine = await machineLine();
  const root = values.dir ?? mkdtempSync('/tmp/hearth-bench-app-figures-');
  if (values.dir === undefined) tempRoot = root;
  mkdirSync(root, { recursive: true });
  // The gateways' containers live below; their unprivileged root must traverse it.
  chmodSync(root, 0o755);
  const key = `${root}/user.key`;
  writeFileSync(key, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  const startedAt = new Date().toISOString();
  progress(`machine: ${machine}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

  const dir = `${root}/tb`;
  const port = values.port === undefined ? await freePort() : Number(values.port);
  const failures: string[] = [];
  const loads: string[] = [];
  let images: string[] = [];
  let video: VideoRun[] = [];
  let share: ShareRun[] = [];
  teardown.active = dir;
  try {
    const up = await testbedUp({ gateways: GATEWAYS, link: PROFILE.name, seed: SEED, dir, prefix: PREFIX, port, underlay: UNDERLAY, progress });
    images = await appImageLines(memberOf(up.state, 1), FIGURES);
    for (const line of images) progress(line);
    const b: Bench = { state: up.state, key, failures };
    if (FIGURES.includes('video')) {
      loads.push(`video ${loadNow()}`);
      video = await videoFigure(b);
    }
    if (FIGURES.includes('file-sharing')) {
      loads.push(`file-sharing ${loadNow()}`);
      share = await shareFigure(b);
    }
  } finally {
    await testbedDown({ dir, progress });
    teardown.active = undefined;
    if (tempRoot !== undefined) rmSync(tempRoot, { recursive: true, force: true });
  }

  console.log(JSON.stringify({ machine, startedAt, link: PROFILE, seed: SEED, gateways: GATEWAYS, hops: HOPS, images, loads, video, share }, null, 2));
  console.log('');
  console.log(`machine: ${machine}`);
  console.log(`${startedAt}: ${GATEWAYS} gateways, ${PROFILE.name} links, layout seed ${SEED}; load average at each figure's start: ${loads.join(', ')}`);
  for (const line of images) console.log(`image ${line}`);
  if (video.length > 0) printVideo(video);
  if (share.length > 0) printShare(share);
  if (failures.length > 0) {
    console.log('\nnot as expected:');
    for (const f of failures) console.log(`  ${f}`);
    process.exitCode = 1;
  }
}

await main();
