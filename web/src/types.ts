// The API's wire shapes the portal reads, as src/api/schemas.ts and
// src/api/routes/*.ts define them (the portal is built apart from the agent,
// so it keeps its own copy of the few it needs).

export interface ResourceVector {
  cpu: number;
  memoryMb: number;
  diskMb: number;
  slivers: number;
}

export interface NodeRow {
  name: string;
  id: string | null;
  status: string;
  serfAddr: string;
  peerAddr: string | null;
  mode: string | null;
  zone: string | null;
  version: string | null;
  contributed: ResourceVector | null;
  free: ResourceVector | null;
  rttMs: number | null;
  self: boolean;
  revoked: boolean;
}

export interface NodeList {
  self: string;
  community: string;
  items: NodeRow[];
}

export interface CommunityStatus {
  name: string;
  self: string;
  state: string;
  reason: string | null;
  fix: string | null;
  warning: string | null;
  members: { alive: number; failed: number; left: number; total: number };
}

export interface ServiceEntry {
  name: string;
  type: string;
  protocol: string;
  hostPort: number;
  sliver: string;
  slice: string;
  gateway: string;
  /** host:port on the gateway's community address. */
  address: string;
  rttMs: number | null;
}

export interface Sliver {
  id: string;
  name: string;
  slice: string;
  template: string;
  resources: { cpu: number; memoryMb: number; diskMb: number };
  desired: 'running' | 'stopped' | 'gone';
  observed: string;
  reason: string | null;
  address: string | null;
}

export interface HearthEvent {
  seq: number;
  at: string;
  sliverId: string | null;
  type: string;
  detail: Record<string, unknown>;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  field?: string;
}

export type { Sample, SampleList } from '../../src/model/sample.js';

/** The part of GET /api/v1/node the portal reads. */
export interface NodeInfo {
  name: string;
  inventory: { cpu: number; memoryMb: number; diskMb: number };
  contribution: ResourceVector;
}

/** A recipe as GET /api/v1/apps lists it (src/api/routes/apps.ts). */
export interface RecipeSummary {
  name: string;
  description: string;
  packages: string[];
  /** Slivers the recipe asks, before scaling. */
  slivers: number;
  roles: { name: string; slivers: number; scalable: boolean; services: string[] }[];
}
