// What every testbed bench does when it is stopped (Ctrl-C, SIGTERM) or
// crashes: take down the testbed it has up, run the bench's own extra
// cleanup, then exit with the signal's code. Apart from lib.ts, whose
// helpers never act on a testbed.

import { testbedDown } from '../src/testbed/controller-down.js';

export interface Teardown {
  /** The testbed dir now up, or undefined between testbeds. */
  active: string | undefined;
}

export function takeDownOnExit(progress: (line: string) => void, extra: () => Promise<void> = async () => undefined): Teardown {
  const t: Teardown = { active: undefined };
  let stopping = false;
  const bail = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    progress(`${why}: taking the testbed down`);
    void (async () => {
      if (t.active !== undefined) await testbedDown({ dir: t.active, progress }).catch(() => undefined);
      await extra().catch(() => undefined);
      process.exit(code);
    })();
  };
  process.on('SIGINT', () => bail('SIGINT', 130));
  process.on('SIGTERM', () => bail('SIGTERM', 143));
  process.on('uncaughtException', (err) => bail(`crashed: ${err.stack ?? err.message}`, 1));
  return t;
}
