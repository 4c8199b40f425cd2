// This gateway's part of the community's service directory. Every second it
// checks the services its running slivers declare (each at its own interval,
// with its own timeout, a hung check never holding up the others), announces
// the healthy ones by gossiping their digest, and pulls the lists of
// members whose digest changed (cloud/anti-entropy.ts decides whom, when).
// The decisions are the cores' (model/service.ts for health,
// cloud/services.ts for the directory); this shell probes and calls.
// Must never: announce a service whose last checks failed, or list a member
// that is not alive.

import { connect } from 'node:net';
import { request } from 'node:http';
import { createRounds } from '../kit/rounds.js';
import type { Logger } from '../model/logger.js';
import { UNCHECKED, stepHealth, type HealthState, type ServiceCheck } from '../model/service.js';
import { EMPTY_ANTI_ENTROPY, PULL_TIMEOUT_MS, stepAntiEntropy, type AntiEntropyInput, type AntiEntropyState, type PeerDigest } from '../cloud/anti-entropy.js';
import {
  SERVICES_DIGEST, SERVICES_PATH, listDirectory, readAnnouncements, servicesDigest,
  type Announcement, type DirectoryEntry, type DirectoryQuery,
} from '../cloud/services.js';
import { nodeRows, peerAddress, type ViewState } from '../overlay/view.js';
import type { PeerCaller } from '../peer/caller.js';
import type { PeerRoute } from '../peer/router.js';
import type { ServiceRecord, Store, StoredSliver } from '../store/store.js';
import type { ServiceStatus } from '../api/routes/services.js';

export interface ServicesInit {
  self: string;
  store: Store;
  /** Read when needed: the community is made after this part, whose peer route it serves. */
  community: () => ServicesCommunity;
  log: Logger;
  /** How a check reaches a sliver's port; real sockets unless a test says otherwise. */
  probe?: (address: string, port: number, check: Exclude<ServiceCheck, { kind: 'none' }>) => Promise<string | null>;
  intervalMs?: number;
}

export interface ServicesCommunity {
  view(): ViewState;
  readonly caller: PeerCaller;
  publishDigest(key: string, digest: string | undefined): void;
  onViewChange(listener: () => void): () => void;
}

