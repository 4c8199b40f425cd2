// Builds one gateway's API in-process over a temporary database, with the
// in-memory driver and network fakes, for tests of the HTTP surface.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi, type Api } from '../../src/api/app.js';
import { createMetrics } from '../../src/api/metrics.js';
import { createSliverService } from '../../src/slivers/service.js';
import { usageOf, type Contribution } from '../../src/host/contribution.js';
import { openDb } from '../../src/store/db.js';
import { createStore, type Store } from '../../src/store/store.js';
import { createMemoryDriver } from '../../src/virt/memory.js';
import type { Driver } from '../../src/virt/driver.js';
import { containerName, createReconciler, type Reconciler } from '../../src/agent/reconciler.js';
import { silentLogger } from '../../src/model/logger.js';
import { createMemoryNetwork, type MemoryNetwork } from './memory-net.js';
import { createCommunity } from '../../src/agent/community.js';
import { createSliceService } from '../../src/agent/slices.js';
import { createServices } from '../../src/agent/services.js';
import { loadRecipes } from '../../src/agent/recipes.js';
import { PACKAGE_ROOT } from '../../src/agent/version.js';
import { loadOwnerPolicy } from '../../src/agent/owner-policy.js';
import { openOwnerToken, withDefaults } from '../../src/agent/config.js';
import { loadOrCreateIdentity } from '../../src/overlay/identity.js';
import { EMPTY_VIEW } from '../../src/overlay/view.js';
import type { ImagesApi } from '../../src/api/routes/images.js';
import type { TemplateName } from '../../src/model/sliver.js';
import type { ServicesApi } from '../../src/api/routes/services.js';
import type { ProxyLimits } from '../../src/api/service-proxy.js';

export const TOKEN = 'test-owner-token';

export interface ApiHarness {
  api: Api;
  store: Store;
  driver: Driver;
  net: MemoryNetwork;
  reconciler: Reconciler;
  /** The gateway's data dir (its owner.token, its database). */
  dir: string;
  close(): Promise<void>;
  auth: { authorization: string };
}

export interface ApiHarnessOptions {
  /**
   * The slice service sees a community with no member in it (as a gateway
   * alone in its view does): every slice is unknown to it. Otherwise it sees
   * the real community service, never started: not_in_community.
   */
  alone?: boolean;
  /** The image routes' store (absent: no image routes, as with a fake driver). */
  images?: ImagesApi;
  /** Templates the gateway's sliver service offers (default: busybox only). */
  templates?: readonly TemplateName[];
  /** A folder of portal files served at / (absent: none). */
  webRoot?: string;
  /** The directory the routes answer with (absent: the real services part's, with nothing announced). */
  directory?: ServicesApi['directory'];
  /** The stream relay's bounds (absent: the agent's). */
  proxyLimits?: Partial<ProxyLimits>;
}

export async function apiHarness(contribution: Contribution = { cpu: 2, memoryMb: 1024, diskMb: 4096, slivers: 4 }, opts: ApiHarnessOptions = {}): Promise<ApiHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-api-'));
  // The token file the agent's own code reads and a rotation rewrites.
  writeFileSync(join(dir, 'owner.token'), `${TOKEN}\n`, { mode: 0o600 });
  // The owner may change the bandwidth given (PUT /api/v1/node/bandwidth).
  let current = contribution;
  const db = openDb(join(dir, 'hearth.db'));
  const store = createStore({ db, now: () => new Date().toISOString() });
  const driver = createMemoryDriver();
  const net = createMemoryNetwork();
  const log = silentLogger;
  const reconciler = createReconciler({ store, driver, net, subnet: '10.99.0.0/24', log, monotonic: () => performance.now() });
  const metrics = createMetrics({
    sliversByState: () => ({}),
    contribution: () => current,
    usage: () => usageOf(store.listSlivers().map((s) => s.spec.resources)),
  });
  const slivers = createSliverService({
    store, driver, containerName, contribution: () => current, kick: () => undefined, ...(opts.templates === undefined ? {} : { templates: opts.templates }),
  });
  // The real community service, never started: every route reaches it, and
  // whatever needs a running Serf answers not_in_community.
  const identity = await loadOrCreateIdentity(join(dir, 'identity'), { commonName: 'gw-test' });
  const config = withDefaults({
    name: 'gw-test', api: { host: '127.0.0.1', port: 0, metricsPublic: true }, contribution,
    network: { bridge: 'memnet0', subnet: '10.99.0.0/24', table: 'memnet' }, lxc: { idmap: { uid: 100000, gid: 100000, count: 65536 } },
  });
  const community = createCommunity({
    dataDir: dir, config, identity, store, log, version: '0.0.0',
    resources: () => ({ contributed: contribution, free: slivers.free() }),
  });
  // The real slice service over that community: whatever needs the community answers not_in_community.
  const slices = createSliceService({ community: opts.alone === true ? { view: () => EMPTY_VIEW, caller: community.caller } : community, log });
  // The real services part, never started: its directory is this gateway's own announced services (none).
  const real = createServices({ self: 'gw-test', store, log, community: () => community });
  const services: ServicesApi = opts.directory === undefined ? real : { directory: opts.directory, statusOf: (id) => real.statusOf(id) };
  // The recipes this checkout ships.
  const apps = await loadRecipes(join(PACKAGE_ROOT, 'apps'), log);
  const api = await buildApi({
    slivers, store, metrics, ownerToken: await openOwnerToken(dir), metricsPublic: true, community, slices, services, apps,
    ...(opts.images === undefined ? {} : { images: opts.images }),
    ...(opts.webRoot === undefined ? {} : { webRoot: opts.webRoot }),
    ...(opts.proxyLimits === undefined ? {} : { proxyLimits: opts.proxyLimits }),
    node: { name: 'gw-test', id: 'gw-test', version: '0.0.0', virt: { driver: 'none', note: 'the in-memory driver of the API tests' }, contribution: () => current, community: () => null, policy: await loadOwnerPolicy(dir),
      setBandwidth: async ({ upMbit, downMbit }) => {
        const { upMbit: _up, downMbit: _down, ...rest } = current;
        current = { ...rest, ...(upMbit === undefined ? {} : { upMbit }), ...(downMbit === undefined ? {} : { downMbit }) };
      },
      inventory: async () => ({ cpu: 2, memoryMb: 2048, memoryFreeMb: 1024, diskMb: 8192, diskFreeMb: 4096 }),
      samples: () => ({ intervalSec: 10, items: [] }) },
  });
  await api.ready();
  return {
    api, store, driver, net, reconciler, dir,
    auth: { authorization: `Bearer ${TOKEN}` },
    async close() {
      await api.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
