// What the live stream has told so far, and how each message changes it:
// snapshots replace, events append (the stream passes each seq once).

import type { StreamMessage } from './stream';
import type { CommunityStatus, HearthEvent, NodeList, ServiceEntry } from './types';

/** How many recent events the portal keeps. */
const EVENTS_KEPT = 200;

/** Each part is undefined until its first snapshot arrives. */
export interface Live {
  self: string | undefined;
  nodes: NodeList | undefined;
  community: CommunityStatus | null | undefined;
  services: ServiceEntry[] | undefined;
  /** Oldest first. */
  events: HearthEvent[];
}

export const NOTHING_YET: Live = { self: undefined, nodes: undefined, community: undefined, services: undefined, events: [] };

export function applyMessage(live: Live, m: StreamMessage): Live {
  switch (m.type) {
    case 'ready': return { ...live, self: m.self };
    case 'nodes': return { ...live, nodes: { self: m.self, community: m.community, items: m.items } };
    case 'community': return { ...live, community: m.status };
    case 'services': return { ...live, services: m.items };
    case 'event': return { ...live, events: [...live.events, m.event].slice(-EVENTS_KEPT) };
    case 'error': return live;
  }
}
