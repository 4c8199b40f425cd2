// How the CLI shows things to a person: aligned tables and progress while a
// sliver moves toward the state it was asked for.

import type { Sliver } from '../api/schemas.js';
import { delay } from '../kit/delay.js';
import type { ApiClient } from './client.js';
import { ApiProblem } from './client.js';

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

/**
 * Poll until the sliver reaches `target` (or failed), printing each state
 * change to stderr, and, while it is being made, each new line `detail`
 * gives (an image build under way), polled once a second.
 */
export async function waitForSliver(
  api: ApiClient, start: Sliver, target: string, progress: boolean, timeoutMs = 900_000, detail?: () => Promise<string | null>,
): Promise<Sliver> {
  let view = start;
  let last = '';
  let lastDetail: string | null = null;
  let detailAt = 0;
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  const stamp = (): string => `[${((Date.now() - started) / 1000).toFixed(1)} s]`;
  for (;;) {
    if (progress && view.observed !== last) {
      process.stderr.write(`  ${view.name}: ${view.observed}${view.reason === null ? '' : ` (${view.reason})`}  ${stamp()}\n`);
      last = view.observed;
    }
    if (progress && detail !== undefined && (view.observed === 'requested' || view.observed === 'creating') && Date.now() - detailAt >= 1000) {
      detailAt = Date.now();
      const line = await detail().catch(() => null);
      if (line !== null && line !== lastDetail) process.stderr.write(`    ${line}  ${stamp()}\n`);
      lastDetail = line;
    }
    if (view.observed === target || view.observed === 'failed') return view;
    if (Date.now() > deadline) throw new Error(`${view.name} did not become ${target} within ${timeoutMs / 1000} s (now ${view.observed})`);
    await delay(150);
    try {
      view = await api.request<Sliver>('GET', `/api/v1/slivers/${encodeURIComponent(view.id)}`);
    } catch (err) {
      if (target === 'gone' && err instanceof ApiProblem && err.problem.code === 'sliver_not_found') {
        return { ...view, observed: 'gone' };
      }
      throw err;
    }
  }
}
