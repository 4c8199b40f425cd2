// The parts a gateway runs its slivers with when its config says
// `virt.driver: 'none'`: the in-memory driver (virt/memory.ts), in which a
// sliver is "running" as soon as it is started and no process runs, and a
// sliver network that makes nothing in the kernel (no bridge, no firewall).
// Admission, leases, slice records, placement and healing are the real ones,
// so a community of such gateways places and heals slices as a real one does.
// Must never: be mistaken for a real gateway: the agent says so at start and
// in its node view (NO_CONTAINERS_NOTE).

import type { Driver } from '../virt/driver.js';
import { createMemoryDriver } from '../virt/memory.js';
import { gatewayAddress, parseSubnet } from '../net/pool.js';
import type { SliverNetwork } from '../net/types.js';

export interface NoContainerParts {
  driver: Driver;
  net: SliverNetwork;
}

/** A sliver network with nothing behind it: the plans the reconciler applies go nowhere. */
function createNoNetwork(network: { bridge: string; subnet: string }): SliverNetwork {
  return {
    bridge: network.bridge,
    // Addresses are still allocated from the subnet, so slivers are recorded as on a real gateway.
    gateway: gatewayAddress(network.subnet),
    prefixLength: parseSubnet(network.subnet).prefixLength,
    async setup() {},
    async apply() {},
    async hostVethsOnBridge() {
      return [];
    },
    async removeLink() {},
    async teardown() {},
  };
}

export function createNoContainerParts(network: { bridge: string; subnet: string }): NoContainerParts {
  return { driver: createMemoryDriver(), net: createNoNetwork(network) };
}
