// Fault injection for the crash tests: HEARTH_CRASH_POINT=<point> makes the
// agent kill itself with SIGKILL the first time the reconciler (or the slice
// service, as an entry gateway) reaches that point, exactly as a power cut or
// OOM kill there would. Unset (always, in production), it costs one
// comparison per step.

import type { CrashPoint } from './reconciler.js';

/**
 * Where a gateway may die while a slice is placed: as the entry, with every
 * sliver leased on its host and none committed (`slice:reserved`); as a host,
 * with the lease written and the answer not yet sent (`slice:leased`), or
 * asked to commit its lease and not yet committed (`slice:committing`).
 */
export type SliceCrashPoint = 'slice:reserved' | 'slice:leased' | 'slice:committing';

export function crashPointFromEnv(env: NodeJS.ProcessEnv = process.env): ((point: CrashPoint | SliceCrashPoint) => void) | undefined {
  const wanted = env['HEARTH_CRASH_POINT'];
  if (wanted === undefined || wanted === '') return undefined;
  return (point) => {
    if (point === wanted) process.kill(process.pid, 'SIGKILL');
  };
}
