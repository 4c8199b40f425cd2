// What Go's collector target costs and saves in a community's Serf: N real
// `serf agent`s on loopback, started by hearth's own supervisor (its config:
// the wan profile, an encrypt key, a gateway's tags) and joined into one
// community, once with Serf's default target (GOGC=100, plain serf) and once
// with hearth's (SERF_GOGC), both on hearth's one thread (SERF_GOMAXPROCS,
// since session 31; the figures in BENCHMARKS.md are from before, on Go's
// default of one thread per core). After they settle: each serf's private memory
// (USS) and all the serfs' CPU over a window, printed as hearth against plain.
// Run after `npm run build`, with serf on PATH, alone on the machine:
//   node dist/bench/serf-gc.js [--members 100] [--settle 30] [--window 40] [--json]

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SERF_GOGC, createSerfAgent, type SerfAgent } from '../src/overlay/serf-agent.js';
import { COMMUNITY_LINK_TIMING } from '../src/overlay/serf-agent-config.js';
import { createSerfRpc } from '../src/overlay/serf-rpc.js';
import { freePort } from '../test/support/ports.js';
import { machineLine, median, progress, sleep, ticksOf, until } from './lib.js';
import { memoryKb } from './procs.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '100' },
    settle: { type: 'string', default: '30' },
    window: { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.members);
const SETTLE_SEC = Number(values.settle);
const WINDOW_SEC = Number(values.window);
if (!Number.isInteger(N) || N < 2) throw new Error('--members must be an integer of at least 2');

/** A gateway's tags in size and shape (encoded tags of a real agent are about this long). */
const TAGS = {
  v: '1', i: randomBytes(32).toString('hex'), a: '127.0.0.1:7443', c: '7d0.800.4e20.a', f: '7d0.800.4e20.a',
  m: 'p', r: '0.1.0', d: 'sv=AbCdEfGhIjK', q: '',
};

interface Variant { label: string; gogc: string }
interface Figures { label: string; gogc: string; ussKb: { median: number; max: number }; cores: number }

async function measure(v: Variant): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-serf-gc-'));
  const agents: SerfAgent[] = [];
  const key = randomBytes(32).toString('base64');
  const before = process.env['GOGC'];
  process.env['GOGC'] = v.gogc;
  try {
    let seed: string | undefined;
    let firstRpc: string | undefined;
    for (let i = 0; i < N; i++) {
      const bindAddress = `127.0.0.1:${await freePort()}`;
      const rpcAddress = `127.0.0.1:${await freePort()}`;
      const agent = createSerfAgent({
        nodeName: `gc-${i}`, bindAddress, rpcAddress, rpcAuthKey: 'bench', encryptKey: key,
        configFile: join(dir, `${i}.json`), profile: 'wan', timing: COMMUNITY_LINK_TIMING, tags: TAGS,
        ...(seed === undefined ? {} : { join: [seed] }),
      });
      await agent.start();
      agents.push(agent);
      seed ??= bindAddress;
      firstRpc ??= rpcAddress;
    }
    const rpc = createSerfRpc({ address: firstRpc as string, authKey: 'bench' });
    await rpc.connect();
    const all = await until(180_000, 1000, async () => ((await rpc.members()).filter((m) => m.status === 'alive').length === N ? true : undefined));
    await rpc.close();
    if (all === undefined) throw new Error(`${v.label}: the ${N} serfs did not all see each other within 180 s`);
    progress(`${v.label}: ${N} serfs joined; settling ${SETTLE_SEC} s`);
    await sleep(SETTLE_SEC * 1000);
    const pids = agents.map((a) => a.pid as number);
    const t0 = performance.now();
    const c0 = pids.reduce((s, p) => s + ticksOf(p), 0);
    await sleep(WINDOW_SEC * 1000);
    const c1 = pids.reduce((s, p) => s + ticksOf(p), 0);
    const secs = (performance.now() - t0) / 1000;
    const uss = pids.map((p) => memoryKb(p)?.uss ?? Number.NaN);
    return { label: v.label, gogc: v.gogc, ussKb: { median: median(uss), max: Math.max(...uss) }, cores: Number(((c1 - c0) / 100 / secs).toFixed(3)) };
  } finally {
    if (before === undefined) delete process.env['GOGC'];
    else process.env['GOGC'] = before;
    await Promise.all(agents.map((a) => a.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const machine = await machineLine();
progress(`${machine}; ${N} serfs per variant`);
const plain = await measure({ label: 'plain serf (GOGC=100)', gogc: '100' });
const hearth = await measure({ label: `hearth (GOGC=${SERF_GOGC})`, gogc: SERF_GOGC });
const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));
const result = {
  machine, members: N, settleSec: SETTLE_SEC, windowSec: WINDOW_SEC, plain, hearth,
  ratio: { ussMedian: ratio(hearth.ussKb.median, plain.ussKb.median), cpu: ratio(hearth.cores, plain.cores) },
};
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  const mb = (kb: number): string => (kb / 1024).toFixed(1);
  for (const f of [plain, hearth]) console.log(`${f.label.padEnd(24)} USS median ${mb(f.ussKb.median)} MB, max ${mb(f.ussKb.max)} MB; all serfs ${f.cores} cores`);
  console.log(`hearth / plain: USS ${result.ratio.ussMedian}, CPU ${result.ratio.cpu}`);
}
