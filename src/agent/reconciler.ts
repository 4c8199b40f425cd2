// The sliver reconciler: drives each sliver's observed state toward its
// desired state in small idempotent steps, persisting the state before and
// after every step, so that a kill -9 anywhere leaves a record the next pass
// can finish from. It also sweeps what a crash may leave behind: containers
// and veths that no record owns, and the firewall, which is re-derived from
// the store on every pass that changes addresses or forwards.
// Must never: run lxc-*, ip or nft itself (virt/ and net/ do), or decide
// admission (the API does, in the same transaction as the insert).

import { HearthError } from '../model/errors.js';
import { nextStep, type ReconcileStep } from '../model/sliver.js';
import type { ContainerState, Driver } from '../virt/driver.js';
import type { BlockedPeer, NetworkPlan, SliverNetwork } from '../net/types.js';
import { allocateAddress } from '../net/pool.js';
import { hostVethName } from '../net/sliver-net.js';
import { sliverMac } from '../net/names.js';
import type { Store, StoredSliver } from '../store/store.js';
import type { Logger } from '../model/logger.js';

export interface ReconcilerInit {
  store: Store;
  driver: Driver;
  net: SliverNetwork;
  subnet: string;
  log: Logger;
  /** Monotonic milliseconds, for retry back-off. */
  monotonic: () => number;
  /** Consecutive failures of one sliver before it is marked failed. */
  maxFailures?: number;
  intervalMs?: number;
  onError?: (step: ReconcileStep['kind']) => void;
  /** A sliver's container has started (new, or again): what plugs into it (slice networks, the shaper) can follow at once. */
  onStarted?: (sliver: StoredSliver) => void;
  /**
   * Fault injection for the crash tests: called at each point where a kill -9
   * would leave the store and the machine apart (see crash-points.ts).
   */
  crashPoint?: (point: CrashPoint) => void;
  /** Revoked gateways whose gossip the firewall drops (from the community). */
  blockedPeers?: () => BlockedPeer[];
}

export type CrashPoint =
  | 'allocate:after' | 'create:before' | 'create:after' | 'start:after'
  | 'destroy:before' | 'destroy:after' | 'forget:after';

export interface Reconciler {
  start(): void;
  stop(): Promise<void>;
  /** Ask for a pass soon; resolves when a pass that began after this call has ended. */
  kick(): Promise<void>;
  /** One full pass (used by start-up and tests). */
  pass(): Promise<void>;
}

export function containerName(sliverId: string): string {
  return `hearth-${sliverId}`;
}

const MAX_STEPS_PER_PASS = 8;
const CONCURRENCY = 4;

