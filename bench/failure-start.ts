// How a failure's first members learn it, from the Serf lines in the agents'
// logs (docs/sim.md, *A failure starts with two carriers*): the second
// member to learn it and how (its own suspicion timer, or the dead message),
// and how many more learnt it within AT_ONCE_MS of the first, by their own
// timers (the prober's gossip carried the suspicion at once) and by the dead
// message (it carried the death at once). bench/scale.ts records it for both
// of its failures; run alone, it reads the logs a `--keep-logs` run left:
//   node dist/bench/failure-start.js --scale-json RUN.json --dir DIR [--json]
// (DIR holds sc-gwNNN/agent.log; the run's two victims: the healed failure and the failure alone).
// Over several runs it prints the share of failures whose suspicion and death
// went out at once: the one-machine model's TickRace (src/sim/machine.ts).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { logLines, type LogLine } from './lib.js';

/** memberlist's line for a suspicion timer that ran out, and Serf's for a member failure learnt (either way); then the member's name. */
export const DECLARED = 'serf: memberlist: Marking ';
export const FAILURE_LEARNT = 'serf: serf: EventMemberFailed: ';
/** Within this of the first, a member learnt it from a tick that came at once (gossip ticks are 500 ms apart on `wan`). */
export const AT_ONCE_MS = 30;
/** A tick at once reaches gossipNodes (4) members, one of whom may already hold it. */
const AT_ONCE_MEMBERS = 3;

export interface FailureStart {
  /** Members that learnt it, and the first one's time (epoch ms). */
  members: number;
  firstAt: number;
  /** The second member: how long after the first, and by its own timer (the early carrier does). */
  second: { afterMs: number; byTimer: boolean };
  /** Members after the first two that learnt it within AT_ONCE_MS of the first. */
  atOnce: { byTimer: number; byMessage: number };
  /** Whether the prober's gossip carried the suspicion, and the death, at once. */
  suspicionAtOnce: boolean;
  deathAtOnce: boolean;
}

/** From each surviving gateway's log lines (DECLARED and FAILURE_LEARNT among them), after `since` (epoch ms). Null if fewer than two learnt it. */
export function failureStart(logs: readonly (readonly LogLine[])[], victim: string, since: number): FailureStart | null {
  const learnt = logs.flatMap((lines) => {
    const l = lines.find((x) => x.at >= since && (x.msg.startsWith(`${DECLARED}${victim} `) || x.msg.startsWith(`${FAILURE_LEARNT}${victim} `)));
    return l === undefined ? [] : [{ at: l.at, byTimer: l.msg.startsWith(DECLARED) }];
  }).sort((a, b) => a.at - b.at);
  const [first, second] = learnt;
  if (first === undefined || second === undefined) return null;
  const soon = learnt.slice(2).filter((l) => l.at - first.at <= AT_ONCE_MS);
  const atOnce = { byTimer: soon.filter((l) => l.byTimer).length, byMessage: soon.filter((l) => !l.byTimer).length };
  return {
    members: learnt.length, firstAt: first.at, second: { afterMs: second.at - first.at, byTimer: second.byTimer }, atOnce,
    suspicionAtOnce: atOnce.byTimer >= AT_ONCE_MEMBERS, deathAtOnce: atOnce.byMessage >= AT_ONCE_MEMBERS,
  };
}

function main(): void {
  const { values } = parseArgs({ options: { 'scale-json': { type: 'string', multiple: true }, dir: { type: 'string', multiple: true }, json: { type: 'boolean', default: false } } });
  const runs = values['scale-json'] ?? [];
  const dirs = values.dir ?? [];
  if (runs.length === 0 || runs.length !== dirs.length) throw new Error('usage: failure-start --scale-json RUN.json --dir DIR [--scale-json RUN2.json --dir DIR2 …] [--json]');
  const rows = runs.flatMap((path, i) => {
    const run = JSON.parse(readFileSync(path, 'utf8')) as { healing?: { victim?: string }; failureAlone?: { gateway?: string } | null };
    const dir = dirs[i] as string;
    const gateways = readdirSync(dir).filter((d) => /^sc-gw\d+$/.test(d));
    return [run.healing?.victim, run.failureAlone?.gateway].flatMap((victim) => {
      if (victim === undefined) return [];
      const logs = gateways.filter((g) => g !== victim).map((g) => logLines(join(dir, g), [DECLARED, FAILURE_LEARNT]));
      const start = failureStart(logs, victim, 0);
      return start === null ? [] : [{ run: path, victim, ...start }];
    });
  });
  const share = (f: (r: FailureStart) => boolean): number => Number((rows.filter(f).length / Math.max(1, rows.length)).toFixed(2));
  const summary = { failures: rows.length, suspicionAtOnce: share((r) => r.suspicionAtOnce), deathAtOnce: share((r) => r.deathAtOnce) };
  if (values.json) {
    console.log(JSON.stringify({ rows, summary }, null, 2));
    return;
  }
  for (const r of rows) {
    console.log(`${r.run} ${r.victim}: the second ${r.second.afterMs} ms after the first (${r.second.byTimer ? 'its own timer' : 'the dead message'}); `
      + `within ${AT_ONCE_MS} ms ${r.atOnce.byTimer} more by their own timers, ${r.atOnce.byMessage} by the dead message`);
  }
  console.log(`${summary.failures} failures: the suspicion went out at once in a share of ${summary.suspicionAtOnce}, the death in ${summary.deathAtOnce}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
