// The simulator's sweeps (issue 11): runs src/sim/sweep.ts's plan from a
// seed and writes its CSV tables and SVG plots to docs/sim/, printing each
// run's figures and wall time on stderr as it goes. Usage, after a build:
//   node dist/bench/sim-sweep.js [--seed S] [--out DIR]
// The files depend only on the seed; the wall times printed do not.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSweep, SWEEP_PLAN } from '../src/sim/sweep.js';

const here = fileURLToPath(import.meta.url);
const DOCS = fileURLToPath(new URL(here.endsWith('.ts') ? '../docs/sim/' : '../../docs/sim/', import.meta.url));

const { values } = parseArgs({ options: { seed: { type: 'string' }, out: { type: 'string' } } });
const seed = values.seed === undefined ? SWEEP_PLAN.seed : Number(values.seed);
if (!Number.isInteger(seed) || seed <= 0) throw new Error(`--seed must be a positive integer, got ${JSON.stringify(values.seed)}`);
const out = values.out ?? DOCS;

const started = performance.now();
let last = started;
const files = runSweep({ ...SWEEP_PLAN, seed }, ({ label, result: r }) => {
  const t = performance.now();
  process.stderr.write(`${label}: ${r.gateways} gateways, ${r.hours} h: success ${r.placement.success} (ideal ${r.ideal.success}), `
    + `${r.placement.messagesPerPlacement} messages/placement, imbalance ${r.imbalance.sampled}/${r.imbalance.ideal} (${r.imbalance.ratio}), `
    + `heal median ${r.heal.medianMs} ms, false suspicions ${r.suspicions.falseSuspicions} (${r.suspicions.falseDeaths} deaths)`
    + `${r.partition === null ? '' : `, partition ${JSON.stringify(r.partition)}`}; ${((t - last) / 1000).toFixed(1)} s wall\n`);
  last = t;
});
mkdirSync(out, { recursive: true });
for (const f of files) writeFileSync(join(out, f.name), f.text);
process.stderr.write(`sim-sweep: ${files.length} files in ${out}, ${((performance.now() - started) / 1000).toFixed(1)} s wall\n`);
