// Keeps the gateway's bandwidth shaper (net/shaper.ts) in step with the
// owner's bandwidth and the running slivers, every few seconds: which
// slivers run, what each is guaranteed, which of their veths exist (a
// sliver plugged into its slice network gets a second one; a restarted
// sliver's veths are new links without the shaper's qdisc). The kernel is
// rebuilt only when that changed; the first round after a start always
// rebuilds, which also repairs whatever a crash left. On stop the shaper
// stays, as the firewall does: the slivers keep running.
// Must never: shape a sliver by a MAC it was not given (eth0's from its id,
// eth1's from its slice), or touch the kernel in a round where nothing changed
// (with no bandwidth given, not even to read it).

import { createRounds } from '../kit/rounds.js';
import type { Logger } from '../model/logger.js';
import type { BandwidthGiven } from '../host/contribution.js';
import { hostVethName, sliverMac } from '../net/names.js';
import { planShaper, type ShapedSliver, type ShaperDevices } from '../net/shaper-plan.js';
import { createShaper, type SliverTraffic } from '../net/shaper.js';
import { sliverNetAddresses } from '../cloud/slice-net.js';
import type { SliceHosting } from '../slivers/hosting.js';
import type { StoredSliver } from '../store/store.js';
import { liveSliceNets, sliceNetNames, sliceVethName } from './slice-net.js';

export interface ShapingInit {
  /** This gateway's id: the IFB devices' names come from it (testbed gateways share a host). */
  selfId: string;
  slivers: () => StoredSliver[];
  bandwidth: () => BandwidthGiven;
  /** The slices hosted here, for slivers' slice-network MACs; absent where slice networks are off. */
  hosting?: Pick<SliceHosting, 'live'>;
  nowSec: () => number;
  log: Logger;
  /** The gateway's network namespace under /var/run/netns; the agent's own when absent. */
  namespace?: string;
  intervalMs?: number;
}

export interface Shaping {
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** Bytes and drops by sliver id, of the slivers shaped now. */
  traffic(): Promise<Map<string, SliverTraffic>>;
}

/** The two IFB devices of a gateway: `<prefix>u` (upload) and `<prefix>d` (download). */
export function shaperDevices(selfId: string): ShaperDevices {
  const { prefix } = sliceNetNames(selfId);
  return { up: `${prefix}u`, down: `${prefix}d` };
}

/** What `applied` holds once a shaper with no bandwidth given was made (that is, removed). */
const UNSHAPED = 'unshaped';

export function createShaping(init: ShapingInit): Shaping {
  const { log } = init;
  const devices = shaperDevices(init.selfId);
  const shaper = createShaper({ devices, log, ...(init.namespace === undefined ? {} : { namespace: init.namespace }) });
  /** What the kernel was last made to be; '' makes the next round rebuild. */
  let applied = '';

  /** eth1 MACs by sliver id, for the running slivers of live slices. */
  const sliceMacs = (running: readonly StoredSliver[]): Map<string, string> => {
    const macs = new Map<string, string>();
    if (init.hosting === undefined) return macs;
    const nets = liveSliceNets(init.hosting, init.nowSec());
    for (const s of running) {
      const vni = s.member === null ? undefined : nets.get(`${s.member.user} ${s.spec.slice}`)?.vni;
      if (vni !== undefined && s.member !== null) macs.set(s.id, sliverNetAddresses(vni, s.member.index).mac);
    }
    return macs;
  };

  async function once(): Promise<void> {
    const { upMbit, downMbit } = init.bandwidth();
    // Nothing given, nothing shaped: once the shaper is gone, a round reads nothing from the kernel.
    const unshaped = upMbit === undefined && downMbit === undefined;
    if (unshaped && applied === UNSHAPED) return;
    const all = init.slivers();
    const running = all.filter((s) => s.observed === 'running');
    const links = await shaper.links();
    const eth1 = sliceMacs(running);
    const slivers: ShapedSliver[] = running.map((s) => ({
      id: s.id,
      upMbit: s.spec.resources.upMbit,
      downMbit: s.spec.resources.downMbit,
      macs: [sliverMac(s.id), ...(eth1.has(s.id) ? [eth1.get(s.id) as string] : [])],
      veths: [hostVethName(s.id), sliceVethName(s.id)].filter((v) => links.has(v)),
    }));
    const input = { ...(upMbit === undefined ? {} : { upMbit }), ...(downMbit === undefined ? {} : { downMbit }), slivers };
    const veths = slivers.flatMap((s) => s.veths.map((v) => [v, links.get(v)]));
    const ifbs = Object.values(devices).map((d) => links.has(d));
    const wish = JSON.stringify({ input, veths, ifbs });
    if (wish === applied) return;
    applied = '';
    const owned = new Set(all.flatMap((s) => [hostVethName(s.id), sliceVethName(s.id)]));
    await shaper.apply(planShaper(input, devices), owned);
    applied = unshaped ? UNSHAPED : wish;
  }

  const rounds = createRounds({
    round: once,
    onError: (err) => log.warn({ err: (err as Error).message }, 'setting the bandwidth shaper failed; trying again'),
    intervalMs: init.intervalMs ?? 3000,
  });
  return { ...rounds, traffic: () => shaper.traffic() };
}
