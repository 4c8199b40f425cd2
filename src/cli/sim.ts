// `hearth sim`: runs the simulator (src/sim) and prints its figures. The
// simulator is pure; this shell owns the wall clock (reported on stderr, so
// --json output stays the same for the same seed) and the progress lines.

import { Option, type Command } from 'commander';
import { runSim, type PartitionResult, type SimResult } from '../sim/run.js';
import { isScenario, scenarioConfig, SCENARIOS } from '../sim/scenario.js';
import { BENCH_MACHINES, type BenchMachine } from '../sim/machine.js';
import { PROFILE_CONFIGS, type GossipProfile } from '../sim/memberlist.js';
import { printTable } from './output.js';

const positive = (label: string, integer: boolean) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${label} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
  return n;
};

const seconds = (ms: number): string => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);
const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

function printResult(r: SimResult): void {
  printTable(['figure', 'value'], [
    ['scenario', `${r.scenario}, ${r.gateways} gateways, ${r.hours} h, seed ${r.seed}, gossip profile ${r.profile}`],
    ['utilisation (target, measured)', `${percent(r.utilisationTarget)}, ${percent(r.utilisation)}`],
    ['placement success (ideal)', `${percent(r.placement.success)} of ${r.placement.attempts} (${percent(r.ideal.success)})`],
    ['messages per placement', r.placement.messagesPerPlacement.toFixed(2)],
    ['imbalance max/mean (ideal, ratio)', `${r.imbalance.sampled.toFixed(3)} (${r.imbalance.ideal.toFixed(3)}, ${r.imbalance.ratio.toFixed(3)})`],
    ['failures (declared dead)', `${r.failures.count} (${r.failures.declared})`],
    ['detection median, p95', `${seconds(r.failures.detectionMedianMs)}, ${seconds(r.failures.detectionP95Ms)}`],
    ['failure seen by the median agent, median', seconds(r.failures.seenMedianMs)],
    ['a failure seen: from the first agent to the median one, to the last, medians', `${seconds(r.propagation.deathSeen.toMedian.medianMs)}, ${seconds(r.propagation.deathSeen.toLast.medianMs)}`],
    ['slivers healed', String(r.heal.healed)],
    ['heal time median, p95', `${seconds(r.heal.medianMs)}, ${seconds(r.heal.p95Ms)}`],
    ['messages per healed sliver', r.heal.messagesPerHeal.toFixed(2)],
    ['slices below N (max over samples)', String(r.samples.reduce((m, s) => Math.max(m, s.belowN), 0))],
    ['false suspicions (per member-hour), refuted median', `${r.suspicions.falseSuspicions} (${r.suspicions.perMemberHour}), ${seconds(r.suspicions.refuteMedianMs)}`],
    ['declared dead though alive', String(r.suspicions.falseDeaths)],
    ['full view after a join (tags to all), median, p95', `${seconds(r.propagation.toAll.medianMs)}, ${seconds(r.propagation.toAll.p95Ms)}`],
    ['a changed list pulled by all, median, p95', `${seconds(r.propagation.directory.medianMs)}, ${seconds(r.propagation.directory.p95Ms)}`],
    ...(r.propagation.directoryPulls === undefined ? [] : [["one machine: that list's last pull started, its slowest pull, medians; the cores' mean busy share meanwhile",
      `${seconds(r.propagation.directoryPulls.lastStarted.medianMs)}, ${seconds(r.propagation.directoryPulls.slowest.medianMs)}; ${percent(r.propagation.directoryPulls.meanBusy.median)}`]]),
    [r.machine === undefined ? 'a changed list pulled by one member, median, p95' : "one machine: a drain's healed record pulled by the other holder, median, p95",
      `${seconds(r.propagation.toOne.medianMs)}, ${seconds(r.propagation.toOne.p95Ms)}`],
    ...(r.propagation.toOneAfterFailure === undefined ? [] : [["one machine: a failure's healed record pulled by the other holder, median, p95",
      `${seconds(r.propagation.toOneAfterFailure.medianMs)}, ${seconds(r.propagation.toOneAfterFailure.p95Ms)}`]]),
    ...(r.propagation.healerAfterFailure === undefined ? [] : [["one machine: that heal, from the healer seeing the failure to its new host's answer, median, p95",
      `${seconds(r.propagation.healerAfterFailure.medianMs)}, ${seconds(r.propagation.healerAfterFailure.p95Ms)}`]]),
    ...(r.propagation.failureBurst === undefined ? [] : [["one machine: the failure's own burst, the cores 90% busy from the first agent seeing it, median, p95",
      `${seconds(r.propagation.failureBurst.medianMs)}, ${seconds(r.propagation.failureBurst.p95Ms)}`]]),
    ...(r.propagation.failureMeanBusy === undefined ? [] : [["one machine: the cores' mean busy share over the 4 s from the first agent seeing the failure, median, p95",
      `${percent(r.propagation.failureMeanBusy.median)}, ${percent(r.propagation.failureMeanBusy.p95)}`]]),
    ...(r.propagation.failureAlone === undefined ? [] : [["one machine: a failure alone (nothing to heal): its share that make the cores 90% busy; then how long, median, p95",
      `${Math.round(r.propagation.failureAlone.busyShare * 100)}%${r.propagation.failureAlone.burst === null ? '' : `; ${seconds(r.propagation.failureAlone.burst.medianMs)}, ${seconds(r.propagation.failureAlone.burst.p95Ms)}`}`],
    ["one machine: a failure alone, the cores' mean busy share over its 4 s, median, p95", `${percent(r.propagation.failureAlone.meanBusy.median)}, ${percent(r.propagation.failureAlone.meanBusy.p95)}`]]),
    ['a rumor missed by some member (learnt at a push-pull)', `${(r.propagation.missChance * 100).toPrecision(2)}%`],
    ["a member's push-pull after the last join of a burst, median, p95", `${seconds(r.propagation.afterJoins.medianMs)}, ${seconds(r.propagation.afterJoins.p95Ms)}`],
    [`a member the gossip missed learns a join (${(r.missedJoin.joinsPerSecond).toPrecision(2)} a second) from another's push-pull after it: chance; when, median, p95`,
      `${Math.round(r.missedJoin.caughtUpChance * 100)}%; ${seconds(r.missedJoin.learnt.medianMs)}, ${seconds(r.missedJoin.learnt.p95Ms)}`],
    ...(r.machine === undefined ? [] : [['one machine', `${r.machine.cpu}: the community takes ${r.machine.settledCores} of its ${r.machine.cores} cores as a failure finds it, ${r.machine.quietCores} quiet`]]),
    ...(r.partition === null ? [] : partitionRows(r.partition)),
  ]);
}

