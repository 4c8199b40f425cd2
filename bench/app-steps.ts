// What the app benches (bench/apps.ts, bench/app-figures.ts) do with the
// shipped apps on a testbed, through gw1's CLI as a user would: say which
// cached image each app's deploy will use and how long it took to build,
// and remove an app and wait until no gateway holds a sliver of it.
// Must never: build an image (a testbed's gateways do not reach Debian's
// mirror, and the image store is the machine's, shared).

import { readFileSync } from 'node:fs';
import { normalizePackages } from '../src/model/image.js';
import { runHearth, type GatewayHandle } from '../src/testbed/gateway-process.js';
import type { ImageInfo } from '../src/virt/images.js';
import { sec, sliversLeft, until } from './lib.js';

/** Per app, one line: the cached image its deploy uses (the base and its packages, the fewest packages of those with them all) and its first build time. */
export async function appImageLines(gateway: GatewayHandle, apps: readonly string[]): Promise<string[]> {
  const cached = JSON.parse(await runHearth(gateway, ['image', 'ls', '--json'])) as ImageInfo[];
  return apps.map((app) => {
    const packages = (JSON.parse(readFileSync(new URL(`../../apps/${app}.json`, import.meta.url), 'utf8')) as { packages: string[] }).packages;
    const want = normalizePackages(packages);
    const image = cached.filter((i) => i.template === 'debian' && i.state === 'ready' && want.every((p) => i.packages.includes(p)))
      .sort((x, y) => x.packages.length - y.packages.length)[0];
    return image === undefined ? `${app}: NO cached image (the first deploy builds it)` : `${app}: image ${image.name} cached, first built in ${sec(image.buildMs)} (${image.builtAt ?? '?'})`;
  });
}

/** `hearth app rm SLICE` on `gateway`, then waits until no member's database has a sliver of it: the milliseconds that took, undefined past `timeoutMs`. */
export async function removeApp(gateway: GatewayHandle, members: readonly { dataDir: string }[], slice: string, key: string, timeoutMs = 180_000): Promise<number | undefined> {
  const rmAt = Date.now();
  await runHearth(gateway, ['app', 'rm', slice, '--key', key, '--json']);
  const gone = await until(timeoutMs, 500, () => (sliversLeft(members, slice) === 0 ? Date.now() : undefined));
  return gone === undefined ? undefined : gone - rmAt;
}
