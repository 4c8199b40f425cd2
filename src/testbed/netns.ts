// The namespace plumbing of the emulated community network. In the root
// namespace: one bridge, `<prefix>tbbr`, carrying the emulator's underlay
// address, and one veth `<prefix>tbu<i>` per gateway enslaved to it. Inside
// gateway i's namespace `<prefix>gw<i>`: loopback, the veth's peer `u0` with
// the gateway's underlay address, and `vx0`, a VXLAN device whose only remote
// is the link emulator, carrying the gateway's community address.
// The VXLAN devices use remote checksum offload (remcsumtx/remcsumrx): without
// it the sender leaves inner TCP/UDP checksums to a "hardware" that a
// userspace hop never provides (every TCP segment and UDP datagram would
// arrive corrupt), and veth would pass 64 KB GSO datagrams to the emulator;
// with it the receiving kernel completes the checksum and the sender
// segments to the MTU, so the emulator relays datagrams byte for byte.
// Must never: run ip other than through the runner, or remove a namespace or
// link whose name is not one of the names above for its prefix.

import { execFile } from 'node:child_process';
import { HearthError } from '../model/errors.js';
import {
  DEFAULT_COMMUNITY,
  DEFAULT_UNDERLAY,
  emulatorUnderlayAddress,
  gatewayCommunityAddress,
  gatewayMac,
  gatewayUnderlayAddress,
} from './addressing.js';
import type { Subnet } from './addressing.js';

export type IpRunner = (args: readonly string[], options?: { signal?: AbortSignal }) => Promise<string>;

/** Runs `ip` with `args`; a failure is a `network_error` carrying ip's own message. */
export const runIp: IpRunner = (args, options = {}) =>
  new Promise((resolve, reject) => {
    execFile('ip', args, { signal: options.signal, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else if (options.signal?.aborted) reject(options.signal.reason);
      else reject(new HearthError('network_error', `ip ${args.join(' ')}: ${stderr.trim() || error.message}`, {}, { cause: error }));
    });
  });

/** VXLAN over IPv4 costs 50 bytes: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const COMMUNITY_MTU = 1450;
export const COMMUNITY_DEVICE = 'vx0';
const UNDERLAY_DEVICE = 'u0';
const PREFIX_PATTERN = /^[a-z0-9]{0,5}-?$/;
const MAX_GATEWAYS = 65_000;

/** The argv prefix that runs a command in namespace `namespace` without `ip netns exec`'s /sys remount (which hides LXC's cgroups). */
export function enterArgs(namespace: string): string[] {
  return ['nsenter', `--net=/var/run/netns/${namespace}`];
}

export interface TestbedNames {
  bridge: string;
  namespace(gateway: number): string;
  rootVeth(gateway: number): string;
}

export function testbedNames(prefix: string): TestbedNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new HearthError('invalid_name', `testbed prefix "${prefix}" must be up to 5 of [a-z0-9], optionally ending in "-"`);
  }
  const checked = (gateway: number): number => {
    if (!Number.isInteger(gateway) || gateway < 1 || gateway > MAX_GATEWAYS) {
      throw new HearthError('invalid_request', `gateway number ${gateway} is not in 1..${MAX_GATEWAYS}`);
    }
    return gateway;
  };
  return {
    bridge: `${prefix}tbbr`,
    namespace: (gateway) => `${prefix}gw${checked(gateway)}`,
    rootVeth: (gateway) => `${prefix}tbu${checked(gateway)}`,
  };
}

export interface TestbedNetworkInit {
  /** Distinguishes concurrent testbeds: names and teardown are per prefix. */
  prefix: string;
  /** UDP port of the link emulator, also each VXLAN device's own port (default 4789). */
  port?: number;
  underlay?: Subnet;
  community?: Subnet;
  /** VXLAN network identifier (default 42). */
  vni?: number;
  run?: IpRunner;
}

export interface GatewayNetwork {
  gateway: number;
  namespace: string;
  rootVeth: string;
  underlayAddress: string;
  communityAddress: string;
  /** Where the emulator delivers to this gateway. */
  endpoint: { host: string; port: number };
  device: string;
  mac: string;
}