function partitionRows(p: PartitionResult): string[][] {
  return [
    ['partition', `hours ${p.fromHour}–${p.untilHour}, sides of ${p.sides[0]} and ${p.sides[1]} gateways`],
    ['slices on both sides', String(p.splitSlices)],
    ['slivers healed on side 0, side 1', `${p.healedOnSide[0]}, ${p.healedOnSide[1]}`],
    ['after the heal: slices merged, extras removed', `${p.merged}, ${p.extrasRemoved}`],
    ['heal to exactly N, median and max', `${seconds(p.exactMedianMs)}, ${seconds(p.exactMaxMs)}`],
    ['at the end: slices not at N, placements disagreeing', `${p.notExactAtEnd}, ${p.disagreeingAtEnd}`],
  ];
}

export function registerSimCommand(program: Command): void {
  program.command('sim [scenario]')
    .description(`simulate a community with the real placement and healing cores (scenarios: ${SCENARIOS.join(', ')})`)
    .option('-n, --gateways <n>', 'how many gateways', positive('--gateways', true), 1000)
    .option('--hours <h>', 'simulated hours', positive('--hours', false), 24)
    .option('--seed <s>', 'seed: the same seed gives the same figures', positive('--seed', true), 1)
    .option('--utilisation <u>', 'share of live production cpu the workload asks for (0..1; default 0.7)', positive('--utilisation', false))
    .addOption(new Option('--profile <profile>', "Serf's timing profile the gateways gossip with").choices(Object.keys(PROFILE_CONFIGS)).default('lan'))
    .addOption(new Option('--one-machine <cpu>', 'model every gateway on one machine, as bench/scale.ts runs them, with the costs measured there (off: separate boxes)').choices(Object.keys(BENCH_MACHINES)))
    .option('--json', 'print the figures (and the samples over time) as JSON')
    .action((scenario: string | undefined, o: { gateways: number; hours: number; seed: number; utilisation?: number; profile: GossipProfile; json?: boolean; oneMachine?: BenchMachine }) => {
      const name = scenario ?? 'churn';
      if (!isScenario(name)) throw new Error(`unknown scenario ${JSON.stringify(name)}; one of ${SCENARIOS.join(', ')}`);
      if (o.utilisation !== undefined && o.utilisation > 1) throw new Error('--utilisation must be at most 1');
      const machine = o.oneMachine === undefined ? undefined : BENCH_MACHINES[o.oneMachine];
      const config = scenarioConfig(name, {
        gateways: o.gateways, hours: o.hours, seed: o.seed, profile: o.profile,
        ...(o.utilisation === undefined ? {} : { utilisation: o.utilisation }), ...(machine === undefined ? {} : { machine }),
      });
      const started = process.hrtime.bigint();
      const wall = (): string => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;
      const result = runSim(config, (p) => {
        process.stderr.write(`sim: hour ${p.hour}/${p.hours}, ${p.up} gateways up, ${p.slices} slices, ${p.placements} placements, ${p.heals} heals (${wall()} wall)\n`);
      });
      process.stderr.write(`sim: done in ${wall()} wall\n`);
      if (o.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else printResult(result);
    });
}
