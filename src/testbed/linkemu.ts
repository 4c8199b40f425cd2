// The link emulator: a userspace switch on one UDP socket in the root network
// namespace. Each gateway namespace's VXLAN device has this socket as its only
// remote; the emulator takes each VXLAN datagram, decides through the switch
// core where its copies go and when, holds them in one deadline queue behind a
// single timer, and sends them on to the destination gateways' VXLAN ports.
// The kernel has no netem here, so this is where delay, loss, rate and
// partitions happen.
// Must never: send anywhere but a registered gateway endpoint, or let a bad datagram throw.

import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HearthError } from '../model/errors.js';
import { createDeadlineQueue } from '../kit/deadline-queue.js';
import type { LinkMatrix } from './link-matrix.js';
import { createSwitchCore } from './switch-core.js';
import type { SwitchCounters } from './switch-core.js';
import { decodeVxlan } from './vxlan-frame.js';

export interface UdpEndpoint {
  host: string;
  port: number;
}

export interface LinkEmulatorInit {
  /** Port 0 binds any free port; `start()` returns the one bound. */
  listen: UdpEndpoint;
  /** Per-pair links for gateways 1..n (row/column i is gateway i + 1). */
  links: LinkMatrix;
  /** Seeds loss and jitter, so a run's randomness is reproducible. */
  seed: number;
  queueLimitMs?: number;
  /** Milliseconds on a monotonic clock; tests may replace it. */
  now?: () => number;
}

export interface LinkEmulatorCounters extends SwitchCounters {
  /** Copies the kernel refused to send (e.g. a gateway namespace already gone). */
  sendErrors: number;
}

export interface LinkEmulatorStats {
  listen: UdpEndpoint;
  gateways: number;
  registered: Array<{ gateway: number } & UdpEndpoint>;
  counters: LinkEmulatorCounters;
}

export interface LinkEmulator {
  start(options?: { signal?: AbortSignal }): Promise<UdpEndpoint>;
  stop(): Promise<void>;
  /**
   * Gateway `gateway` sends from `endpoint.host` (any source port: the kernel
   * hashes flows over a port range) and receives at `endpoint.port`.
   */
  register(gateway: number, endpoint: UdpEndpoint): void;
  /** Frames cross only within a group; gateways named in no group form one more group together. */
  partition(groups: number[][]): void;
  heal(): void;
  setLinks(links: LinkMatrix): void;
  stats(): LinkEmulatorStats;
}

interface InFlight {
  src: number;
  dst: number;
  datagram: Buffer;
}

export function createLinkEmulator(init: LinkEmulatorInit): LinkEmulator {
  const now = init.now ?? ((): number => performance.now());
  const core = createSwitchCore({
    links: init.links,
    seed: init.seed,
    ...(init.queueLimitMs === undefined ? {} : { queueLimitMs: init.queueLimitMs }),
  });
  const queue = createDeadlineQueue<InFlight>();
  const gatewayAt = new Map<string, number>();
  const endpointOf = new Map<number, UdpEndpoint>();
  let socket: Socket | undefined;
  let bound: UdpEndpoint | undefined;
  let sendErrors = 0;
  let armedFor: number | undefined;
  let cancelTimer: (() => void) | undefined;

  const disarm = (): void => {
    cancelTimer?.();
    cancelTimer = undefined;
    armedFor = undefined;
  };

  const onSent = (error: Error | null): void => {
    if (error) sendErrors++;
  };

  const flush = (): void => {
    cancelTimer = undefined;
    armedFor = undefined;
    for (const { src, dst, datagram } of queue.popDue(now())) {
      const endpoint = endpointOf.get(dst);
      if (socket === undefined || endpoint === undefined || !core.admit(src, dst)) continue;
      socket.send(datagram, endpoint.port, endpoint.host, onSent);
    }
    arm();
  };

  // One timer for the earliest deadline, re-armed only when an earlier one
  // arrives: frames in flight cost heap entries, not timers. Node rounds
  // timeouts up to whole milliseconds, so sub-millisecond waits use setImmediate.
  const arm = (): void => {
    const next = queue.nextDeadline();
    if (next === undefined || (armedFor !== undefined && armedFor <= next)) return;
    disarm();
    armedFor = next;
    const wait = next - now();
    if (wait < 1) {
      const immediate = setImmediate(flush);
      cancelTimer = () => clearImmediate(immediate);
    } else {
      const timeout = setTimeout(flush, wait);
      cancelTimer = () => clearTimeout(timeout);
    }
  };

  const onMessage = (datagram: Buffer, from: { address: string }): void => {
    const frame = decodeVxlan(datagram);
    if (frame === undefined) {
      core.countDecodeError();
      return;
    }
    const src = gatewayAt.get(from.address);
    if (src === undefined) {
      core.countUnknownSender();
      return;
    }
    for (const { dst, deliverAt } of core.ingress(src, frame, now())) queue.push(deliverAt, { src, dst, datagram });
    arm();
  };

  return {
    async start(options = {}) {
      if (socket !== undefined) throw new HearthError('invalid_state', 'the link emulator is already started');
      options.signal?.throwIfAborted();
      const s = createSocket({ type: isIPv6(init.listen.host) ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => {
          s.close();
          reject(new HearthError('network_error', `link emulator cannot listen on ${init.listen.host}:${init.listen.port}: ${error.message}`, {}, { cause: error }));
        };
        s.once('error', onError);
        s.bind(init.listen.port, init.listen.host, () => {
          s.off('error', onError);
          resolve();
        });
      });
      // After binding, socket errors are per-datagram (ICMP unreachable and the like): count, never crash.
      s.on('error', () => sendErrors++);
      s.on('message', onMessage);
      socket = s;
      bound = { host: init.listen.host, port: s.address().port };
      return bound;
    },
    async stop() {
      disarm();
      queue.clear();
      const s = socket;
      socket = undefined;
      if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    register(gateway, endpoint) {
      core.attach(gateway);
      const holder = gatewayAt.get(endpoint.host);
      if (holder !== undefined && holder !== gateway) {
        throw new HearthError('invalid_request', `${endpoint.host} is already gateway ${holder}'s address`);
      }
      const previous = endpointOf.get(gateway);
      if (previous !== undefined) gatewayAt.delete(previous.host);
      gatewayAt.set(endpoint.host, gateway);
      endpointOf.set(gateway, { ...endpoint });
    },
    partition(groups) {
      core.partition(groups);
    },
    heal() {
      core.heal();
    },
    setLinks(links) {
      core.setLinks(links);
    },
    stats() {
      return {
        listen: bound ?? { ...init.listen },
        gateways: core.gateways,
        registered: [...endpointOf].sort(([a], [b]) => a - b).map(([gateway, e]) => ({ gateway, ...e })),
        counters: { ...core.counters(), sendErrors },
      };
    },
  };
}