export interface TestbedNetwork {
  readonly bridge: string;
  /** Where the link emulator must listen. */
  readonly emulatorEndpoint: { host: string; port: number };
  gateway(gateway: number): GatewayNetwork;
  /** Creates the root bridge with the emulator's underlay address. */
  createUnderlay(options?: { signal?: AbortSignal }): Promise<void>;
  addGateway(gateway: number, options?: { signal?: AbortSignal }): Promise<GatewayNetwork>;
  removeGateway(gateway: number, options?: { signal?: AbortSignal }): Promise<void>;
  /** Removes every namespace and link of this prefix (see `teardownTestbedNetwork`). */
  teardown(options?: { signal?: AbortSignal }): Promise<TeardownResult>;
}

export interface TeardownResult {
  namespaces: string[];
  links: string[];
}

async function listLinks(run: IpRunner, signal: AbortSignal | undefined): Promise<string[]> {
  const out = await run(['-j', 'link', 'show'], signal ? { signal } : {});
  return (JSON.parse(out || '[]') as Array<{ ifname: string }>).map((l) => l.ifname);
}

async function listNamespaces(run: IpRunner, signal: AbortSignal | undefined): Promise<string[]> {
  const out = await run(['-j', 'netns', 'list'], signal ? { signal } : {});
  return (JSON.parse(out || '[]') as Array<{ name: string }>).map((n) => n.name);
}

/**
 * Deletes the TUN devices in namespace `ns`: a gateway's WireGuard daemon
 * (wireguard-go) outlives its agent and would keep the namespace alive after
 * `netns del`; deleting its device stops it. Best effort.
 */
export async function removeTunDevices(ns: string, options: { signal?: AbortSignal; run?: IpRunner } = {}): Promise<void> {
  const run = options.run ?? runIp;
  const opts = options.signal ? { signal: options.signal } : {};
  const tuns = JSON.parse((await run(['-n', ns, '-j', '-d', 'link', 'show', 'type', 'tun'], opts).catch(() => '')) || '[]') as Array<{ ifname: string }>;
  for (const { ifname } of tuns) await run(['-n', ns, 'link', 'del', ifname], opts).catch(() => undefined);
}

// Deleting what is already gone is success: teardown must be safe to repeat.
async function removeIfPresent(run: IpRunner, args: string[], stillThere: () => Promise<boolean>, signal: AbortSignal | undefined): Promise<void> {
  try {
    await run(args, signal ? { signal } : {});
  } catch (error) {
    if (await stillThere()) throw error;
  }
}

/**
 * Removes the namespaces `<prefix>gw<N>` and the links `<prefix>tbu<N>` and
 * `<prefix>tbbr`, and nothing else. Root veths go first: deleting one takes
 * its peer along at once, while a namespace's own links vanish asynchronously.
 * Processes still running inside a namespace keep it alive: stop them first.
 */
export async function teardownTestbedNetwork(
  prefix: string,
  options: { signal?: AbortSignal; run?: IpRunner } = {},
): Promise<TeardownResult> {
  const names = testbedNames(prefix);
  const run = options.run ?? runIp;
  const { signal } = options;
  const escaped = prefix.replace(/-/g, '\\-');
  const ours = new RegExp(`^${escaped}tbu\\d+$`);
  const links = (await listLinks(run, signal)).filter((name) => ours.test(name));
  for (const link of links) {
    await removeIfPresent(run, ['link', 'del', link], async () => (await listLinks(run, signal)).includes(link), signal);
  }
  const ourNamespace = new RegExp(`^${escaped}gw\\d+$`);
  const namespaces = (await listNamespaces(run, signal)).filter((name) => ourNamespace.test(name));
  for (const ns of namespaces) {
    await removeTunDevices(ns, { run, ...(signal ? { signal } : {}) });
    await removeIfPresent(run, ['netns', 'del', ns], async () => (await listNamespaces(run, signal)).includes(ns), signal);
  }
  if ((await listLinks(run, signal)).includes(names.bridge)) {
    await removeIfPresent(run, ['link', 'del', names.bridge], async () => (await listLinks(run, signal)).includes(names.bridge), signal);
    links.push(names.bridge);
  }
  return { namespaces, links };
}

