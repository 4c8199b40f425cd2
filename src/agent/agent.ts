// The composition root: wires store, driver, network, reconciler and API for
// one gateway, starts them in order and stops them in reverse. Nothing else
// builds these parts together.
// Must never: hold policy of its own; it only connects the parts.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { canSignal } from '../kit/pid.js';
import { HearthError } from '../model/errors.js';
import type { ObservedState, TemplateName } from '../model/sliver.js';
import { readInventory } from '../host/inventory.js';
import { usageOf } from '../host/contribution.js';
import { openDb, type Db } from '../store/db.js';
import { createStore, type Store } from '../store/store.js';
import { createLxcDriver } from '../virt/lxc.js';
import { createImageStore } from '../virt/images.js';
import type { Driver } from '../virt/driver.js';
import { createSliverNetwork } from '../net/sliver-net.js';
import type { SliverNetwork } from '../net/types.js';
import { mtuOfAddress } from '../net/mtu.js';
import { parseHostPort } from '../model/host-port.js';
import { buildApi, type Api, type ApiLogger } from '../api/app.js';
import { createMetrics, type SliverTrafficSample } from '../api/metrics.js';
import { createSliverService, wallClockSec } from '../slivers/service.js';
import { createSliceHosting } from '../slivers/hosting.js';
import { installApp, installSshKeys, sliceHostRoutes, startSliceSweeper } from './slice-host.js';
import { watchStalls } from '../kit/stalls.js';
import { createSliceNet, ensureTunnelKey, sliceNetRoutes, type SliceNet } from './slice-net.js';
import { createSliceService } from './slices.js';
import { createSliceKeeper } from './slice-keeper.js';
import { createHomeRegistrar, sliceHomeRoutes } from './slice-homes.js';
import { loadOwnerPolicy } from './owner-policy.js';
import { loadConfig, dataPaths, openOwnerToken, saveConfig, NO_CONTAINERS_NOTE, type AgentConfig } from './config.js';
import { createNoContainerParts } from './no-containers.js';
import { createShaping, type Shaping } from './shaping.js';
import { createServices } from './services.js';
import { containerName, createReconciler, type Reconciler } from './reconciler.js';
import { PACKAGE_ROOT, VERSION } from './version.js';

/** The portal, as `npm run build` leaves it (vite builds web/ there; dist/web holds what tsc compiles of web/src for the tests). */
const WEB_ROOT = join(PACKAGE_ROOT, 'dist', 'portal');
import { loadRecipes } from './recipes.js';
import { createSamples } from './samples.js';
import { createCommunity, type Community } from './community.js';
import { crashPointFromEnv } from './crash-points.js';
import { loadOrCreateIdentity } from '../overlay/identity.js';

export interface AgentInit {
  dataDir: string;
  /** Handed to every part as their Logger, and to the API, which needs the whole of it. */
  log: ApiLogger;
  /** Overrides for tests: a driver or network other than the real ones. */
  driver?: Driver;
  net?: SliverNetwork;
  reconcileIntervalMs?: number;
  /** From how many ms on a peer call or request is logged as slow (HEARTH_SLOW_PEER_MS); 1 s unless given. */
  slowPeerMs?: number;
}

export interface Agent {
  readonly config: AgentConfig;
  readonly api: Api;
  readonly store: Store;
  readonly reconciler: Reconciler;
  readonly community: Community;
  /** The address the API listens on, once started. */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Refuse a data dir another live agent holds; a crashed agent's stale pid file is taken over. */
async function takeLock(file: string): Promise<void> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && canSignal(pid)) {
    throw new HearthError('invalid_state', `another agent (pid ${pid}) is running on this data dir`);
  }
  await writeFile(file, `${process.pid}\n`);
}

