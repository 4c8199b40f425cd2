// Where agents' time went in a window of a `bench/scale.ts --cpu-prof` run:
// reads the V8 CPU profiles the agents wrote when they stopped, keeps the
// samples inside the window (cut on the scale run's clocks), and prints, over
// the gateways asked for, the time their main threads were busy (not idle)
// and the hearth functions it went to. A sample is charged to the nearest
// frame of hearth's own code (dist/src/) on its stack, so the time of a
// library (TLS, msgpack, SQLite) counts for the hearth function that called
// it; "(garbage collector)" and "(program)" stay as they are.
// Run:
//   node dist/bench/cpu-prof.js --dir DIR --scale-json RUN.json --window joins|slice|kill|alone:FROM_MS:TO_MS
//     [--gateways sc-gw004,sc-gw019 (default all)] [--top 25] [--json]
// (`alone`: from the kill of the failure alone, the gateway that held no sliver.)
// The busy time is wall time the thread was not idle: on a loaded machine it
// includes time waiting for a core, so compare shares, not absolute times.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    'scale-json': { type: 'string' },
    window: { type: 'string' },
    gateways: { type: 'string' },
    top: { type: 'string', default: '25' },
    json: { type: 'boolean', default: false },
  },
});
if (values.dir === undefined || values['scale-json'] === undefined || values.window === undefined) {
  throw new Error('usage: cpu-prof --dir DIR --scale-json RUN.json --window joins|slice|kill|alone:FROM_MS:TO_MS [--gateways a,b] [--top N] [--json]');
}
const run = JSON.parse(readFileSync(values['scale-json'], 'utf8')) as {
  clock: { epochMs: number; monotonicUs: number };
  at: { joins?: number; sliceAsked: number; killed: number };
  failureAlone?: { killedAt: number } | null;
};
const m = /^(joins|slice|kill|alone):(-?\d+):(-?\d+)$/.exec(values.window);
if (m === null) throw new Error('--window is joins|slice|kill|alone:FROM_MS:TO_MS, e.g. kill:-1000:5000');
const bases = { joins: run.at.joins, slice: run.at.sliceAsked, kill: run.at.killed, alone: run.failureAlone?.killedAt };
const kind = m[1] as keyof typeof bases;
const base = bases[kind];
if (base === undefined) throw new Error(`${values['scale-json']} has no ${kind} mark: the run predates it, or had no failure alone`);
/** Epoch milliseconds to the profiles' monotonic microseconds. */
const mono = (epochMs: number): number => run.clock.monotonicUs + (epochMs - run.clock.epochMs) * 1000;
const from = mono(base + Number(m[2]));
const to = mono(base + Number(m[3]));
const wanted = values.gateways === undefined ? undefined : new Set(values.gateways.split(','));

/** Where a sample's time is charged: the nearest hearth frame, or the V8 pseudo-frame. */
function chargeTo(profile: Profile): Map<number, string> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const label = new Map<number, string>();
  const labelOf = (id: number): string => {
    const known = label.get(id);
    if (known !== undefined) return known;
    const f = (byId.get(id) as ProfileNode).callFrame;
    let out: string;
    const at = f.url.indexOf('/dist/src/');
    if (at >= 0) out = `${f.functionName || '(anonymous)'} ${f.url.slice(at + 10)}:${f.lineNumber + 1}`;
    else if (f.url === '' && f.functionName.startsWith('(')) out = f.functionName;
    else {
      const up = parent.get(id);
      out = up === undefined ? `${f.functionName || '(anonymous)'} (no hearth frame)` : labelOf(up);
    }
    label.set(id, out);
    return out;
  };
  for (const n of profile.nodes) labelOf(n.id);
  return label;
}

const totals = new Map<string, number>();
let busyUs = 0;
let idleUs = 0;
let agents = 0;
for (const name of readdirSync(values.dir)) {
  if (wanted !== undefined && !wanted.has(name)) continue;
  for (const file of readdirSync(join(values.dir, name)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(values.dir, name, file), 'utf8')) as Profile;
    const label = chargeTo(profile);
    agents++;
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const delta = profile.timeDeltas[i] ?? 0;
      t += delta;
      // A sample stands for the time since the one before it.
      if (t < from || t - delta > to) continue;
      const what = label.get(profile.samples[i] as number) as string;
      if (what === '(idle)') {
        idleUs += delta;
        continue;
      }
      busyUs += delta;
      totals.set(what, (totals.get(what) ?? 0) + delta);
    }
  }
}

const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
const ms = (us: number): number => Math.round(us / 1000);
if (values.json) {
  process.stdout.write(`${JSON.stringify({ agents, window: values.window, busyMs: ms(busyUs), idleMs: ms(idleUs), top: top.map(([what, us]) => ({ what, ms: ms(us) })) }, null, 2)}\n`);
} else {
  console.log(`${agents} agents, window ${values.window}: busy ${ms(busyUs)} ms, idle ${ms(idleUs)} ms (${(busyUs / Math.max(1, busyUs + idleUs) * 100).toFixed(1)}% busy)`);
  for (const [what, us] of top) console.log(`${String(ms(us)).padStart(8)} ms  ${(us / Math.max(1, busyUs) * 100).toFixed(1).padStart(5)}%  ${what}`);
}