export function createTestbedNetwork(init: TestbedNetworkInit): TestbedNetwork {
  const names = testbedNames(init.prefix);
  const run = init.run ?? runIp;
  const underlay = init.underlay ?? DEFAULT_UNDERLAY;
  const community = init.community ?? DEFAULT_COMMUNITY;
  const port = init.port ?? 4789;
  const vni = init.vni ?? 42;
  const emulatorAddress = emulatorUnderlayAddress(underlay);
  const opts = (signal: AbortSignal | undefined): { signal?: AbortSignal } => (signal ? { signal } : {});

  const gateway = (i: number): GatewayNetwork => {
    const underlayAddress = gatewayUnderlayAddress(underlay, i);
    return {
      gateway: i,
      namespace: names.namespace(i),
      rootVeth: names.rootVeth(i),
      underlayAddress,
      communityAddress: gatewayCommunityAddress(community, i),
      endpoint: { host: underlayAddress, port },
      device: COMMUNITY_DEVICE,
      mac: gatewayMac(i),
    };
  };

  const removeGateway = async (i: number, signal: AbortSignal | undefined): Promise<void> => {
    const g = gateway(i);
    await removeIfPresent(run, ['link', 'del', g.rootVeth], async () => (await listLinks(run, signal)).includes(g.rootVeth), signal);
    await removeIfPresent(run, ['netns', 'del', g.namespace], async () => (await listNamespaces(run, signal)).includes(g.namespace), signal);
  };

  return {
    bridge: names.bridge,
    emulatorEndpoint: { host: emulatorAddress, port },
    gateway,
    async createUnderlay(options = {}) {
      const o = opts(options.signal);
      await run(['link', 'add', names.bridge, 'type', 'bridge'], o);
      await run(['addr', 'add', `${emulatorAddress}/${underlay.prefixLength}`, 'dev', names.bridge], o);
      await run(['link', 'set', names.bridge, 'up'], o);
    },
    async addGateway(i, options = {}) {
      const g = gateway(i);
      const o = opts(options.signal);
      const inNs = (...args: string[]): Promise<string> => run(['-n', g.namespace, ...args], o);
      await run(['netns', 'add', g.namespace], o);
      try {
        await run(['link', 'add', g.rootVeth, 'type', 'veth', 'peer', 'name', UNDERLAY_DEVICE, 'netns', g.namespace], o);
        await run(['link', 'set', g.rootVeth, 'master', names.bridge, 'up'], o);
        await inNs('link', 'set', 'lo', 'up');
        await inNs('addr', 'add', `${g.underlayAddress}/${underlay.prefixLength}`, 'dev', UNDERLAY_DEVICE);
        await inNs('link', 'set', UNDERLAY_DEVICE, 'up');
        await inNs(
          'link', 'add', COMMUNITY_DEVICE, 'address', g.mac, 'mtu', String(COMMUNITY_MTU),
          'type', 'vxlan', 'id', String(vni), 'local', g.underlayAddress, 'remote', emulatorAddress,
          'dstport', String(port), 'dev', UNDERLAY_DEVICE, 'nolearning', 'remcsumtx', 'remcsumrx',
        );
        await inNs('addr', 'add', `${g.communityAddress}/${community.prefixLength}`, 'dev', COMMUNITY_DEVICE);
        await inNs('link', 'set', COMMUNITY_DEVICE, 'up');
      } catch (error) {
        await removeGateway(i, undefined).catch(() => undefined);
        throw error;
      }
      return g;
    },
    removeGateway(i, options = {}) {
      return removeGateway(i, options.signal);
    },
    teardown(options = {}) {
      return teardownTestbedNetwork(init.prefix, { run, ...opts(options.signal) });
    },
  };
}