export interface Services {
  readonly route: PeerRoute;
  /** The community's directory as this gateway sees it; outside a community, its own services. */
  directory(query?: DirectoryQuery): DirectoryEntry[];
  /** A sliver's declared services with their health. */
  statusOf(sliverId: string): ServiceStatus[];
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Connects to the port (tcp) or asks the path for a 2xx/3xx (http) within the timeout: null when healthy, else why not. */
export async function probeService(address: string, port: number, check: Exclude<ServiceCheck, { kind: 'none' }>): Promise<string | null> {
  const timeoutMs = check.timeoutSec * 1000;
  return new Promise((resolve) => {
    let done = false;
    const finish = (reason: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => {
      finish(`no answer within ${check.timeoutSec} s`);
      cleanup();
    }, timeoutMs);
    let cleanup = (): void => undefined;
    if (check.kind === 'tcp') {
      const socket = connect({ host: address, port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => {
        socket.destroy();
        finish(null);
      });
      socket.once('error', (err) => finish(err.message));
      return;
    }
    const req = request({ host: address, port, path: check.path, method: 'GET', agent: false, headers: { 'user-agent': 'hearth-health' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      finish(status >= 200 && status < 400 ? null : `HTTP ${status}`);
    });
    cleanup = () => req.destroy();
    req.once('error', (err) => finish(err.message));
    req.end();
  });
}

const keyOf = (s: Pick<ServiceRecord, 'sliverId' | 'name'>): string => `${s.sliverId}/${s.name}`;
/** Where the service's host port, type or check changed, its health starts again. */
const shapeOf = (s: ServiceRecord): string => JSON.stringify([s.port, s.protocol, s.check]);

export function createServices(init: ServicesInit): Services {
  const { self, store, log } = init;
  const community = (): ServicesCommunity => init.community();
  const probe = init.probe ?? probeService;
  const health = new Map<string, { shape: string; state: HealthState; dueAt: number; checking: boolean }>();
  const pulled = new Map<string, Announcement[]>();
  let entropy: AntiEntropyState = EMPTY_ANTI_ENTROPY;
  let announced: Announcement[] = [];
  let announcedDigest: string | undefined;
  let stopped = false;

  const feed = (input: AntiEntropyInput): ReturnType<typeof stepAntiEntropy>['commands'] => {
    const step = stepAntiEntropy(entropy, input, performance.now());
    entropy = step.state;
    return step.commands;
  };

  /** Running slivers with an address, by id. */
  const isRunning = (s: StoredSliver): boolean => s.observed === 'running' && s.desired === 'running' && s.address !== null;
  const runningSlivers = (): Map<string, StoredSliver> => new Map(store.listSlivers().filter(isRunning).map((s) => [s.id, s]));

  const ownList = (): Announcement[] => {
    const running = runningSlivers();
    return store.listServices().flatMap((s) => {
      const sliver = running.get(s.sliverId);
      if (sliver === undefined || health.get(keyOf(s))?.state.up !== true) return [];
      return [{ name: s.name, type: s.type, protocol: s.protocol, hostPort: s.hostPort, sliver: sliver.spec.name, slice: sliver.spec.slice }];
    });
  };

  const announce = (): void => {
    const list = ownList();
    const digest = servicesDigest(list);
    if (digest === announcedDigest) return;
    const before = new Set(announced.map((a) => `${a.sliver}/${a.name}`));
    const now = new Set(list.map((a) => `${a.sliver}/${a.name}`));
    for (const a of list) if (!before.has(`${a.sliver}/${a.name}`)) log.info({ sliver: a.sliver, service: a.name, hostPort: a.hostPort }, 'service announced');
    for (const a of announced) if (!now.has(`${a.sliver}/${a.name}`)) log.info({ sliver: a.sliver, service: a.name }, 'service withdrawn');
    announced = list;
    announcedDigest = digest;
    try {
      community().publishDigest(SERVICES_DIGEST, digest);
    } catch {
      // Not in a community: the digest is published when it joins (the next round).
    }
  };

  const check = async (s: ServiceRecord, address: string, entry: { state: HealthState; checking: boolean }): Promise<void> => {
    const c = s.check;
    if (c.kind === 'none') return;
    entry.checking = true;
    const reason = await probe(address, s.port, c).catch((err: unknown) => (err as Error).message);
    entry.checking = false;
    const next = stepHealth(entry.state, reason === null ? { ok: true } : { ok: false, reason });
    const changed = next.up !== entry.state.up;
    entry.state = next;
    if (!changed) return;
    store.appendEvent(s.sliverId, next.up ? 'service.up' : 'service.down', { service: s.name, ...(next.reason === null ? {} : { reason: next.reason }) });
    // Announced (or withdrawn) now, not at the next round.
    if (!stopped) announce();
  };

  /** Starts the checks that are due; none waits for another. */
  const checkDue = (now: number): void => {
    const slivers = new Map(store.listSlivers().map((s) => [s.id, s]));
    const declared = store.listServices();
    const keys = new Set(declared.map(keyOf));
    for (const k of health.keys()) if (!keys.has(k)) health.delete(k);
    for (const s of declared) {
      const sliver = slivers.get(s.sliverId);
      let entry = health.get(keyOf(s));
      if (entry === undefined || entry.shape !== shapeOf(s)) {
        entry = { shape: shapeOf(s), state: UNCHECKED, dueAt: now, checking: false };
        health.set(keyOf(s), entry);
      }
      if (sliver === undefined || !isRunning(sliver)) {
        // A stopped sliver's services are down, and are checked afresh when it runs again.
        entry.state = { up: false, failures: 0, reason: `the sliver is ${sliver?.observed ?? 'gone'}` };
        entry.dueAt = now;
        continue;
      }
      if (s.check.kind === 'none') {
        entry.state = { up: true, failures: 0, reason: null };
        continue;
      }
      if (entry.checking || entry.dueAt > now) continue;
      entry.dueAt = now + s.check.intervalSec * 1000;
      void check(s, (sliver.address ?? '').split('/')[0] ?? '', entry);
    }
  };

  /**
   * The members that announce services, with their digests. A member that announces nothing has
   * nothing in our directory, and is left out of the anti-entropy state too: when it announces the
   * same list again, that list is pulled again.
   */
  const announcers = (view: ViewState): PeerDigest[] => [...view.members.values()]
    .filter((m) => m.name !== self && m.tags?.digests[SERVICES_DIGEST] !== undefined)
    .map((m) => ({ member: m.name, digest: m.tags?.digests[SERVICES_DIGEST], reachable: m.status === 'alive' && peerAddress(m) !== null }));
  /** The members' digests as the last round saw them: a pull that ends starts the next one waiting, as a queue would. */
  let lastPeers: PeerDigest[] = [];
  /**
   * Whether the view has a list to pull that the last round did not: a reachable member with a
   * digest it did not see. Anything else (a member failing, leaving, or an unrelated member's tags)
   * waits for the next round; at 100 gateways on one machine every agent's round at a failure
   * took the cores the heal needed.
   */
  const newToPull = (): boolean => {
    let view: ViewState;
    try {
      view = community().view();
    } catch {
      return false;
    }
    const before = new Set(lastPeers.filter((p) => p.reachable).map((p) => `${p.member}\n${p.digest ?? ''}`));
    return announcers(view).some((p) => p.reachable && !before.has(`${p.member}\n${p.digest ?? ''}`));
  };
  const pullNext = (input: AntiEntropyInput): void => {
    feed(input);
    if (stopped) return;
    for (const p of feed({ type: 'tick', mine: undefined, peers: lastPeers, self })) void pullFrom(p.member, p.digest);
  };

  const pullFrom = async (member: string, digest: string): Promise<void> => {
    const started = performance.now();
    const ms = (): number => Math.round(performance.now() - started);
    try {
      const reply = await community().caller.call(member, { method: 'GET', path: SERVICES_PATH }, undefined, { timeoutMs: PULL_TIMEOUT_MS });
      const list = readAnnouncements(reply);
      pulled.set(member, list);
      log.info({ member, services: list.map((a) => `${a.sliver}/${a.name}`), ms: ms() }, 'pulled services');
      pullNext({ type: 'pulled', member, digest });
    } catch (err) {
      log.warn({ member, err: (err as Error).message, ms: ms() }, 'pulling services failed');
      pullNext({ type: 'pull-failed', member, digest });
    }
  };

  const round = async (): Promise<void> => {
    checkDue(performance.now());
    announce();
    let view: ViewState;
    try {
      view = community().view();
    } catch {
      pulled.clear();
      lastPeers = [];
      return; // not in a community now
    }
    const peers = announcers(view);
    const announcing = new Set(peers.map((p) => p.member));
    for (const member of pulled.keys()) if (!announcing.has(member)) pulled.delete(member);
    // Every member's list is its own: there is no "mine" to match.
    // Pulls run on their own (the core keeps one a member under way), so a member that does not
    // answer holds up neither the next round's checks nor the pulls from the others.
    lastPeers = peers;
    const pulls = feed({ type: 'tick', mine: undefined, peers, self });
    for (const p of pulls) void pullFrom(p.member, p.digest);
  };

  const rounds = createRounds({
    round,
    onError: (err) => log.warn({ err: (err as Error).message }, 'a services round failed'),
    intervalMs: init.intervalMs ?? 1000,
    wake: (tick) => community().onViewChange(() => {
      if (newToPull()) tick();
    }),
  });

  return {
    route: {
      method: 'GET',
      path: SERVICES_PATH,
      handler: async () => ({ body: { items: announced } }),
    },
    directory(query = {}) {
      let view: ViewState | undefined;
      try {
        view = community().view();
      } catch {
        view = undefined;
      }
      const rows = view === undefined ? [] : nodeRows(view, self, new Set());
      if (view === undefined || !rows.some((r) => r.self)) {
        // Outside a community (or before our own member appears): our own services, at no address known to others.
        return announced.filter((a) => query.type === undefined || a.type === query.type)
          .map((a) => ({ ...a, gateway: self, address: `:${a.hostPort}`, rttMs: 0 }));
      }
      return listDirectory(announced, pulled, rows, query);
    },
    statusOf(sliverId) {
      return store.listServices(sliverId).map((s) => {
        const state = health.get(keyOf(s))?.state ?? UNCHECKED;
        return { ...s, up: state.up, reason: state.up ? null : state.reason };
      });
    },
    tick: rounds.tick,
    start: rounds.start,
    async stop() {
      stopped = true;
      await rounds.stop();
    },
  };
}
