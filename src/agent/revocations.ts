// This gateway's copy of the community's revocation list, and the protocol
// that keeps it equal to everyone else's: a revocation spreads as a Serf user
// event to the members that are up; one that was away learns it by
// anti-entropy (cloud/anti-entropy.ts decides whom to pull from; this shell
// pulls over the peer API and merges). The list lives in the store.
// Must never: accept a malformed id, or forget a revocation while this
// gateway stays in the community.

import { EMPTY_ANTI_ENTROPY, PULL_TIMEOUT_MS, stepAntiEntropy, type AntiEntropyState, type PeerDigest } from '../cloud/anti-entropy.js';
import { REVOCATIONS_PATH, readRevocationList, revocationsDigest, revokedIdOf } from '../cloud/revocations.js';
import type { PeerCaller } from '../peer/caller.js';
import type { PeerRoute } from '../peer/router.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../model/logger.js';

export interface RevocationsInit {
  store: Store;
  /** This gateway's own id: learning that it is revoked ends its membership. */
  selfId: string;
  log: Logger;
  /** The list grew (or was cleared): tags, trust and the firewall must follow. */
  onChange: () => void;
  onSelfRevoked: () => void;
}

export interface Revocations {
  has(id: string): boolean;
  ids(): ReadonlySet<string>;
  /** The digest this gateway gossips; undefined while the list is empty. */
  digest(): string | undefined;
  learn(id: string, name: string | null): void;
  /** The payload of a revocation event; a malformed one is logged and ignored. */
  onRevokeEvent(payload: Uint8Array, nameOf: (id: string) => string | null): void;
  /** The peer route others pull the list from. */
  readonly route: PeerRoute;
  /** One round of anti-entropy against the members' gossiped digests. */
  sync(peers: readonly PeerDigest[], caller: PeerCaller): Promise<void>;
  /** Forget the whole list: it belonged to the community this gateway left. */
  clear(): void;
}

export function createRevocations(init: RevocationsInit): Revocations {
  const { store, log } = init;
  let ids = new Set(store.listRevocations().map((r) => r.id));
  let entropy: AntiEntropyState = EMPTY_ANTI_ENTROPY;

  const learn = (id: string, name: string | null): void => {
    if (!store.addRevocation(id, name)) return;
    log.warn({ id, name }, 'a member was revoked');
    ids = new Set(ids).add(id);
    init.onChange();
    if (id === init.selfId) init.onSelfRevoked();
  };

  const feed = (input: Parameters<typeof stepAntiEntropy>[1]): ReturnType<typeof stepAntiEntropy>['commands'] => {
    const step = stepAntiEntropy(entropy, input, performance.now());
    entropy = step.state;
    return step.commands;
  };

  return {
    has: (id) => ids.has(id),
    ids: () => ids,
    digest: () => revocationsDigest(ids),
    learn,
    onRevokeEvent(payload, nameOf) {
      const id = revokedIdOf(payload);
      if (id === undefined) {
        log.warn({ bytes: payload.length }, 'ignoring a malformed revocation');
        return;
      }
      learn(id, nameOf(id));
    },
    route: {
      method: 'GET',
      path: REVOCATIONS_PATH,
      handler: async () => ({ body: { items: store.listRevocations().map(({ id, name }) => ({ id, name })) } }),
    },
    async sync(peers, caller) {
      const pulls = feed({ type: 'tick', mine: revocationsDigest(ids), peers, self: init.selfId });
      await Promise.all(pulls.map(async ({ member, digest }) => {
        try {
          const reply = await caller.call(member, { method: 'GET', path: REVOCATIONS_PATH }, undefined, { timeoutMs: PULL_TIMEOUT_MS });
          for (const r of readRevocationList(reply)) learn(r.id, r.name);
          feed({ type: 'pulled', member, digest });
        } catch (err) {
          log.warn({ member, err: (err as Error).message }, 'pulling revocations failed');
          feed({ type: 'pull-failed', member, digest });
        }
      }));
    },
    clear() {
      store.clearRevocations();
      ids = new Set();
      entropy = EMPTY_ANTI_ENTROPY;
      init.onChange();
    },
  };
}
