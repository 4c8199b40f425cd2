// Benchmark of the bandwidth shaper (src/net/shaper.ts): a gateway
// namespace with a bridge and two "slivers" (namespaces with the veth name
// and MAC hearth gives a sliver), as in test/integration/net/shaper.test.ts.
// With the owner giving `--cap` Mbit/s each way, measures TCP from a Node
// sender to a Node receiver (64 KiB writes for `--seconds`, bytes counted
// first to last), median over runs:
//  - one sliver alone uploading, and downloading (both slivers on a fair share):
//    its rate against the cap (it borrows the idle sliver's share);
//  - both uploading at once on fair shares: each against half the cap, the sum against the cap;
//  - both uploading at once, the first guaranteed 3/4 of the cap: each against its share.
// Run as root after `npm run build`:
//   node dist/bench/bandwidth.js [--runs 3] [--seconds 3] [--cap 20]

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { shaperBed } from '../test/support/shaper-bed.js';
import { measure, send, startReceiver, type Transfer } from '../test/support/tcp-rate.js';
import { machineLine, median } from './lib.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    cap: { type: 'string', default: '20' },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const cap = Number(values.cap);
const bed = shaperBed('bwb');
const [one, two] = bed.slivers;
let port = 5400;

/** Both slivers upload to the gateway at once. */
async function together(): Promise<[Transfer, Transfer]> {
  const receivers = await Promise.all([startReceiver(bed.gw, ++port), startReceiver(bed.gw, ++port)]);
  await Promise.all([send(one.ns, bed.gwAddress, port - 1, seconds), send(two.ns, bed.gwAddress, port, seconds)]);
  const [a, b] = await Promise.all(receivers.map((r) => r.result));
  return [a as Transfer, b as Transfer];
}

const sumOf = (a: Transfer, b: Transfer): number => ((a.bytes + b.bytes) * 8) / (Math.max(a.ms, b.ms) * 1000);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  console.log(await machineLine());
  console.log(`cap ${cap} Mbit/s each way, ${runs} runs of ${seconds} s; load average before: ${load()}`);
  await bed.setup();
  const figures: Record<string, number[]> = {};
  const note = (name: string, mbit: number): void => {
    (figures[name] ??= []).push(mbit);
  };
  try {
    for (let run = 1; run <= runs; run++) {
      await bed.apply({ upMbit: cap, downMbit: cap, slivers: bed.shaped() });
      note('alone, upload', (await measure(one.ns, bed.gw, bed.gwAddress, ++port, seconds)).mbit);
      note('alone, download', (await measure(bed.gw, one.ns, one.address, ++port, seconds)).mbit);
      const [fa, fb] = await together();
      note('fair: first', fa.mbit);
      note('fair: second', fb.mbit);
      note('fair: sum', sumOf(fa, fb));
      await bed.apply({ upMbit: cap, downMbit: cap, slivers: bed.shaped(cap * 0.75) });
      const [ga, gb] = await together();
      note('3/4 guaranteed: first', ga.mbit);
      note('3/4 guaranteed: second', gb.mbit);
      note('3/4 guaranteed: sum', sumOf(ga, gb));
      console.log(`run ${run}: ${Object.entries(figures).map(([k, v]) => `${k} ${(v.at(-1) ?? 0).toFixed(1)}`).join(', ')}`);
    }
    const traffic = await bed.shaper.traffic();
    console.log(`counters: ${[...traffic].map(([id, t]) => `${id} up ${t.up?.bytes} B (${t.up?.drops} dropped), down ${t.down?.bytes} B (${t.down?.drops} dropped)`).join('; ')}`);
  } finally {
    await bed.apply({ slivers: [] }).catch(() => undefined);
    await bed.remove();
  }
  const expected: Record<string, number> = {
    'alone, upload': cap, 'alone, download': cap, 'fair: first': cap / 2, 'fair: second': cap / 2, 'fair: sum': cap,
    '3/4 guaranteed: first': cap * 0.75, '3/4 guaranteed: second': cap / 4, '3/4 guaranteed: sum': cap,
  };
  console.log(`\nmedian of ${runs} runs (Mbit/s; share = what the shaper should give), load average after: ${load()}`);
  for (const [name, values] of Object.entries(figures)) {
    const m = median(values);
    const share = expected[name] ?? Number.NaN;
    console.log(`  ${name.padEnd(24)} ${m.toFixed(1).padStart(6)}  share ${share.toFixed(1).padStart(5)}  ratio ${(m / share).toFixed(2)}  (${values.map((v) => v.toFixed(1)).join(', ')})`);
  }
}

await main();
