// The one way a part calls another gateway: by member name and route. Where
// the member listens and which certificate it must present are resolved here,
// from the membership view, and nowhere else.
// Must never: call an address that is not the one gossiped for the member, or
// a member without a pinned fingerprint.

import { HearthError } from '../model/errors.js';
import type { PeerClient, PeerRequestOptions } from './client.js';
import type { PeerMethod } from './router.js';

/** A peer route as its callers name it. */
export interface PeerRouteRef {
  method: PeerMethod;
  path: string;
}

export interface PeerCaller {
  /**
   * Calls `route` on `member` and resolves with its JSON reply. Rejects with
   * node_not_found when the member has no trusted peer address now, with a
   * PeerError for the member's own faults, or with `signal.reason`.
   */
  call(member: string, route: PeerRouteRef, body?: unknown, opts?: PeerRequestOptions): Promise<unknown>;
}

export interface PeerCallerInit {
  client: PeerClient;
  /** The member's gossiped peer address, if it is alive, trusted and has one. */
  addressOf: (member: string) => string | undefined;
}

export function createPeerCaller({ client, addressOf }: PeerCallerInit): PeerCaller {
  return {
    call(member, route, body, opts = {}) {
      const address = addressOf(member);
      if (address === undefined) {
        return Promise.reject(new HearthError('node_not_found', `member ${JSON.stringify(member)} has no trusted peer address now`));
      }
      return client.request(member, address, route.method, route.path, body, opts);
    },
  };
}
