// The decisions of `hearth demo`, apart from its processes: which underlay
// subnet its testbed may take, what each app's slivers ask so that the apps
// fit the testbed's small gateways, which services an app still lacks, and
// the host port that bridges each gateway's API.
// Pure. Must never: do I/O, read the clock, or start anything.

import { HearthError } from '../model/errors.js';
import { recipeResources, roleAt, type AppRecipe } from '../model/app.js';
import type { SliverResources } from '../model/sliver.js';
import type { SliceView } from '../model/slice.js';
import type { Subnet } from '../testbed/addressing.js';

export const DEMO_APPS = ['file-sharing', 'video', 'storage'] as const;

/** Gateway N's API is bridged to 127.0.0.1:(BRIDGE_PORT_BASE + N) on the host. */
export const BRIDGE_PORT_BASE = 7480;

export function bridgePort(gateway: number): number {
  return BRIDGE_PORT_BASE + gateway;
}

/** `file-sharing,video` → the names, each once, in the order given; an empty list is refused. */
export function parseAppList(text: string): string[] {
  const names = [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (names.length === 0) throw new HearthError('invalid_request', '--apps names at least one app (e.g. file-sharing,video,storage), or use --no-apps');
  return names;
}

function toNumber(address: string): number {
  return address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** `10.1.0.0/16` or a bare address (a /32) as [first, last] addresses. */
function rangeOf(cidr: string): [number, number] | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(cidr);
  if (m === null) return undefined;
  const bits = m[2] === undefined ? 32 : Number(m[2]);
  const size = 2 ** (32 - bits);
  const first = Math.floor(toNumber(m[1] as string) / size) * size;
  return [first, first + size - 1];
}

/**
 * The first 172.26.N.0/24 that overlaps none of `taken` (the root
 * namespace's IPv4 addresses and routes, as CIDRs; "default" and other
 * non-CIDR entries are ignored). Tests pick their testbeds' underlays at
 * random in 172.25, 172.28-31; the demo keeps out of their way.
 */
export function pickUnderlay(taken: readonly string[]): Subnet {
  const ranges = taken.map(rangeOf).filter((r): r is [number, number] => r !== undefined);
  for (let n = 0; n < 256; n++) {
    const network = `172.26.${n}.0`;
    const [first, last] = [toNumber(network), toNumber(network) + 255];
    if (!ranges.some(([a, b]) => a <= last && first <= b)) return { network, prefixLength: 24 };
  }
  throw new HearthError('network_error', 'every 172.26.N.0/24 is in use on this machine; the demo has no underlay subnet left');
}

/**
 * What each sliver of an app asks in the demo: a third of a core and at
 * most 1 GB of disk, else what the recipe asks. The testbed's gateways
 * offer 1 core, 1 GB of memory and 4 GB of disk each; with the recipes'
 * own sizes the three apps need 6 cores, more than five gateways have. A
 * gateway holds at most one sliver of each app, so at these sizes any
 * placement of the three fits, without waiting for one app's placement to
 * show in the gossip before the next.
 */
export function demoResources(recipe: AppRecipe): SliverResources {
  const asked = recipeResources(recipe);
  return { ...asked, cpu: Math.min(asked.cpu, 0.33), diskMb: Math.min(asked.diskMb, 1024) };
}

/** The services an app's slice must announce, as `sliver/service`, by each sliver's role. */
export function expectedServices(view: SliceView): string[] {
  const app = view.spec.app;
  if (app === null) return [];
  const out: string[] = [];
  for (let index = 0; index < view.spec.slivers; index++) {
    const role = roleAt(app, view.spec.slivers, index);
    const sliver = view.slivers.find((s) => s.index === index)?.name ?? `${view.name}-${index}`;
    for (const service of role?.services ?? []) out.push(`${sliver}/${service.name}`);
  }
  return out;
}

/** Which of the slice's expected services the directory does not list yet. */
export function missingServices(view: SliceView, directory: readonly { slice: string; sliver: string; name: string }[]): string[] {
  const listed = new Set(directory.filter((e) => e.slice === view.name).map((e) => `${e.sliver}/${e.name}`));
  return expectedServices(view).filter((s) => !listed.has(s));
}
