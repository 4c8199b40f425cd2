// The simulator's sweeps, as the issue asks for figures: placement success,
// imbalance against the ideal scheduler and messages per placement across
// utilisation; messages per placement (and detection and heal times) across
// community size; slices below their N over a day of churn; a partition's
// story (slices below N while split, above N once healed, back to exactly N);
// and false suspicions across link loss. Each is a CSV table and one or more
// SVG plots, returned as strings: bench/sim-sweep.ts writes them to docs/sim/.
// Pure and seeded: the same plan gives the same files.
// Must never: read a clock or the file system.

import { linePlot, toCsv, type Cell } from './figures.js';
import { runSim, type SimResult } from './run.js';
import { scenarioConfig, type ScenarioName, type SimConfig } from './scenario.js';

export interface SweepPlan {
  seed: number;
  /** Churn at `gateways` for `hours`, at each target utilisation. */
  utilisation: { gateways: number; hours: number; targets: readonly number[] };
  /** Churn at `utilisation` for `hours`, at each community size. */
  sizes: { utilisation: number; hours: number; gateways: readonly number[] };
  /** One churn run sampled every `sampleEveryMs`. */
  belowN: { gateways: number; hours: number; utilisation: number; sampleEveryMs: number };
  /** The partition scenario at each utilisation. */
  partition: { gateways: number; hours: number; utilisations: readonly number[] };
  /** No churn, one link loss a run. */
  loss: { gateways: number; hours: number; utilisation: number; losses: readonly number[] };
}

/** The sizes docs/sim/ was made with: the whole sweep within a few minutes on a 2-core machine. */
export const SWEEP_PLAN: SweepPlan = {
  seed: 1,
  utilisation: { gateways: 2000, hours: 12, targets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9] },
  sizes: { utilisation: 0.7, hours: 6, gateways: [100, 1000, 5000, 20_000] },
  belowN: { gateways: 5000, hours: 24, utilisation: 0.7, sampleEveryMs: 60_000 },
  partition: { gateways: 1000, hours: 1, utilisations: [0.3, 0.5, 0.7] },
  loss: { gateways: 1000, hours: 2, utilisation: 0.5, losses: [0.01, 0.02, 0.05, 0.1, 0.2] },
};

export interface SweepFile {
  /** A name under docs/sim/. */
  name: string;
  text: string;
}

export interface SweepRun {
  label: string;
  config: SimConfig;
  result: SimResult;
}

const pct = (x: number): number => Math.round(x * 1000) / 10;
const sec = (ms: number): number => Math.round(ms / 100) / 10;

