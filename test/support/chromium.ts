// Debian's chromium as the browser tests and benches drive it through
// playwright-core: headless, without the sandbox (they run as root), and
// without the background traffic (updates, sync, QUIC) that would leave
// the machine, which a test must never do. Closing is bounded: a browser
// whose renderer died can leave close() waiting for ever, and the test
// file's process with it.

import { spawnSync } from 'node:child_process';
import { within } from './until.js';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Says on stderr when `page`'s renderer crashes, so that a test that then fails on it says why. */
export function reportPageDeath(page: { on(event: 'crash', listener: () => void): unknown }, what: string): void {
  page.on('crash', () => process.stderr.write(`chromium: the renderer of ${what} crashed\n`));
}

/**
 * Closes a browser or a context; if it has not closed within `ms`, says so
 * on stderr and kills the chromium this process launched. Resolves true
 * when it closed, false when it had to be killed (launch a new one then).
 */
export async function closeOrKill(target: { close(): Promise<void> } | undefined, what: string, ms = 30_000): Promise<boolean> {
  if (target === undefined) return true;
  try {
    await within(target.close(), ms);
    return true;
  } catch (err) {
    process.stderr.write(`chromium: ${what} did not close (${String(err)}); killing the chromium of process ${process.pid}\n`);
    spawnSync('pkill', ['-KILL', '-P', String(process.pid), '-x', 'chromium']);
    return false;
  }
}
