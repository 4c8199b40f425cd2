// A gateway namespace with a bridge and two "slivers" (namespaces, each a
// veth on the bridge with the veth name and eth0 MAC hearth gives the
// sliver), for the shaper's integration test and benchmark. Every name
// starts with `prefix` (three letters), so two beds never meet.
// Must never: make a link outside its namespaces.

import { runTool, runToolChecked } from '../../src/net/run.js';
import { hostVethName, sliverMac } from '../../src/net/names.js';
import { planShaper, type ShapedSliver, type ShaperDevices, type ShaperInput } from '../../src/net/shaper-plan.js';
import { createShaper, type Shaper } from '../../src/net/shaper.js';
import { nsRun } from '../integration/net/fake-slivers.js';

export interface BedSliver {
  id: string;
  ns: string;
  address: string;
}

export interface ShaperBed {
  gw: string;
  gwAddress: string;
  devices: ShaperDevices;
  slivers: readonly [BedSliver, BedSliver];
  shaper: Shaper;
  /** Both slivers, the first asking `upMbit`/`downMbit`, the second a fair share. */
  shaped(upMbit?: number, downMbit?: number): ShapedSliver[];
  apply(input: ShaperInput): Promise<void>;
  setup(): Promise<void>;
  remove(): Promise<void>;
}

export function shaperBed(prefix: string): ShaperBed {
  const gw = `${prefix}gw`;
  const gwAddress = '10.77.0.1';
  const devices = { up: `${prefix}u`, down: `${prefix}d` };
  const slivers = [
    { id: `${prefix}000000001`, ns: `${prefix}s1`, address: '10.77.0.11' },
    { id: `${prefix}000000002`, ns: `${prefix}s2`, address: '10.77.0.12' },
  ] as const;
  const shaper = createShaper({ devices, namespace: gw });
  const owned = new Set(slivers.map((s) => hostVethName(s.id)));
  const remove = async (): Promise<void> => {
    for (const ns of [gw, ...slivers.map((s) => s.ns)]) await runTool('ip', ['netns', 'del', ns]);
  };
  return {
    gw, gwAddress, devices, slivers, shaper,
    shaped: (upMbit = 0, downMbit = 0) => slivers.map((s, i) => ({
      id: s.id, upMbit: i === 0 ? upMbit : 0, downMbit: i === 0 ? downMbit : 0, macs: [sliverMac(s.id)], veths: [hostVethName(s.id)],
    })),
    apply: (input) => shaper.apply(planShaper(input, devices), owned),
    remove,
    async setup() {
      await remove();
      await runToolChecked('ip', ['netns', 'add', gw]);
      await nsRun(gw, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      await nsRun(gw, ['ip', 'addr', 'add', `${gwAddress}/24`, 'dev', 'br0']);
      await nsRun(gw, ['ip', 'link', 'set', 'dev', 'br0', 'up']);
      for (const s of slivers) {
        const veth = hostVethName(s.id);
        await runToolChecked('ip', ['netns', 'add', s.ns]);
        await nsRun(gw, ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', s.ns]);
        await nsRun(gw, ['ip', 'link', 'set', 'dev', veth, 'master', 'br0', 'up']);
        await nsRun(s.ns, ['ip', 'link', 'set', 'dev', 'eth0', 'address', sliverMac(s.id)]);
        await nsRun(s.ns, ['ip', 'addr', 'add', `${s.address}/24`, 'dev', 'eth0']);
        await nsRun(s.ns, ['ip', 'link', 'set', 'dev', 'eth0', 'up']);
        await nsRun(s.ns, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
      }
    },
  };
}