/** Runs every run of the plan (telling `onRun` after each) and returns the files. */
export function runSweep(plan: SweepPlan, onRun?: (run: SweepRun) => void): SweepFile[] {
  const run = (label: string, name: ScenarioName, opts: { gateways: number; hours: number; utilisation: number }, over: Partial<SimConfig> = {}): SimResult => {
    const config = { ...scenarioConfig(name, { ...opts, seed: plan.seed }), ...over };
    const result = runSim(config);
    onRun?.({ label, config, result });
    return result;
  };
  const files: SweepFile[] = [];

  const byUtilisation = plan.utilisation.targets.map((u) => run(`utilisation ${u}`, 'churn', { gateways: plan.utilisation.gateways, hours: plan.utilisation.hours, utilisation: u }));
  const uHead = `churn, ${plan.utilisation.gateways} gateways, ${plan.utilisation.hours} h, seed ${plan.seed}`;
  files.push({
    name: 'utilisation.csv',
    text: toCsv(
      ['target_utilisation', 'measured_utilisation', 'placements', 'success', 'ideal_success', 'messages_per_placement', 'imbalance_sampled', 'imbalance_ideal', 'imbalance_ratio', 'heal_median_ms'],
      byUtilisation.map((r) => [r.utilisationTarget, r.utilisation, r.placement.attempts, r.placement.success, r.ideal.success, r.placement.messagesPerPlacement, r.imbalance.sampled, r.imbalance.ideal, r.imbalance.ratio, r.heal.medianMs]),
    ),
  });
  const ux = (f: (r: SimResult) => number): [number, number][] => byUtilisation.map((r) => [pct(r.utilisationTarget), f(r)]);
  files.push({ name: 'utilisation-success.svg', text: linePlot({
    title: `Placement success (${uHead})`, xLabel: 'target utilisation (%)', yLabel: 'slices placed (%)', yInclude: [100],
    series: [{ name: 'sampled (d = 2)', points: ux((r) => pct(r.placement.success)) }, { name: 'ideal central', points: ux((r) => pct(r.ideal.success)) }],
  }) });
  files.push({ name: 'utilisation-imbalance.svg', text: linePlot({
    title: `Imbalance, max/mean load (${uHead})`, xLabel: 'target utilisation (%)', yLabel: 'max / mean dominant share', yInclude: [1],
    series: [
      { name: 'sampled (d = 2)', points: ux((r) => r.imbalance.sampled) },
      { name: 'ideal central', points: ux((r) => r.imbalance.ideal) },
      { name: 'ratio', points: ux((r) => r.imbalance.ratio) },
    ],
  }) });
  files.push({ name: 'utilisation-messages.svg', text: linePlot({
    title: `Messages per placement (${uHead})`, xLabel: 'target utilisation (%)', yLabel: 'reserve + commit + release calls', yInclude: [0],
    series: [{ name: 'per placement', points: ux((r) => r.placement.messagesPerPlacement) }],
  }) });

  const bySize = plan.sizes.gateways.map((n) => run(`size ${n}`, 'churn', { gateways: n, hours: plan.sizes.hours, utilisation: plan.sizes.utilisation }));
  const sHead = `churn, ${pct(plan.sizes.utilisation)}% utilisation, ${plan.sizes.hours} h`;
  files.push({
    name: 'size.csv',
    text: toCsv(
      ['gateways', 'placements', 'success', 'messages_per_placement', 'imbalance_ratio', 'detection_median_ms', 'seen_median_ms', 'heal_median_ms', 'heal_p95_ms', 'messages_per_heal'],
      bySize.map((r) => [r.gateways, r.placement.attempts, r.placement.success, r.placement.messagesPerPlacement, r.imbalance.ratio, r.failures.detectionMedianMs, r.failures.seenMedianMs, r.heal.medianMs, r.heal.p95Ms, r.heal.messagesPerHeal]),
    ),
  });
  const sx = (f: (r: SimResult) => number): [number, number][] => bySize.map((r) => [r.gateways, f(r)]);
  files.push({ name: 'size-messages.svg', text: linePlot({
    title: `Messages per placement and per heal (${sHead})`, xLabel: 'gateways (log scale)', yLabel: 'calls', xLog: true, yInclude: [0],
    series: [{ name: 'per placement', points: sx((r) => r.placement.messagesPerPlacement) }, { name: 'per healed sliver', points: sx((r) => r.heal.messagesPerHeal) }],
  }) });
  files.push({ name: 'size-heal.svg', text: linePlot({
    title: `Failure detection and heal time (${sHead})`, xLabel: 'gateways (log scale)', yLabel: 'seconds after the failure', xLog: true, yInclude: [0],
    series: [
      { name: 'declared dead, median', points: sx((r) => sec(r.failures.detectionMedianMs)) },
      { name: 'seen by the median agent', points: sx((r) => sec(r.failures.seenMedianMs)) },
      { name: 'heal median', points: sx((r) => sec(r.heal.medianMs)) },
      { name: 'heal p95', points: sx((r) => sec(r.heal.p95Ms)) },
    ],
  }) });

  const b = plan.belowN;
  const below = run('below N', 'churn', { gateways: b.gateways, hours: b.hours, utilisation: b.utilisation }, { sampleEveryMs: b.sampleEveryMs });
  files.push({
    name: 'below-n.csv',
    text: toCsv(['hour', 'gateways_up', 'slices', 'slices_below_n'], below.samples.map((s) => [s.hour, s.up, s.slices, s.belowN])),
  });
  files.push({ name: 'below-n.svg', text: linePlot({
    title: `Slices below their N (churn, ${b.gateways} gateways, ${pct(b.utilisation)}%, a sample a minute)`, xLabel: 'simulated hour', yLabel: 'slices', yInclude: [0],
    series: [{ name: 'below N', points: below.samples.map((s) => [s.hour, s.belowN]) }],
  }) });

  const p = plan.partition;
  const parts = p.utilisations.map((u) => run(`partition ${u}`, 'partition', { gateways: p.gateways, hours: p.hours, utilisation: u }));
  const columns = ['hour', ...parts.flatMap((r) => [`below_n_${pct(r.utilisationTarget)}`, `above_n_${pct(r.utilisationTarget)}`])];
  const rows: Cell[][] = (parts[0]?.samples ?? []).map((s, i) => [s.hour, ...parts.flatMap((r) => [r.samples[i]?.belowN ?? Number.NaN, r.samples[i]?.aboveN ?? Number.NaN])]);
  files.push({ name: 'partition.csv', text: toCsv(columns, rows) });
  files.push({
    name: 'partition-summary.csv',
    text: toCsv(
      ['utilisation', 'side_0', 'side_1', 'split_slices', 'healed_on_side_0', 'healed_on_side_1', 'placement_success', 'merged', 'extras_removed', 'exact_n_median_ms', 'exact_n_max_ms', 'not_exact_at_end', 'disagreeing_at_end'],
      parts.map((r) => {
        const q = r.partition;
        return q === null ? [r.utilisationTarget] : [r.utilisationTarget, q.sides[0], q.sides[1], q.splitSlices, q.healedOnSide[0], q.healedOnSide[1], r.placement.success, q.merged, q.extrasRemoved, q.exactMedianMs, q.exactMaxMs, q.notExactAtEnd, q.disagreeingAtEnd];
      }),
    ),
  });
  const first = parts[0]?.partition;
  const window = first === null || first === undefined ? null : { from: first.fromHour - 0.05, to: first.untilHour + 0.1 };
  const minutes = (r: SimResult, f: (s: SimResult['samples'][number]) => number): [number, number][] => r.samples
    .filter((s) => window === null || (s.hour >= window.from && s.hour <= window.to))
    .map((s) => [Math.round((s.hour - (r.partition?.fromHour ?? 0)) * 600) / 10, f(s)]);
  files.push({ name: 'partition.svg', text: linePlot({
    title: `Partition: ${p.gateways} gateways split in two for ${first === null || first === undefined ? '?' : Math.round((first.untilHour - first.fromHour) * 60)} min`,
    xLabel: 'minutes after the split', yLabel: 'slices', yInclude: [0],
    series: parts.flatMap((r) => [
      { name: `below N, ${pct(r.utilisationTarget)}%`, points: minutes(r, (s) => s.belowN) },
      { name: `above N, ${pct(r.utilisationTarget)}%`, points: minutes(r, (s) => s.aboveN) },
    ]),
  }) });

  const l = plan.loss;
  const byLoss = l.losses.map((loss) => {
    const base = scenarioConfig('steady', { gateways: l.gateways, hours: l.hours, seed: plan.seed, utilisation: l.utilisation });
    return run(`loss ${loss}`, 'steady', { gateways: l.gateways, hours: l.hours, utilisation: l.utilisation }, { link: { ...base.link, loss } });
  });
  files.push({
    name: 'suspicions.csv',
    text: toCsv(
      ['loss', 'false_suspicions', 'per_member_hour', 'refute_median_ms', 'refute_p95_ms', 'false_deaths', 'slivers_healed'],
      byLoss.map((r, i) => [l.losses[i] as number, r.suspicions.falseSuspicions, r.suspicions.perMemberHour, r.suspicions.refuteMedianMs, r.suspicions.refuteP95Ms, r.suspicions.falseDeaths, r.heal.slivers]),
    ),
  });
  files.push({ name: 'suspicions.svg', text: linePlot({
    title: `False suspicions of live members (${l.gateways} gateways, no churn)`, xLabel: 'link loss (%)', yLabel: 'per member per hour', yInclude: [0],
    series: [{ name: 'false suspicions', points: byLoss.map((r, i) => [pct(l.losses[i] as number), r.suspicions.perMemberHour]) }],
  }) });
  return files;
}
