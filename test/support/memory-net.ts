// An in-memory stand-in for SliverNetwork, for tests of the API and the
// reconciler's bookkeeping. Named as a fake: it proves nothing about the
// kernel; test/integration/net does.

import type { NetworkPlan, SliverNetwork } from '../../src/net/types.js';

export interface MemoryNetwork extends SliverNetwork {
  readonly plans: NetworkPlan[];
  readonly links: Set<string>;
}

export function createMemoryNetwork(init: { bridge?: string; gateway?: string; prefixLength?: number } = {}): MemoryNetwork {
  const plans: NetworkPlan[] = [];
  const links = new Set<string>();
  return {
    bridge: init.bridge ?? 'memnet0',
    gateway: init.gateway ?? '10.99.0.1',
    prefixLength: init.prefixLength ?? 24,
    plans,
    links,
    async setup() {},
    async apply(plan) {
      plans.push(structuredClone(plan));
    },
    async hostVethsOnBridge() {
      return [...links];
    },
    async removeLink(name) {
      links.delete(name);
    },
    async teardown() {
      plans.length = 0;
    },
  };
}