export async function createAgent(init: AgentInit): Promise<Agent> {
  const { log } = init;
  const paths = dataPaths(init.dataDir);
  const config = await loadConfig(init.dataDir);
  const ownerToken = await openOwnerToken(init.dataDir);
  await takeLock(paths.lock);
  const identity = await loadOrCreateIdentity(paths.identity, { commonName: config.name });
  const tunnelKeyFile = join(paths.identity, 'tunnel.key');

  const db: Db = openDb(paths.db);
  const store = createStore({ db, now: () => new Date().toISOString() });
  // One store for the driver and the API, so `hearth image ls` sees this gateway's builds under way.
  const images = createImageStore({
    idmap: config.lxc.idmap, log: log.child({ part: 'images' }),
    dir: config.lxc.imagesDir,
  });
  // Without containers (virt.driver none) nothing runs and nothing is made in the kernel: no
  // bridge, firewall, slice networks or shaper; admission, leases, placement and healing stay real.
  const containers = config.virt.driver === 'lxc';
  const simulated = containers ? undefined : createNoContainerParts(config.network);
  const driver = init.driver ?? simulated?.driver ?? createLxcDriver({ lxcPath: paths.containers, idmap: config.lxc.idmap, log, images });
  // The id marks the firewall tables as this gateway's; setup refuses another gateway's.
  const net = init.net ?? simulated?.net ?? createSliverNetwork({ ...config.network, gatewayId: identity.id, log: log.child({ part: 'net' }) });
  const sliceNetOn = config.sliceNet.enabled && containers;
  // debian's image is built on first use (minutes, once per machine), or ahead with `hearth image build debian`.
  const templates: TemplateName[] = init.driver === undefined ? ['busybox', 'debian'] : ['busybox'];
  const crashPoint = crashPointFromEnv();

  const metrics = createMetrics({
    sliversByState: () => {
      const counts: Partial<Record<ObservedState, number>> = {};
      for (const s of store.listSlivers()) counts[s.observed] = (counts[s.observed] ?? 0) + 1;
      return counts;
    },
    contribution: () => config.contribution,
    usage: () => usageOf(store.listSlivers().map((s) => s.spec.resources)),
    community: () => communityRef.current?.status() ?? null,
    sliverTraffic: () => metricsTraffic.current?.() ?? Promise.resolve([]),
  });
  // The shaper, made below, counts the slivers' traffic.
  const metricsTraffic: { current?: () => Promise<SliverTrafficSample[]> } = {};
  // The firewall cuts revoked members' gossip; the community, made below, says whose.
  const communityRef: { current?: Community } = {};
  const sliceNetRef: { current?: SliceNet } = {};
  const shapingRef: { current?: Shaping } = {};
  const reconciler = createReconciler({
    store, driver, net, subnet: config.network.subnet, log: log.child({ part: 'reconciler' }),
    monotonic: () => performance.now(),
    onError: (step) => metrics.countReconcileError(step),
    // A started sliver joins its slice network, and its shaper class, now rather than at the next round.
    onStarted: () => {
      void sliceNetRef.current?.tick();
      void shapingRef.current?.tick();
    },
    ...(crashPoint === undefined ? {} : { crashPoint }),
    blockedPeers: () => communityRef.current?.blockedPeers() ?? [],
    ...(init.reconcileIntervalMs === undefined ? {} : { intervalMs: init.reconcileIntervalMs }),
  });
  const slivers = createSliverService({
    store, driver, containerName, templates,
    contribution: () => config.contribution,
    kick: () => void reconciler.kick(),
  });
  const policy = await loadOwnerPolicy(paths.dir, (p) => log.info({ mode: p.mode, users: p.users }, 'owner policy changed'));
  const hosting = createSliceHosting({
    store, templates, nowSec: wallClockSec, contribution: () => config.contribution, policy: () => policy.get(), kick: () => void reconciler.kick(),
  });
  const services = createServices({
    self: config.name, store, log: log.child({ part: 'services' }),
    community: () => community,
  });
  const community = createCommunity({
    dataDir: paths.dir, config, identity, store, log: log.child({ part: 'community' }), version: VERSION,
    ...(init.slowPeerMs === undefined ? {} : { slowPeerMs: init.slowPeerMs }),
    resources: () => ({ contributed: config.contribution, free: slivers.free() }),
    mode: () => policy.get().mode,
    zone: () => policy.get().zone,
    access: () => ({ quota: policy.get().users.quota, allowlist: policy.get().users.allow !== null }),
    onBlockedChange: () => {
      void reconciler.kick();
      // A revoked gateway leaves every slice network at once, not at the next round.
      void sliceNetRef.current?.tick();
    },
    routes: [
      ...sliceHostRoutes({
        hosting, store, nowSec: wallClockSec, register: (user, name) => homes.register(user, name), ...(crashPoint === undefined ? {} : { crashPoint }),
      }),
      ...sliceHomeRoutes({ community: { view: () => community.view() }, nowMs: () => performance.now() }),
      ...(sliceNetOn ? sliceNetRoutes({ keyFile: tunnelKeyFile, port: config.sliceNet.port }) : []),
      services.route,
    ],
  });
  communityRef.current = community;
  const homes = createHomeRegistrar({ hosting, community, log: log.child({ part: 'slice-homes' }), nowSec: wallClockSec });
  const slices = createSliceService({
    community, log: log.child({ part: 'slices' }), ...(crashPoint === undefined ? {} : { crashPoint }),
  });
  const keeper = createSliceKeeper({
    self: config.name, hosting, community, heal: (document, target) => slices.heal(document, target),
    installKeys: (sliver, keys) => installSshKeys(slivers, store, sliver, keys),
    installApp: (sliver, app, size) => installApp(slivers, store, log.child({ part: 'apps' }), sliver, app, size),
    log: log.child({ part: 'slices' }), nowSec: wallClockSec, coHolders: () => homes.coHolders(),
  });
  const sliceNet = sliceNetOn
    ? createSliceNet({
      self: config.name, selfId: identity.id, keyFile: tunnelKeyFile, port: config.sliceNet.port, hosting, community,
      netnsOf: (s) => driver.netns(containerName(s.id)),
      underlayMtu: () => mtuOfAddress(parseHostPort(config.community.bind)?.host ?? ''),
      writeHosts: async (s, content) => {
        const r = await slivers.exec(s.id, { command: ['/bin/sh', '-c', 'cat > /etc/hosts'], stdin: content, timeoutSec: 20 });
        if (r.exitCode !== 0) throw new Error(`writing /etc/hosts exited ${r.exitCode}`);
      },
      log: log.child({ part: 'slice-net' }), nowSec: wallClockSec,
    })
    : undefined;
  if (sliceNet !== undefined) sliceNetRef.current = sliceNet;
  const shaping = containers
    ? createShaping({
      selfId: identity.id, slivers: () => store.listSlivers(), bandwidth: () => config.contribution, nowSec: wallClockSec,
      log: log.child({ part: 'shaper' }), ...(sliceNetOn ? { hosting } : {}),
    })
    : undefined;
  if (shaping !== undefined) shapingRef.current = shaping;
  metricsTraffic.current = async () => {
    if (shaping === undefined) return [];
    const traffic = await shaping.traffic();
    return store.listSlivers().flatMap((s) => {
      const t = traffic.get(s.id);
      return t === undefined ? [] : [{ sliver: s.spec.name, traffic: t }];
    });
  };
  let sweeper: { stop(): void } | undefined;
  let stalls: { stop(): void } | undefined;
  const apps = await loadRecipes(join(PACKAGE_ROOT, 'apps'), log.child({ part: 'apps' }));
  const samples = createSamples({
    inventory: () => readInventory(paths.dir),
    reserved: () => slivers.usage(),
    running: () => store.listSlivers().filter((s) => s.observed === 'running').length,
    log: log.child({ part: 'samples' }),
  });
  const api = await buildApi({
    apps,
    slivers, store, metrics, ownerToken, log, community, slices, services, traffic: async (id) => (await shaping?.traffic())?.get(id),
    ...(init.driver === undefined && containers ? { images } : {}),
    metricsPublic: config.api.metricsPublic,
    ...(existsSync(WEB_ROOT) ? { webRoot: WEB_ROOT } : {}),
    node: {
      name: config.name, id: identity.id, version: VERSION,
      virt: { driver: config.virt.driver, note: containers ? null : NO_CONTAINERS_NOTE },
      inventory: () => readInventory(paths.dir),
      samples: () => samples.list(),
      contribution: () => config.contribution,
      policy,
      setBandwidth: async (b) => {
        const { upMbit: _up, downMbit: _down, ...rest } = config.contribution;
        await saveConfig(paths.dir, { ...config, contribution: { ...rest, ...b } });
        config.contribution = { ...rest, ...b };
        void shaping?.tick();
      },
      community: () => {
        const s = community.status();
        return s === null ? null : { name: s.name, state: s.state, reason: s.reason, warning: s.warning };
      },
    },
  });

  let url = '';
  return {
    config, api, store, reconciler, community,
    get url() {
      return url;
    },
    async start() {
      if (!containers) log.warn({ virt: config.virt.driver }, NO_CONTAINERS_NOTE);
      await net.setup();
      // The first pass repairs whatever a crash left before the API takes requests.
      await reconciler.pass();
      reconciler.start();
      sweeper = startSliceSweeper({ hosting, log: log.child({ part: 'slices' }) });
      url = await api.listen({ host: config.api.host, port: config.api.port });
      if (sliceNetOn) await ensureTunnelKey(tunnelKeyFile);
      await community.start();
      keeper.start();
      homes.start();
      services.start();
      sliceNet?.start();
      shaping?.start();
      void shaping?.tick();
      samples.start();
      stalls = watchStalls(log);
      log.info({ url, name: config.name, dataDir: paths.dir, virt: config.virt.driver }, 'agent started');
    },
    async stop() {
      stalls?.stop();
      // Leave the community first, gracefully, so the others see 'left' and not 'failed'.
      await keeper.stop();
      await homes.stop();
      await services.stop();
      await sliceNet?.stop();
      await shaping?.stop();
      await samples.stop();
      await community.stop();
      sweeper?.stop();
      await api.close();
      await reconciler.stop();
      db.close();
      await rm(paths.lock, { force: true });
      log.info('agent stopped');
    },
  };
}
