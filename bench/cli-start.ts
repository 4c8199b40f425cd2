// How long a `hearth` command takes before it does anything: a few verbs
// that need no agent (`--version`, `--help`, `slice create --help`), each
// run --runs times, interleaved with the raw reference, a bare `node -e 0`
// (what any Node program costs to start on this machine). Wall time and the
// CPU the process used (user + system, from its shell's cutime and cstime),
// median of the runs, and the ratio to the raw reference.
//   node dist/bench/cli-start.js [--runs 15] [--cli dist/src/cli/main.js] [--json]
// --cli points at another build's main.js, to compare two commits.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { shellQuote } from '../src/virt/attach.js';
import { machineLine, median } from './lib.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    cli: { type: 'string', default: fileURLToPath(new URL('../src/cli/main.js', import.meta.url)) },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive integer');

const CASES: { name: string; argv: string[] }[] = [
  { name: 'node -e 0 (raw)', argv: [process.execPath, '-e', '0'] },
  { name: 'hearth --version', argv: [process.execPath, values.cli, '--version'] },
  { name: 'hearth --help', argv: [process.execPath, values.cli, '--help'] },
  { name: 'hearth slice create --help', argv: [process.execPath, values.cli, 'slice', 'create', '--help'] },
];

/** One run: wall ms, and the CPU ms of the command, which its shell has waited for (cutime + cstime, fields 16-17). */
async function once(argv: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const t = performance.now();
  const { stdout } = await run('sh', ['-c', `${argv.map(shellQuote).join(' ')} >/dev/null; cat /proc/$$/stat`]);
  const wallMs = performance.now() - t;
  const fields = (stdout.split(') ')[1] ?? '').split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  return { wallMs, cpuMs: ticks * 10 };
}

const results = new Map(CASES.map((c) => [c.name, [] as { wallMs: number; cpuMs: number }[]]));
for (let i = 0; i < RUNS; i++) {
  for (const c of CASES) results.get(c.name)?.push(await once(c.argv));
}
const raw = results.get(CASES[0]?.name as string) ?? [];
const rawWall = median(raw.map((r) => r.wallMs));
const rawCpu = median(raw.map((r) => r.cpuMs));
const rows = CASES.map((c) => {
  const rs = results.get(c.name) ?? [];
  const wallMs = median(rs.map((r) => r.wallMs));
  const cpuMs = median(rs.map((r) => r.cpuMs));
  return { command: c.name, wallMs: Math.round(wallMs), cpuMs: Math.round(cpuMs), wallRatio: Number((wallMs / rawWall).toFixed(2)), cpuRatio: Number((cpuMs / rawCpu).toFixed(2)) };
});
const machine = await machineLine();
if (values.json) process.stdout.write(`${JSON.stringify({ machine, runs: RUNS, cli: values.cli, rows }, null, 2)}\n`);
else {
  console.log(`${machine}; ${RUNS} runs each, medians; ${values.cli}`);
  console.log('| command | wall (ms) | CPU (ms) | wall / raw | CPU / raw |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.command} | ${r.wallMs} | ${r.cpuMs} | ${r.wallRatio} | ${r.cpuRatio} |`);
}
