// `hearth demo`, the main job: a whole community on this machine. It brings
// up a testbed (5 gateways, wifi links), makes a user key of its own,
// builds the apps' images (shared by every gateway of the machine), deploys
// the apps as that user, waits until their services are announced, bridges
// each gateway's API (127.0.0.1:7470 inside its namespace) to
// 127.0.0.1:748N on the host, prints where things are and what to try, and
// stays up until Ctrl-C or SIGTERM. Then, or after a failure at any step, it
// removes everything it made. Progress goes to stderr with the seconds
// since the start; the addresses and the directory go to stdout.
// Must never: take down, reuse or overwrite what it did not make: a testbed
// already in its dir, another testbed's names, the user's own key.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { delay } from '../kit/delay.js';
import { recipeSize, validateRecipe, type AppRecipe } from '../model/app.js';
import { HearthError } from '../model/errors.js';
import { SLICE_KINDS, type SliceView } from '../model/slice.js';
import { loadConfig } from '../agent/config.js';
import { createImageStore } from '../virt/images.js';
import type { DirectoryEntry } from '../cloud/services.js';
import { testbedUp } from '../testbed/controller.js';
import { testbedDown } from '../testbed/controller-down.js';
import type { GatewayHandle } from '../testbed/gateway-process.js';
import { enterArgs, runIp } from '../testbed/netns.js';
import { DEFAULT_TESTBED_DIR } from '../testbed/defaults.js';
import { readTestbedState, type TestbedState } from '../testbed/state.js';
import { createApiClient, type ApiClient } from './client.js';
import { bridgePort, demoResources, missingServices, parseAppList, pickUnderlay } from './demo-plan.js';
import { printTable } from './output.js';
import { signWithKeyFile } from './slice.js';
import { keygen } from './user.js';

export interface DemoInit {
  gateways: number;
  link: string;
  /** A comma-separated list of shipped recipes, or false for none. */
  apps: string | false;
  dir: string;
}

/** Each app's services must be announced within this; past it the demo says what is missing and stays up. */
const READY_TIMEOUT_MS = 5 * 60_000;
/** Each app spreads over this many gateways (the shipped recipes' own size). */
const APP_GATEWAYS = 3;
const API_PORT_IN_GATEWAY = 7470;
const KEY_FILE = 'demo-user_ed25519';

type Say = (line: string) => void;

/** The demo's elapsed-time progress printer, on stderr. */
function sayer(started: number): Say {
  return (line) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
}

/**
 * The first Ctrl-C (or SIGTERM) aborts the step under way, or ends the
 * wait once the demo is up, and the demo removes what it made; a second
 * one exits at once, leaving the rest to `hearth testbed down`.
 */
function interruptible(say: Say, downHint: string): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const second = (name: NodeJS.Signals): void => {
    process.stderr.write(`${name} again: exiting now; remove what is left with "${downHint}"\n`);
    process.exit(130);
  };
  const first = (name: NodeJS.Signals): void => {
    say(`${name}: removing everything the demo made (a second ${name === 'SIGINT' ? 'Ctrl-C' : name} exits at once)`);
    controller.abort(new HearthError('internal', `interrupted by ${name}`));
    process.once('SIGINT', second);
    process.once('SIGTERM', second);
  };
  process.once('SIGINT', first);
  process.once('SIGTERM', first);
  return {
    signal: controller.signal,
    done: () => {
      for (const f of [first, second]) {
        process.off('SIGINT', f);
        process.off('SIGTERM', f);
      }
    },
  };
}

