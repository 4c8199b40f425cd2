// What a run simulates: the community's size and make-up, its churn, the
// workload, and the memberlist and link models; and the named scenarios the
// CLI offers. Pure data.
// machine: off unless asked for (it models the one-machine bench, not a
// community).
// partition: the community split in two halves at 30 minutes (after the
// warm-up) for 10 minutes, then healed; no churn.

import type { SliverResources } from '../model/sliver.js';
import { DEFAULT_MIX, type GatewayMix } from './community.js';
import type { Weibull } from './draw.js';
import type { SharedMachine } from './machine.js';
import { COMMUNITY_LINK, PROFILE_CONFIGS, SERF_AGENT_EVENTS, type AgentEvents, type GossipProfile, type LinkModel, type MemberlistConfig } from './memberlist.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;

export interface SimConfig {
  scenario: string;
  gateways: number;
  hours: number;
  seed: number;
  /** The share of the live production gateways' cpu the workload asks for, on average. */
  utilisation: number;
  /** Slice sizes N with weights. */
  sliceSizes: readonly (readonly [number, number])[];
  /** Per-sliver resources with weights (every sliver of a slice is the same). */
  sliverShapes: readonly (readonly [SliverResources, number])[];
  meanLifetimeMs: number;
  /** The community split in two for a while, then healed; null for none. */
  partition: PartitionPlan | null;
  /** Up and down times of a gateway; null for no churn. */
  churn: { up: Weibull; down: Weibull } | null;
  mix: GatewayMix;
  /** Serf's timing profile, and the memberlist timings it stands for. */
  profile: GossipProfile;
  memberlist: MemberlistConfig;
  /** How the Serf agent hands member events on to the gateway's agent. */
  agentEvents: AgentEvents;
  link: LinkModel;
  /** The workload's first slices arrive within this time (a fast fill to the target); metrics start after warmupMs. */
  fillMs: number;
  warmupMs: number;
  sampleEveryMs: number;
  /** How many members of its view an entry gateway hands placement before falling back to all of them (see docs/sim.md). */
  viewSample: number;
  /** Every gateway on one machine (the one-machine bench, src/sim/machine.ts); null for a community of separate boxes. */
  machine: SharedMachine | null;
}

export interface PartitionPlan {
  atMs: number;
  forMs: number;
  /** The share of the gateways on side 1 (drawn by a hash of the seed and the gateway). */
  share: number;
}

const shape = (cpu: number, memoryMb: number, diskMb: number): SliverResources => ({ cpu, memoryMb, diskMb, pids: 512, upMbit: 0, downMbit: 0 });

export const SCENARIOS = ['steady', 'churn', 'partition'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** A scenario's configuration for a community of `gateways` over `hours`. */
export function scenarioConfig(name: ScenarioName, opts: { gateways: number; hours: number; seed: number; utilisation?: number; profile?: GossipProfile; machine?: SharedMachine }): SimConfig {
  const durationMs = opts.hours * HOUR;
  return {
    scenario: name,
    gateways: opts.gateways,
    hours: opts.hours,
    seed: opts.seed,
    utilisation: opts.utilisation ?? 0.7,
    sliceSizes: [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1]],
    sliverShapes: [[shape(0.25, 256, 1024), 0.5], [shape(0.5, 512, 2048), 0.3], [shape(1, 1024, 4096), 0.2]],
    meanLifetimeMs: 2 * HOUR,
    // Measured community-network uptimes are heavy-tailed: Weibull shape < 1.
    churn: name === 'churn' ? { up: { shape: 0.6, scale: 12 * HOUR }, down: { shape: 0.7, scale: 30 * MINUTE } } : null,
    // No churn with it, so every sliver below N and every extra is the partition's doing.
    partition: name === 'partition' ? { atMs: Math.min(30 * MINUTE, durationMs / 4), forMs: Math.min(10 * MINUTE, durationMs / 4), share: 0.5 } : null,
    mix: DEFAULT_MIX,
    profile: opts.profile ?? 'lan',
    memberlist: PROFILE_CONFIGS[opts.profile ?? 'lan'],
    agentEvents: SERF_AGENT_EVENTS,
    link: COMMUNITY_LINK,
    fillMs: Math.min(10 * MINUTE, durationMs / 8),
    warmupMs: Math.min(30 * MINUTE, durationMs / 4),
    // A partition's story plays out in seconds to minutes: sample it finely.
    sampleEveryMs: name === 'partition' ? 10_000 : Math.min(10 * MINUTE, durationMs / 24),
    viewSample: 48,
    machine: opts.machine ?? null,
  };
}
