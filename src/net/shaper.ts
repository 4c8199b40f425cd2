// The gateway's bandwidth shaper in the kernel: two IFB devices with htb
// trees and a clsact qdisc on every sliver veth, made from a plan
// (shaper-plan.ts) from scratch each time: what hearth put there before is
// deleted first, so neither a crash nor a changed plan leaves a stale class,
// and everything is set in one `tc -batch`. Counts each sliver's bytes and
// drops, carried across rebuilds (a rebuild zeroes the kernel's).
// Must never: delete a qdisc of a device other than this gateway's two IFBs
// and the veths of its own slivers (gateways may share a namespace), or run
// outside the gateway's namespace.

import type { Logger } from '../model/logger.js';
import { createSerial } from '../kit/serial.js';
import { namespaceRunner } from './netns-run.js';
import { toolFailure } from './run.js';
import { validateLinkName } from './names.js';
import {
  parseClassStats, type ClassCounters, type Direction, type ShaperClass, type ShaperDevices, type ShaperPlan,
} from './shaper-plan.js';
import type { NetOpOptions } from './types.js';

/** IFB's default queue of 32 packets drops bursts a home link absorbs. */
const IFB_QUEUE = 1000;

/** A sliver's counters each way; a direction not shaped is absent. */
export type SliverTraffic = Partial<Record<Direction, ClassCounters>>;

export interface ShaperInit {
  devices: ShaperDevices;
  /** The gateway's network namespace under /var/run/netns; its own when absent. */
  namespace?: string;
  log?: Logger;
}

export interface Shaper {
  /** The namespace's links, name → ifindex (a veth made again has a new index, and no qdisc). */
  links(opts?: NetOpOptions): Promise<Map<string, number>>;
  /**
   * Makes the shaper exactly `plan`; an empty plan removes it. `owned` names
   * every veth of this gateway's slivers, the ones whose qdisc it may clear.
   */
  apply(plan: ShaperPlan, owned: ReadonlySet<string>, opts?: NetOpOptions): Promise<void>;
  /** Bytes and drops by sliver id, since this shaper was made. */
  traffic(opts?: NetOpOptions): Promise<Map<string, SliverTraffic>>;
}

export function createShaper(init: ShaperInit): Shaper {
  for (const dev of Object.values(init.devices)) validateLinkName('ifb', dev);
  const runner = namespaceRunner(init.namespace);
  const ifbs = new Set(Object.values(init.devices));
  let classes: ShaperClass[] = [];
  /** What classes counted before they were rebuilt, by sliver and direction. */
  const carried = new Map<string, ClassCounters>();
  // A rebuild empties the class list and carries the counts over between its awaits: a count read meanwhile (the
  // agent's /metrics during a shaping round) saw no class at all, or counted the carried bytes twice.
  const serialize = createSerial();
  const key = (sliverId: string, direction: Direction): string => `${sliverId} ${direction}`;

  /** Each current class's counters as the kernel has them (a vanished IFB counts nothing). */
  const readClasses = async (opts: NetOpOptions): Promise<Map<ShaperClass, ClassCounters>> => {
    const out = new Map<ShaperClass, ClassCounters>();
    for (const dev of new Set(classes.map((c) => c.dev))) {
      const r = await runner.run(['tc', '-s', 'class', 'show', 'dev', dev], opts);
      if (r.exitCode !== 0) continue;
      const stats = parseClassStats(r.stdout);
      for (const c of classes.filter((x) => x.dev === dev)) {
        const s = stats.get(c.classid);
        if (s !== undefined) out.set(c, s);
      }
    }
    return out;
  };

  const links = async (opts: NetOpOptions = {}): Promise<Map<string, number>> => {
    const r = await runner.runChecked(['ip', '-j', 'link', 'show'], opts);
    const list = JSON.parse(r.stdout) as { ifname: string; ifindex: number }[];
    return new Map(list.map((l) => [l.ifname, l.ifindex]));
  };

  return {
    links,

    apply: (plan, owned, opts = {}) => serialize(async () => {
      for (const [c, s] of await readClasses(opts)) {
        const k = key(c.sliverId, c.direction);
        const before = carried.get(k) ?? { bytes: 0, drops: 0 };
        carried.set(k, { bytes: before.bytes + s.bytes, drops: before.drops + s.drops });
      }
      classes = [];
      const present = await links(opts);
      for (const dev of ifbs) {
        if (plan.ifbs.includes(dev)) {
          if (!present.has(dev)) await runner.runChecked(['ip', 'link', 'add', dev, 'txqueuelen', String(IFB_QUEUE), 'type', 'ifb'], opts);
          await runner.runChecked(['ip', 'link', 'set', 'dev', dev, 'up'], opts);
        } else if (present.has(dev)) {
          await runner.runChecked(['ip', 'link', 'del', 'dev', dev], opts);
        }
      }
      const qdiscs = JSON.parse((await runner.runChecked(['tc', '-j', 'qdisc', 'show'], opts)).stdout) as { kind: string; dev: string; root?: boolean }[];
      const clear = qdiscs.flatMap((q) => {
        if (q.kind === 'clsact' && owned.has(q.dev)) return [`qdisc del dev ${q.dev} clsact`];
        if (q.kind === 'htb' && q.root === true && plan.ifbs.includes(q.dev)) return [`qdisc del dev ${q.dev} root`];
        return [];
      });
      classes = plan.classes;
      // Counts of slivers no longer shaped (stopped, gone) are dropped: a counter may restart, as Prometheus allows.
      for (const k of carried.keys()) if (!classes.some((c) => key(c.sliverId, c.direction) === k)) carried.delete(k);
      const batch = [...clear, ...plan.batch];
      if (batch.length > 0) {
        // -force goes on past a veth that vanished meanwhile (its sliver stopped); the failure still makes the round fail, and the next one retries.
        const argv = ['tc', '-force', '-batch', '-'];
        const r = await runner.run(argv, { ...opts, input: `${batch.join('\n')}\n` });
        if (r.exitCode !== 0) throw toolFailure('tc', argv.slice(1), r);
      }
      init.log?.info({ ifbs: plan.ifbs, veths: plan.veths.length, classes: plan.classes.length }, 'bandwidth shaper set');
    }),

    traffic: (opts = {}) => serialize(async () => {
      const now = await readClasses(opts);
      const out = new Map<string, SliverTraffic>();
      for (const c of classes) {
        const live = now.get(c) ?? { bytes: 0, drops: 0 };
        const before = carried.get(key(c.sliverId, c.direction)) ?? { bytes: 0, drops: 0 };
        const t = out.get(c.sliverId) ?? {};
        t[c.direction] = { bytes: before.bytes + live.bytes, drops: before.drops + live.drops };
        out.set(c.sliverId, t);
      }
      return out;
    }),
  };
}