export function createReconciler(init: ReconcilerInit): Reconciler {
  const { store, driver, net, log } = init;
  const maxFailures = init.maxFailures ?? 3;
  const intervalMs = init.intervalMs ?? 5000;
  const retryAt = new Map<string, number>();
  let swept = false;
  let running: Promise<void> | undefined;
  let again: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;

  const plan = (): NetworkPlan => {
    // A sliver on its way out loses its rules first, so that once its row is
    // gone nothing of it is left in the firewall either.
    const slivers = store.listSlivers().filter((s) => s.address !== null && s.observed !== 'gone' && s.desired !== 'gone');
    const byId = new Map(slivers.map((s) => [s.id, s]));
    return {
      ports: slivers.map((s) => ({ sliverId: s.id, slice: s.spec.slice, hostVeth: hostVethName(s.id), address: s.address as string })),
      forwards: store.listForwards().flatMap((f) => {
        const s = byId.get(f.sliverId);
        return s === undefined ? [] : [{ proto: f.proto, hostPort: f.hostPort, address: s.address as string, port: f.port }];
      }),
      blocked: init.blockedPeers?.() ?? [],
    };
  };

  let applied: string | undefined;
  let applying: Promise<void> = Promise.resolve();
  /**
   * Re-derive the firewall from the store; skipped when nothing changed since
   * the last apply. Applies run one at a time, each planned when its turn
   * comes, so an older plan never lands after a newer one.
   */
  const applyNetwork = (force = false): Promise<void> => {
    const run = async (): Promise<void> => {
      const next = plan();
      const key = JSON.stringify(next);
      if (!force && key === applied) return;
      applied = undefined;
      await net.apply(next);
      applied = key;
    };
    const turn = applying.then(run, run);
    applying = turn.catch(() => undefined);
    return turn;
  };

  /** Remove what no record owns: containers after a crash mid-delete, veths of dead containers. */
  const sweep = async (): Promise<void> => {
    const slivers = store.listSlivers();
    const known = new Set(slivers.map((s) => containerName(s.id)));
    const containers = await driver.list();
    for (const c of containers) {
      if (!known.has(c.name)) {
        log.warn({ container: c.name }, 'destroying orphan container');
        await driver.destroy(c.name);
      }
    }
    const running = new Set(containers.filter((c) => c.state === 'running').map((c) => c.name));
    const liveVeths = new Set(slivers.filter((s) => running.has(containerName(s.id))).map((s) => hostVethName(s.id)));
    for (const veth of await net.hostVethsOnBridge()) {
      if (!liveVeths.has(veth)) {
        log.warn({ veth }, 'removing orphan veth');
        await net.removeLink(veth);
      }
    }
    await applyNetwork(true);
  };

  const event = (s: StoredSliver, type: string, detail: Record<string, unknown> = {}): void => {
    store.appendEvent(s.id, type, { name: s.spec.name, ...detail });
  };

  /** Run one step; returns false when the sliver needs nothing more now. */
  const step = async (s: StoredSliver, listed: ContainerState | undefined): Promise<boolean> => {
    const name = containerName(s.id);
    const todo = nextStep(s);
    switch (todo.kind) {
      case 'none':
        return false;
      case 'allocate': {
        store.transaction(() => {
          const address = allocateAddress(init.subnet, store.usedAddresses());
          if (address === undefined) throw new HearthError('address_pool_exhausted', `no free address in ${init.subnet}`);
          store.updateSliver(s.id, { address });
        });
        init.crashPoint?.('allocate:after');
        return true;
      }
      case 'create': {
        if (s.observed !== 'creating') store.updateSliver(s.id, { observed: 'creating' });
        init.crashPoint?.('create:before');
        // The firewall must know the address before the sliver starts, not before it exists: both at once.
        await Promise.all([
          applyNetwork(),
          driver.create({
            name,
            template: s.spec.template,
            packages: s.spec.packages,
            limits: { ...s.spec.resources },
            network: {
              bridge: net.bridge,
              hostVeth: hostVethName(s.id),
              address: `${s.address as string}/${net.prefixLength}`,
              gateway: net.gateway,
              mac: sliverMac(s.id),
            },
          }),
        ]);
        init.crashPoint?.('create:after');
        store.updateSliver(s.id, { observed: 'stopped', reason: null });
        event(s, 'sliver.created');
        return true;
      }
      case 'start':
        await applyNetwork();
        await driver.start(name);
        init.crashPoint?.('start:after');
        store.updateSliver(s.id, { observed: 'running', reason: null, failures: 0 });
        event(s, 'sliver.started');
        init.onStarted?.(s);
        return true;
      case 'stop':
        await driver.stop(name);
        store.updateSliver(s.id, { observed: 'stopped', reason: null, failures: 0 });
        event(s, 'sliver.stopped');
        return true;
      case 'check': {
        // The pass's one `list` answers for containers it saw; anything else is asked for alone.
        const actual = listed ?? (await driver.state(name));
        if (actual === 'absent' || actual === 'incomplete') {
          store.updateSliver(s.id, { observed: 'creating', reason: `container was ${actual}; recreating` });
          event(s, 'sliver.lost', { actual });
          return true;
        }
        if (actual !== s.observed) {
          store.updateSliver(s.id, { observed: actual });
          event(s, actual === 'stopped' ? 'sliver.exited' : 'sliver.found-running');
          return true;
        }
        return false;
      }
      case 'destroy': {
        if (s.observed !== 'destroying') store.updateSliver(s.id, { observed: 'destroying' });
        await applyNetwork();
        init.crashPoint?.('destroy:before');
        await driver.destroy(name);
        init.crashPoint?.('destroy:after');
        store.transaction(() => {
          store.deleteSliver(s.id);
          event(s, 'sliver.deleted');
        });
        init.crashPoint?.('forget:after');
        return false;
      }
      case 'forget':
        await applyNetwork();
        store.transaction(() => {
          store.deleteSliver(s.id);
          event(s, 'sliver.deleted');
        });
        return false;
    }
  };

  const reconcileSliver = async (id: string, listed: ContainerState | undefined): Promise<void> => {
    for (let i = 0; i < MAX_STEPS_PER_PASS; i++) {
      const s = store.getSliver(id);
      if (s === undefined) return;
      const due = retryAt.get(id);
      if (due !== undefined && init.monotonic() < due) return;
      let kind: ReconcileStep['kind'] = 'none';
      try {
        kind = nextStep(s).kind;
        // The listing was taken before this pass acted; after the first step it may be stale.
        if (!(await step(s, i === 0 ? listed : undefined))) return;
        retryAt.delete(id);
      } catch (err) {
        init.onError?.(kind);
        const failures = s.failures + 1;
        const reason = err instanceof Error ? err.message : String(err);
        log.error({ sliver: s.id, name: s.spec.name, step: kind, failures, err: reason }, 'reconcile step failed');
        const giveUp = failures >= maxFailures && s.desired !== 'gone';
        if (store.getSliver(id) !== undefined) {
          store.updateSliver(id, giveUp ? { failures, reason, observed: 'failed' } : { failures, reason });
          event(s, giveUp ? 'sliver.failed' : 'sliver.step-failed', { step: kind, reason });
        }
        retryAt.set(id, init.monotonic() + Math.min(60_000, 500 * 2 ** failures));
        return;
      }
    }
  };

  const pass = async (): Promise<void> => {
    if (!swept) {
      await sweep();
      swept = true;
    }
    const slivers = store.listSlivers();
    const ids = slivers.map((s) => s.id);
    // One `list` for the whole pass instead of one state query per settled sliver.
    const listing = slivers.some((s) => nextStep(s).kind === 'check')
      ? new Map((await driver.list()).map((c) => [c.name, c.state]))
      : new Map<string, ContainerState>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++] as string;
        await reconcileSliver(id, listing.get(containerName(id)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
    await applyNetwork();
  };

  const runPass = (): Promise<void> => {
    if (running === undefined) {
      running = pass()
        .catch((err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'reconcile pass failed');
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    }
    // A pass is under way: chain exactly one more after it, shared by every caller meanwhile.
    again ??= running.then(() => {
      again = undefined;
      return runPass();
    });
    return again;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runPass().then(schedule);
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      stopped = false;
      void runPass().then(schedule);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await again;
      await running;
    },
    kick() {
      return runPass();
    },
    pass,
  };
}
