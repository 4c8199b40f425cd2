// The decisions of the link emulator, apart from its sockets: which gateways a
// frame goes to (MAC learning, flooding), whether a path loses it, when it
// arrives (serialisation at the path's rate behind a bounded queue, then delay
// and jitter, never overtaking an earlier frame on the same path), and whether
// a partition forbids it. Gateways are numbered 1..n.
// Must never: do I/O, read the clock or call Math.random; time and frames come in as arguments.

import { HearthError } from '../model/errors.js';
import { checkLinkMatrix, linkOf } from './link-matrix.js';
import type { LinkMatrix } from './link-matrix.js';
import { createRng } from '../kit/rng.js';
import { isGroupMac } from './vxlan-frame.js';
import type { VxlanFrame } from './vxlan-frame.js';

export interface SwitchCounters {
  /** Datagrams that decoded and came from a registered gateway. */
  received: number;
  /** Frame copies handed to a destination gateway. */
  forwarded: number;
  droppedLoss: number;
  droppedPartition: number;
  /** Copies dropped because the path's queue was already `queueLimitMs` deep. */
  droppedRate: number;
  decodeErrors: number;
  /** Well-formed datagrams from an address no gateway is registered at. */
  unknownSender: number;
}

export interface SwitchCoreInit {
  links: LinkMatrix;
  seed: number;
  /** The deepest a path's rate queue may get before it drops (default 100 ms, like a tbf latency). */
  queueLimitMs?: number;
}

export interface Delivery {
  src: number;
  dst: number;
  deliverAt: number;
}

export interface SwitchCore {
  readonly gateways: number;
  /** A registered gateway receives floods; unregistered ones receive nothing. */
  attach(gateway: number): void;
  /** Where copies of a frame from `src` go and when; counts losses and drops. */
  ingress(src: number, frame: VxlanFrame, now: number): Delivery[];
  /** At delivery time: is the pair still allowed? Counts the copy as forwarded or dropped. */
  admit(src: number, dst: number): boolean;
  /** Frames cross only within a group; gateways named in no group form one more group together. */
  partition(groups: number[][]): void;
  heal(): void;
  setLinks(links: LinkMatrix): void;
  countDecodeError(): void;
  countUnknownSender(): void;
  counters(): SwitchCounters;
}

export function createSwitchCore(init: SwitchCoreInit): SwitchCore {
  const n = checkLinkMatrix(init.links);
  let links = init.links;
  const queueLimitMs = init.queueLimitMs ?? 100;
  const rng = createRng(init.seed);
  const attached = new Set<number>();
  const macs = new Map<number, number>();
  // Index src * (n + 1) + dst: when the path's queue drains, and its last arrival.
  const busyUntil = new Float64Array((n + 1) * (n + 1));
  const lastArrival = new Float64Array((n + 1) * (n + 1));
  const groupOf = new Int32Array(n + 1);
  const counters: SwitchCounters = {
    received: 0,
    forwarded: 0,
    droppedLoss: 0,
    droppedPartition: 0,
    droppedRate: 0,
    decodeErrors: 0,
    unknownSender: 0,
  };

  const checkGateway = (gateway: number): void => {
    if (!Number.isInteger(gateway) || gateway < 1 || gateway > n) {
      throw new HearthError('invalid_request', `gateway ${gateway} is not one of 1..${n}`);
    }
  };

  const schedule = (src: number, dst: number, bytes: number, now: number): Delivery | undefined => {
    if (groupOf[src] !== groupOf[dst]) {
      counters.droppedPartition++;
      return undefined;
    }
    const link = linkOf(links, src, dst);
    if (link === undefined) return undefined;
    if (link.loss > 0 && rng() < link.loss) {
      counters.droppedLoss++;
      return undefined;
    }
    const pair = src * (n + 1) + dst;
    const queuedUntil = Math.max(now, busyUntil[pair] as number);
    if (queuedUntil - now > queueLimitMs) {
      counters.droppedRate++;
      return undefined;
    }
    const sent = link.rateBitsPerSecond > 0 ? queuedUntil + (bytes * 8 * 1000) / link.rateBitsPerSecond : queuedUntil;
    busyUntil[pair] = sent;
    const jitter = link.jitterMs > 0 ? (rng() * 2 - 1) * link.jitterMs : 0;
    const deliverAt = Math.max(sent + Math.max(0, link.delayMs + jitter), lastArrival[pair] as number);
    lastArrival[pair] = deliverAt;
    return { src, dst, deliverAt };
  };

  return {
    gateways: n,
    attach(gateway) {
      checkGateway(gateway);
      attached.add(gateway);
    },
    ingress(src, frame, now) {
      counters.received++;
      macs.set(frame.srcMac, src);
      const known = isGroupMac(frame.dstMac) ? undefined : macs.get(frame.dstMac);
      const targets = known === undefined ? [...attached].filter((g) => g !== src) : known === src ? [] : [known];
      const deliveries: Delivery[] = [];
      for (const dst of targets) {
        const delivery = schedule(src, dst, frame.innerBytes, now);
        if (delivery !== undefined) deliveries.push(delivery);
      }
      return deliveries;
    },
    admit(src, dst) {
      if (groupOf[src] !== groupOf[dst]) {
        counters.droppedPartition++;
        return false;
      }
      counters.forwarded++;
      return true;
    },
    partition(groups) {
      const next = new Int32Array(n + 1);
      groups.forEach((group, index) => {
        for (const gateway of group) {
          checkGateway(gateway);
          if (next[gateway] !== 0) throw new HearthError('invalid_request', `gateway ${gateway} is in more than one group`);
          next[gateway] = index + 1;
        }
      });
      groupOf.set(next);
    },
    heal() {
      groupOf.fill(0);
    },
    setLinks(next) {
      const size = checkLinkMatrix(next);
      if (size !== n) throw new HearthError('invalid_request', `the link matrix must stay ${n}×${n}, not ${size}×${size}`);
      links = next;
    },
    countDecodeError() {
      counters.decodeErrors++;
    },
    countUnknownSender() {
      counters.unknownSender++;
    },
    counters() {
      return { ...counters };
    },
  };
}
