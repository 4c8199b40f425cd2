// Forms the testbed's community with the real CLI run inside each gateway's
// namespace (create on gw1, one invite, joins from the others), and watches
// until every gateway's own membership view shows every gateway alive.
// Must never: reach a gateway's API from outside its namespace, or decide
// membership itself: what counts is what each gateway's `hearth nodes` says.

import { delay } from '../kit/delay.js';
import { HearthError } from '../model/errors.js';
import type { GatewayHandle } from './gateway-process.js';
import { runHearth } from './gateway-process.js';
import { mapBounded } from './map-bounded.js';

export interface MemberView {
  name: string;
  id: string;
  status: 'alive' | 'failed' | 'left' | 'leaving' | 'unknown';
  serfAddr?: string;
  peerAddr?: string;
  contributed?: Record<string, number>;
  free?: Record<string, number>;
  rttMs?: number | null;
  self?: boolean;
  revoked?: boolean;
}

export interface NodesView {
  self: string;
  community: string | null;
  items: MemberView[];
}

export interface CommunityStepInit {
  signal?: AbortSignal;
  /** One line per event worth telling a person who waits. */
  progress?: (line: string) => void;
  /** How many `hearth` commands run at once (default 4). */
  concurrency?: number;
}

/** What `hearth nodes --json` run on the gateway says. */
export async function readNodes(gateway: GatewayHandle, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<NodesView> {
  const out = await runHearth(gateway, ['nodes', '--json'], options);
  try {
    return JSON.parse(out) as NodesView;
  } catch (error) {
    throw new HearthError('internal', `${gateway.name}: hearth nodes --json printed no JSON: ${out.slice(0, 200)}`, {}, { cause: error });
  }
}

export function aliveCount(view: NodesView): number {
  return view.items.filter((m) => m.status === 'alive').length;
}

/** Creates community `name` on the first gateway and has every other gateway join it with one invite. */
export async function formCommunity(gateways: readonly GatewayHandle[], name: string, init: CommunityStepInit = {}): Promise<void> {
  const { signal, progress = () => undefined } = init;
  const options = signal ? { signal } : {};
  const [first, ...rest] = gateways;
  if (first === undefined) return;
  await runHearth(first, ['community', 'create', name], options);
  progress(`${first.name} created community "${name}"`);
  if (rest.length === 0) return;
  const invite = JSON.parse(await runHearth(first, ['community', 'invite', '--json'], options)) as { token?: unknown };
  if (typeof invite.token !== 'string') throw new HearthError('internal', `${first.name}: hearth community invite --json printed no token`);
  const token = invite.token;
  let joined = 0;
  await mapBounded(rest, init.concurrency ?? 4, async (gateway) => {
    await runHearth(gateway, ['community', 'join', token], options);
    joined++;
    progress(`${gateway.name} joined (${joined}/${rest.length})`);
  });
}

/**
 * Polls every gateway's `hearth nodes --json` until each one has seen all
 * `expected` gateways alive, telling how far each has got.
 */
export async function waitForFullView(
  gateways: readonly GatewayHandle[],
  expected: number,
  init: CommunityStepInit & { timeoutMs?: number } = {},
): Promise<void> {
  const { signal, progress = () => undefined } = init;
  const options = signal ? { signal } : {};
  const deadline = performance.now() + (init.timeoutMs ?? 60_000 + 3_000 * expected);
  const seen = new Map<string, number>();
  let waiting = [...gateways];
  for (;;) {
    const counts = await mapBounded(waiting, init.concurrency ?? 4, async (gateway) => {
      try {
        return aliveCount(await readNodes(gateway, options));
      } catch (error) {
        if (signal?.aborted) throw error;
        return -1; // busy or restarting: asked again next round
      }
    });
    waiting.forEach((gateway, i) => {
      const count = counts[i] as number;
      if (count >= 0 && count !== seen.get(gateway.name)) progress(`${gateway.name} sees ${count}/${expected} alive`);
      seen.set(gateway.name, count);
    });
    waiting = waiting.filter((gateway) => (seen.get(gateway.name) ?? 0) < expected);
    if (waiting.length === 0) return;
    if (performance.now() > deadline) {
      const behind = waiting.map((g) => `${g.name} sees ${Math.max(0, seen.get(g.name) ?? 0)}`).join(', ');
      throw new HearthError('overlay_unavailable', `not every gateway saw all ${expected} alive in time: ${behind}`);
    }
    await delay(500, options);
  }
}
