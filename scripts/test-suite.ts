// `npm test`'s runner: sweeps what an earlier, killed run may have left,
// runs every test with Node's test runner with all scratch files below one
// root (TMPDIR), and sweeps again, so a run neither inherits nor leaves
// anything, whatever happened in it. The runner's own output and exit code
// are passed through unchanged. It lives outside test/ because Node's runner
// runs every file below a directory named test.

import { spawn } from 'node:child_process';
import { readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { TEST_ROOT, sweepTestLeftovers, type SweepReport } from '../test/support/sweep.js';

// The sweep removes every test namespace on the machine, so two runs at
// once would remove each other's: one run at a time.
const LOCK = '/run/hearth-test-suite.pid';
// The longest file takes about 10 minutes on a fresh machine (it builds its images first).
const FILE_TIMEOUT_MS = 25 * 60_000;

function lockHolder(): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(LOCK, 'utf8').trim());
  } catch {
    return undefined;
  }
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function say(when: string, report: SweepReport): void {
  const found = Object.entries(report).filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
  if (found.length > 0) console.log(`# sweep ${when}: removed ${found.join(', ')} left by a test run`);
}

const holder = lockHolder();
if (holder !== undefined && holder !== process.pid) {
  console.error(`another test run (pid ${holder}) is in progress on this machine; wait for it, or stop it`);
  process.exit(1);
}
writeFileSync(LOCK, `${process.pid}\n`);
try {
  say('before the run', await sweepTestLeftovers());
  // Unprivileged containers live below: every level must be traversable by their mapped root.
  mkdirSync(TEST_ROOT, { recursive: true, mode: 0o755 });
  // A file that hangs (a story waiting on something that never comes, or a
  // child process keeping it alive) fails after FILE_TIMEOUT_MS with its name
  // in the report, instead of holding up the run until CI gives up on it.
  const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=1', `--test-timeout=${FILE_TIMEOUT_MS}`, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TMPDIR: TEST_ROOT },
  });
  const stop = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.exitCode = await new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
  say('after the run', await sweepTestLeftovers());
} finally {
  rmSync(LOCK, { force: true });
}
