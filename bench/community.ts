// Benchmark of the community (issue: gateways find, watch and trust each
// other) on the emulated network, with real agents and real Serf:
//  - full view: from the moment the last gateway entered the community until
//    every gateway saw every other alive;
//  - failure seen: from a kill -9 of one gateway until every other saw it failed;
//  - false failures: members reported failed while nobody was killed, over a
//    window (10 minutes for the record) under a given profile;
//  - memory per gateway: agent + its serf, resident (RSS) and private (USS);
//  - RTT estimates against the layout: Vivaldi's view of each pair against
//    twice the emulated one-way delay (rank correlation and median ratio).
// Times come from the agents' own logs (one line per member state change,
// stamped by the same clock), so polling does not steal the CPU it measures.
// Run as root after `npm run build`:
//   node dist/bench/community.js --gateways 5 --link wifi [--false-window 600]

import { mkdtemp, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { testbedUp } from '../src/testbed/controller.js';
import { testbedDown } from '../src/testbed/controller-down.js';
import { testbedKill } from '../src/testbed/controller-ops.js';
import { readNodes } from '../src/testbed/community.js';
import { layoutMesh, meshLinkMatrix } from '../src/testbed/layout.js';
import { getLinkProfile } from '../src/testbed/profiles.js';
import { linkOf } from '../src/testbed/link-matrix.js';
import type { TestbedState } from '../src/testbed/state.js';
import { firstLogTime, median, memberLines, sleep, type StateLine } from './lib.js';
import { memoryKb, serfChildren } from './procs.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string', default: '5' },
    link: { type: 'string', default: 'wifi' },
    seed: { type: 'string', default: '7' },
    'false-window': { type: 'string', default: '0' },
    'skip-kill': { type: 'boolean', default: false },
  },
});
const N = Number(values.gateways);
const LINK = values.link;
const SEED = Number(values.seed);
const FALSE_WINDOW_SEC = Number(values['false-window']);

/** When this gateway first had every one of `names` alive at once, after `from`. */
function fullViewAt(lines: StateLine[], names: string[], from: number): number | undefined {
  const status = new Map<string, string>();
  for (const l of lines) {
    status.set(l.member, l.status);
    if (l.at >= from && names.every((n) => status.get(n) === 'alive')) return l.at;
  }
  return undefined;
}

function spearman(xs: number[], ys: number[]): number {
  const rank = (v: number[]): number[] => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const d2 = rx.reduce((s, r, i) => s + (r - (ry[i] as number)) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

async function main(): Promise<void> {
  const dir = await mkdtemp('/tmp/hearth-bench-tb-');
  const prefix = `b${Math.random().toString(36).slice(2, 4)}`;
  let state: TestbedState | undefined;
  try {
    const up = await testbedUp({ gateways: N, link: LINK, seed: SEED, dir, prefix, progress: (l) => process.stderr.write(`${l}\n`) });
    state = up.state;
    const names = state.members.map((m) => m.name);
    const joined = Math.max(...state.members.map((m) => firstLogTime(m.dataDir, 'in the community') ?? Number.NaN));
    const viewTimes = state.members.map((m) => fullViewAt(memberLines(m.dataDir), names, 0));
    const fullViewMs = Math.max(...viewTimes.map((t) => (t ?? Number.NaN))) - joined;

    // Let gossip and coordinates settle before sampling memory and RTTs.
    await sleep(20_000);
    const serfs = serfChildren(new Set(state.members.map((m) => m.pid as number)));
    const mem = state.members.map((m) => {
      const agent = memoryKb(m.pid as number);
      if (agent === undefined) throw new Error(`${m.name}'s agent is gone`);
      const serfPid = serfs.get(m.pid as number);
      const serf = (serfPid === undefined ? undefined : memoryKb(serfPid)) ?? { rss: 0, uss: 0 };
      return { rss: (agent.rss + serf.rss) / 1024, uss: (agent.uss + serf.uss) / 1024, agentRss: agent.rss / 1024, serfRss: serf.rss / 1024 };
    });

    const matrix = meshLinkMatrix(layoutMesh({ gateways: N, seed: SEED }), getLinkProfile(LINK));
    const estimated: number[] = [];
    const emulated: number[] = [];
    for (const m of state.members) {
      const view = await readNodes(m);
      for (const row of view.items) {
        const other = state.members.find((x) => x.name === row.name);
        if (other === undefined || other.gateway === m.gateway || row.rttMs === null || row.rttMs === undefined) continue;
        const link = linkOf(matrix, m.gateway, other.gateway);
        if (link === undefined) continue;
        estimated.push(row.rttMs);
        emulated.push(2 * link.delayMs);
      }
    }

    let failureMs = Number.NaN;
    if (!values['skip-kill'] && N > 1) {
      const victim = state.members[state.members.length - 1] as TestbedState['members'][number];
      const killedAt = Date.now();
      await testbedKill(victim.name, { dir });
      const seen: number[] = [];
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        seen.length = 0;
        for (const m of state.members.slice(0, -1)) {
          const t = memberLines(m.dataDir).find((l) => l.member === victim.name && l.status === 'failed' && l.at >= killedAt)?.at;
          if (t !== undefined) seen.push(t);
        }
        if (seen.length === N - 1) break;
        await sleep(500);
      }
      failureMs = seen.length === N - 1 ? Math.max(...seen) - killedAt : Number.NaN;
    }

    let falseFailures: number | null = null;
    if (FALSE_WINDOW_SEC > 0) {
      const from = Date.now();
      await sleep(FALSE_WINDOW_SEC * 1000);
      const killed = values['skip-kill'] ? undefined : state.members[state.members.length - 1]?.name;
      falseFailures = state.members
        .filter((m) => m.name !== killed)
        .reduce((sum, m) => sum + memberLines(m.dataDir).filter((l) => l.at >= from && l.status === 'failed' && l.member !== killed).length, 0);
    }

    const result = {
      gateways: N, link: LINK, seed: SEED,
      fullViewMs: Math.round(fullViewMs),
      failureSeenMs: Math.round(failureMs),
      falseFailures, falseWindowSec: FALSE_WINDOW_SEC,
      memoryPerGatewayMb: {
        rssMean: Number((mem.reduce((s, m) => s + m.rss, 0) / N).toFixed(1)),
        rssMax: Number(Math.max(...mem.map((m) => m.rss)).toFixed(1)),
        ussMean: Number((mem.reduce((s, m) => s + m.uss, 0) / N).toFixed(1)),
        agentRssMean: Number((mem.reduce((s, m) => s + m.agentRss, 0) / N).toFixed(1)),
        serfRssMean: Number((mem.reduce((s, m) => s + m.serfRss, 0) / N).toFixed(1)),
      },
      rtt: {
        pairs: estimated.length,
        spearman: Number(spearman(estimated, emulated).toFixed(3)),
        medianEstimateOverEmulated: Number(median(estimated.map((e, i) => e / (emulated[i] as number))).toFixed(2)),
      },
      upTimingsMs: up.timings,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await testbedDown({ dir });
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