/** The root namespace's IPv4 addresses and routes, as CIDRs: what the testbed's underlay must not overlap. */
async function takenSubnets(): Promise<string[]> {
  const addrs = JSON.parse((await runIp(['-j', '-4', 'addr', 'show'])) || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[];
  const routes = JSON.parse((await runIp(['-j', '-4', 'route', 'show', 'table', 'all'])) || '[]') as { dst: string }[];
  return [...addrs.flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`)), ...routes.map((r) => r.dst)];
}

/** The link emulator's usual UDP port when it is free, else one the kernel picks. */
async function freeUdpPort(): Promise<number> {
  const tryBind = (port: number): Promise<number | undefined> => new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(undefined));
    socket.bind(port, '0.0.0.0', () => {
      const bound = socket.address().port;
      socket.close(() => resolve(bound));
    });
  });
  return (await tryBind(4789)) ?? (await tryBind(0)) ?? 4789;
}

// Runs in a gateway's namespace: the unix socket (a file, so the host sees
// it) piped to the API on the namespace's loopback. It exits when its stdin
// closes, so it never outlives the demo, even one killed with SIGKILL.
const FORWARDER = `
const net = require('node:net');
const [socket, port] = [process.argv[1], Number(process.argv[2])];
require('node:fs').rmSync(socket, { force: true });
net.createServer((c) => {
  const api = net.connect(port, '127.0.0.1');
  c.on('error', () => api.destroy());
  api.on('error', () => c.destroy());
  c.pipe(api).pipe(c);
}).listen(socket, () => process.stdout.write('listening\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

export interface Bridge {
  gateway: string;
  url: string;
  tokenFile: string;
  close(): Promise<void>;
}

/** 127.0.0.1:(7480+N) on the host → a unix socket in the demo dir → the forwarder in gateway N's namespace → its API. */
export async function openBridge(m: TestbedState['members'][number], dir: string, signal: AbortSignal): Promise<Bridge> {
  const socket = join(dir, `api-${m.name}.sock`);
  const [command, ...args] = [...enterArgs(m.namespace), process.execPath, '-e', FORWARDER, socket, String(API_PORT_IN_GATEWAY)];
  const child: ChildProcess = spawn(command as string, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let server: Server | undefined;
  // A browser keeps its connections (keep-alive, the live stream) open as long as it likes: closing ends them.
  const connections = new Set<Socket>();
  const close = async (): Promise<void> => {
    child.stdin?.end();
    child.kill('SIGTERM');
    for (const c of connections) c.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server?.close(() => resolve()));
    rmSync(socket, { force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e) => reject(new HearthError('internal', `${m.name}: cannot start the API forwarder: ${e.message}`)));
      child.once('exit', (code) => reject(new HearthError('internal', `${m.name}: the API forwarder exited (${String(code)}) before listening`)));
      child.stdout?.once('data', () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    const port = bridgePort(m.gateway);
    server = createServer((c) => {
      connections.add(c);
      c.once('close', () => connections.delete(c));
      const inner = createConnection(socket);
      c.on('error', () => inner.destroy());
      inner.on('error', () => c.destroy());
      c.pipe(inner).pipe(c);
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', (e: NodeJS.ErrnoException) => reject(new HearthError('name_taken',
        e.code === 'EADDRINUSE' ? `127.0.0.1:${port} is in use on this machine (another demo?); ${m.name}'s API cannot be bridged there` : `${m.name}: cannot listen on 127.0.0.1:${port}: ${e.message}`)));
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    return { gateway: m.name, url: `http://127.0.0.1:${port}`, tokenFile: join(m.dataDir, 'owner.token'), close };
  } catch (error) {
    server = undefined;
    await close();
    throw error;
  }
}

/**
 * Builds (or finds) the image in this process: the gateways' namespaces do
 * not reach Debian's mirror, and the images dir is the machine's, shared by
 * every gateway. Each new stage of the build is shown.
 */
async function buildImage(m: GatewayHandle, packages: readonly string[], say: Say, signal: AbortSignal): Promise<void> {
  const config = await loadConfig(m.dataDir);
  const images = createImageStore({ idmap: config.lxc.idmap, dir: config.lxc.imagesDir });
  let last = '';
  const building = images.ensure('debian', {
    packages,
    onProgress: (p) => {
      if (p.message !== last) say(`  ${p.message}`);
      last = p.message;
    },
  });
  await Promise.race([building, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
}

/** Signs the app's slice as the demo's user, with the demo's sizes (see demoResources), and has gw1 place it. */
async function deployApp(api: ApiClient, keyFile: string, recipe: AppRecipe, signal: AbortSignal): Promise<SliceView> {
  const spec = { name: recipe.name, slivers: Math.max(recipeSize(recipe), APP_GATEWAYS), app: recipe, sshKeys: [], resources: demoResources(recipe) };
  const document = await signWithKeyFile(keyFile, SLICE_KINDS.create, spec);
  return api.request<SliceView>('POST', '/api/v1/slices', { document }, { signal });
}

/**
 * Polls gw1 until every app's slivers have their services in its directory,
 * printing each app's sliver states as they change; past the timeout it
 * says what is missing and returns (the demo stays up).
 */
async function waitForServices(api: ApiClient, apps: SliceView[], say: Say, signal: AbortSignal): Promise<boolean> {
  const started = performance.now();
  const last = new Map<string, string>();
  const pending = new Map(apps.map((a) => [a.name, a]));
  let missing = new Map<string, string[]>();
  while (pending.size > 0) {
    const directory = (await api.request<{ items: DirectoryEntry[] }>('GET', '/api/v1/services', undefined, { signal })).items;
    missing = new Map();
    for (const app of [...pending.values()]) {
      const view = await api.request<SliceView>('GET', `/api/v1/slices/${encodeURIComponent(app.name)}?user=${encodeURIComponent(app.user)}`, undefined, { signal });
      const lacking = missingServices(view, directory);
      const line = `${view.slivers.map((s) => `${s.name ?? s.index}@${s.gateway ?? '?'} ${s.observed}`).join(', ')}; services ${lacking.length === 0 ? 'all' : `missing ${lacking.length}`}`;
      if (last.get(app.name) !== line) say(`  ${app.name}: ${line}`);
      last.set(app.name, line);
      if (lacking.length === 0) {
        say(`${app.name} is ready: its ${view.slivers.length} slivers run and announce their services`);
        pending.delete(app.name);
      } else {
        missing.set(app.name, lacking);
      }
    }
    if (pending.size === 0) break;
    if (performance.now() - started > READY_TIMEOUT_MS) {
      for (const [name, lacking] of missing) say(`${name} is NOT ready after ${READY_TIMEOUT_MS / 60_000} min: gw1 does not list ${lacking.join(', ')}`);
      say('the demo stays up; look with "hearth testbed exec gw1 -- hearth app show NAME --key KEY" (the commands below)');
      return false;
    }
    await delay(1000, { signal });
  }
  return true;
}

/** A real request through a bridge, as a user's curl would make it. */
async function checkBridge(bridge: Bridge, signal: AbortSignal): Promise<number> {
  const token = (await readFile(bridge.tokenFile, 'utf8')).trim();
  const res = await fetch(`${bridge.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok) throw new HearthError('internal', `GET ${bridge.url}/api/v1/nodes through the bridge answered ${res.status}`);
  const body = (await res.json()) as { items: { status: string }[] };
  return body.items.filter((n) => n.status === 'alive').length;
}

interface ReadyReport {
  seconds: number;
  bridges: Bridge[];
  directory: DirectoryEntry[];
  apps: string[];
  keyFile: string;
  /** False when some app's services were still missing at the timeout. */
  ready: boolean;
}

function printReady(init: DemoInit, { seconds, bridges, directory, apps: names, keyFile, ready }: ReadyReport): void {
  const dirFlag = init.dir === DEFAULT_TESTBED_DIR ? '' : ` --dir ${init.dir}`;
  const apps = names.length === 0 ? 'no apps' : `apps ${names.join(', ')}`;
  // The gateway the hints name, among those there are.
  const gw = (n: number): string => `gw${Math.min(n, bridges.length)}`;
  console.log(`\nhearth demo ${ready ? 'ready' : 'up (not every service is announced)'} in ${seconds.toFixed(1)} s: ${bridges.length} gateways on ${init.link} links, ${apps}\n`);
  console.log("each gateway's API, bridged to this machine (the owner token is in the file named):");
  for (const b of bridges) console.log(`  ${b.gateway.padEnd(5)} ${b.url}  token: ${b.tokenFile}`);
  console.log("  the portal is at each address too: open it in a browser and sign in with that gateway's token");
  if (directory.length > 0) {
    console.log('\nservices, as gw1 sees them (addresses on the community network, reachable from the gateways):');
    printTable(['TYPE', 'NAME', 'SLICE', 'GATEWAY', 'ADDRESS'], directory.map((e) => [e.type, e.name, e.slice, e.gateway, e.address]));
  }
  const first = bridges[0];
  const edge = directory.find((e) => e.type === 'hls' && e.name === 'edge');
  console.log('\ntry, in another terminal:');
  console.log(`  hearth testbed exec ${gw(3)}${dirFlag} -- hearth services --near`);
  const shown = names.includes('video') ? 'video' : names[0];
  if (shown !== undefined) console.log(`  hearth testbed exec ${gw(2)}${dirFlag} -- hearth app show ${shown} --key ${keyFile}`);
  if (edge !== undefined) console.log(`  hearth testbed exec ${gw(4)}${dirFlag} -- curl -s http://${edge.address}/hls/live.m3u8`);
  // The same stream from this machine, off the community network: relayed by gw1 (GET /api/v1/services/…/stream/…, no token).
  if (edge !== undefined && first !== undefined) console.log(`  curl -s ${first.url}/api/v1/services/${edge.gateway}/${edge.sliver}/${edge.name}/stream/hls/live.m3u8`);
  if (first !== undefined) console.log(`  curl -H "Authorization: Bearer $(cat ${first.tokenFile})" ${first.url}/api/v1/services`);
  const crash = names.length === 0 ? 'the others see it failed (hearth nodes)' : "its apps' slivers are placed again on the others (hearth app show)";
  console.log(`  hearth testbed kill ${gw(2)}${dirFlag}      # a crash: ${crash}`);
  console.log(`  hearth testbed restart ${gw(2)}${dirFlag}`);
  console.log('Ctrl-C removes everything the demo made.');
}

/** Runs the demo until Ctrl-C; removes what it made on the way out, failure or not. */
export async function runDemo(init: DemoInit): Promise<void> {
  const started = performance.now();
  const say = sayer(started);
  const downHint = `hearth testbed down${init.dir === DEFAULT_TESTBED_DIR ? '' : ` --dir ${init.dir}`}`;
  const appNames = init.apps === false ? [] : parseAppList(init.apps);
  if (appNames.length > 0 && init.gateways < APP_GATEWAYS) {
    throw new HearthError('invalid_request', `each app spreads over ${APP_GATEWAYS} gateways: use --gateways ${APP_GATEWAYS} or more, or --no-apps`);
  }
  // Never the user's own testbed, running or stopped: testbedUp would tear a stopped one down.
  const existing = readTestbedState(init.dir);
  if (existing !== undefined) {
    throw new HearthError('name_taken', `a testbed of ${existing.gateways} gateways is already in ${init.dir}; the demo does not touch it: ` +
      `take it down with "${downHint}", or run the demo elsewhere with --dir`);
  }

  const { signal, done } = interruptible(say, downHint);
  try {
    const underlay = pickUnderlay(await takenSubnets());
    const port = await freeUdpPort();
    say(`bringing up ${init.gateways} gateways (${init.link} links) in ${init.dir}: underlay ${underlay.network}/${underlay.prefixLength}, link emulator on UDP ${port}`);
    const { state } = await testbedUp({ gateways: init.gateways, link: init.link, dir: init.dir, underlay, port, signal, progress: (l) => say(`  ${l}`) });
    const bridges: Bridge[] = [];
    const keyFile = join(init.dir, KEY_FILE);
    try {
      say('bridging each gateway\'s API to 127.0.0.1 on this machine');
      for (const m of state.members) bridges.push(await openBridge(m, init.dir, signal));
      const gw1 = bridges[0] as Bridge;
      say(`checked through ${gw1.url}: gw1 sees ${await checkBridge(gw1, signal)} gateways alive`);
      const api = createApiClient({ baseUrl: gw1.url, token: (await readFile(gw1.tokenFile, 'utf8')).trim() });
      const member1 = state.members[0] as GatewayHandle;

      let ready = true;
      if (appNames.length > 0) {
        const user = await keygen(keyFile, 'hearth demo user', true);
        say(`made a user key for the demo: ${user.file} (${user.id})`);
        const recipes: AppRecipe[] = [];
        for (const name of appNames) recipes.push(validateRecipe(await api.request<unknown>('GET', `/api/v1/apps/${encodeURIComponent(name)}`, undefined, { signal })));
        // One image with every app's packages serves them all (a sliver takes a ready image that has its packages):
        // one build instead of one an app.
        const packages = [...new Set(recipes.flatMap((r) => r.packages))].sort();
        say(`the apps' image: debian + ${packages.join(', ')} (built once for every gateway; minutes the first time)`);
        await buildImage(member1, packages, say, signal);
        const apps: SliceView[] = [];
        for (const recipe of recipes) {
          const view = await deployApp(api, keyFile, recipe, signal);
          say(`deployed ${recipe.name} as ${user.id.slice(0, 20)}…: slice ${view.name}, ${view.spec.slivers} slivers on ${[...new Set(view.slivers.map((s) => s.gateway ?? '?'))].join(', ')}`);
          apps.push(view);
        }
        say('waiting until every sliver runs and its services are announced');
        ready = await waitForServices(api, apps, say, signal);
      }
      const { items: directory } = await api.request<{ items: DirectoryEntry[] }>('GET', '/api/v1/services', undefined, { signal });
      printReady(init, { seconds: (performance.now() - started) / 1000, bridges, directory, apps: appNames, keyFile, ready });
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } catch (error) {
      if (!signal.aborted) say(`failed: ${error instanceof Error ? error.message : String(error)}; removing what the demo made`);
      throw error;
    } finally {
      for (const b of bridges) await b.close();
      if (bridges.length > 0) say(`closed ${bridges.length} API bridges`);
      for (const f of [keyFile, `${keyFile}.pub`]) rmSync(f, { force: true });
      const result = await testbedDown({ dir: init.dir, progress: (l) => say(`  ${l}`) });
      say(`removed the testbed in ${result.dir}: ${result.slivers} slivers, the agents and the link emulator, ${result.namespaces.length} namespaces, ${result.links.length} links, the data dirs${appNames.length > 0 ? " and the demo's user key" : ''}`);
      for (const p of result.problems) say(`NOT removed: ${p}`);
      if (result.problems.length > 0) {
        say(`finish with "${downHint}"`);
        process.exitCode = 1;
      }
    }
  } catch (error) {
    // Interrupted: the removal above was the point, not a failure.
    if (!signal.aborted) throw error;
  } finally {
    done();
  }
}
