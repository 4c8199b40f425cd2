// One WireGuard interface of a gateway, run by wireguard-go (userspace; the
// kernel here has no WireGuard module) and configured with wg and ip, every
// command inside the gateway's network namespace (nsenter --net, not
// `ip netns exec`, whose /sys remount hides LXC's cgroups).
//
// wireguard-go forks a daemon and exits once the interface and its control
// socket exist. The daemon is nobody's child, so it outlives a kill -9 of the
// agent, as slivers do, and a restart's `up` finds it and only reapplies what
// differs; a daemon killed on its own takes its interface along (the TUN
// device dies with its last file), and `up` starts a new one (wireguard-go
// replaces the stale socket itself). Deleting the interface stops the daemon.
//
// Must never: run wg while the daemon serving the name is in another
// namespace (the control socket path is host-wide, so wg would configure
// that gateway's interface), delete a link that is not a TUN device, pass a
// private key on a command line, or put it in a log line or an error.

import { rm } from 'node:fs/promises';
import { HearthError } from '../../model/errors.js';
import type { Logger } from '../../model/logger.js';
import { delay } from '../../kit/delay.js';
import { createSerial } from '../../kit/serial.js';
import { validateLinkName } from '../names.js';
import { namespaceRunner } from '../netns-run.js';
import { toolFailure } from '../run.js';
import type { NetOpOptions } from '../types.js';
import { canonicalInterfaceAddress } from './cidr.js';
import { findDaemons, namespaceId, type WgDaemon } from './daemon.js';
import { parseDump, type WgDump } from './dump.js';
import { publicKeyOf, readKeyFile, validateWgKey } from './keys.js';
import { diffPeers, isEmptyDiff, normalizePeers, peerArgs, type PeerDiff, type WgPeer } from './peers.js';

/** WireGuard's own default: 1500 less 80 bytes of IPv6, UDP and WireGuard headers. */
export const DEFAULT_WG_MTU = 1420;
const EXIT_WAIT_MS = 5000;
const POLL_MS = 50;

export interface WgTunnelInit {
  /** The interface; also names the control socket /var/run/wireguard/<name>.sock, so unique on the host. */
  name: string;
  /** A network namespace under /var/run/netns; the agent's own when absent. */
  namespace?: string;
  log?: Logger;
}

export interface WgInterfaceConfig {
  /** A file holding the private key, as wg genkey writes it (see writeKeyFile). */
  privateKeyFile: string;
  listenPort: number;
  /** The interface's own addresses with their prefix, IPv4 and IPv6, e.g. 10.252.0.1/24 and fd52::1/64; exactly these are kept. */
  addresses: readonly string[];
  /** Default DEFAULT_WG_MTU. */
  mtu?: number;
}

export interface WgTunnel {
  readonly name: string;
  /** Idempotent: the daemon runs, key, port, addresses and MTU are as given, the link is up. Peers are kept. */
  up(config: WgInterfaceConfig, opts?: NetOpOptions): Promise<void>;
  /** Makes the peers exactly `peers` with one `wg set`; returns what changed (nothing: no call). */
  setPeers(peers: readonly WgPeer[], opts?: NetOpOptions): Promise<PeerDiff>;
  /** Drops one peer and its sessions at once (revocation); absent peer or interface → ok. */
  removePeer(publicKey: string, opts?: NetOpOptions): Promise<void>;
  /** The interface's public key, port, and per-peer handshake and byte counts. */
  status(opts?: NetOpOptions): Promise<WgDump>;
  /** Idempotent: interface, daemon and control socket gone. */
  down(opts?: NetOpOptions): Promise<void>;
}

export function createWgTunnel(init: WgTunnelInit): WgTunnel {
  const { name, namespace, log } = init;
  validateLinkName('interface', name);
  const { run, runChecked } = namespaceRunner(namespace);
  const socket = `/var/run/wireguard/${name}.sock`;

  // Each operation reads then writes; queued, a setPeers computed before a
  // removePeer can never re-add the removed peer after it.
  const serialize = createSerial();

  const here = async (): Promise<string> => {
    try {
      return await namespaceId(namespace);
    } catch (error) {
      throw new HearthError('network_error', `no network namespace ${namespace ?? '(own)'}`, { namespace }, { cause: error });
    }
  };

  /** The daemons serving `name` in this namespace; name_taken if one serves it in another. */
  const ownDaemons = async (): Promise<WgDaemon[]> => {
    const ns = await here();
    const daemons = await findDaemons(name);
    const other = daemons.find((d) => d.netns !== ns);
    if (other !== undefined) {
      throw new HearthError(
        'name_taken',
        `WireGuard interface ${name} is served by wireguard-go (pid ${other.pid}) in another network namespace; its control socket ${socket} is shared by all namespaces`,
        { field: 'interface', pid: other.pid },
      );
    }
    return daemons;
  };

  const linkKind = async (opts: NetOpOptions): Promise<string | undefined> => {
    const result = await run(['ip', '-j', '-d', 'link', 'show', 'dev', name], opts);
    if (result.exitCode !== 0) {
      if (/does not exist|cannot find device/i.test(result.stderr)) return undefined;
      throw toolFailure('ip', ['-d', 'link', 'show', 'dev', name], result);
    }
    const links = JSON.parse(result.stdout) as Array<{ linkinfo?: { info_kind?: string } }>;
    return links[0]?.linkinfo?.info_kind ?? '';
  };

  /** Polls until `done`, for at most EXIT_WAIT_MS; false on time-out. */
  const waitFor = async (done: () => Promise<boolean>, opts: NetOpOptions): Promise<boolean> => {
    for (let waited = 0; waited < EXIT_WAIT_MS; waited += POLL_MS) {
      if (await done()) return true;
      await delay(POLL_MS, opts);
    }
    return done();
  };

  /** A daemon serving a TUN device of the name here: the one running, or a new one. */
  const ensureDaemon = async (opts: NetOpOptions): Promise<void> => {
    const pids = new Set((await ownDaemons()).map((d) => d.pid));
    if (pids.size > 0 && (await linkKind(opts)) === 'tun') return;
    // A daemon without its interface is on its way out: let it go first.
    if (pids.size > 0 && !(await waitFor(async () => (await findDaemons(name)).every((d) => !pids.has(d.pid)), opts))) {
      throw new HearthError('network_error', `wireguard-go (pid ${[...pids].join(', ')}) holds ${name} but its interface is gone`, { interface: name });
    }
    const kind = await linkKind(opts);
    if (kind !== undefined && kind !== 'tun') {
      throw new HearthError('network_error', `link ${name} exists and is a ${kind || 'plain'} link, not wireguard-go's`, { interface: name });
    }
    // A daemon killed an instant ago may still be closing its TUN device.
    if (kind === 'tun' && !(await waitFor(async () => (await linkKind(opts)) === undefined, opts))) {
      throw new HearthError('network_error', `TUN device ${name} exists but no wireguard-go serves it`, { interface: name });
    }
    // With LOG_LEVEL set, the daemon would keep our pipes open and never let us see the launcher exit.
    const result = await run(['env', '-u', 'LOG_LEVEL', 'wireguard-go', name], opts);
    if (result.exitCode !== 0) {
      // Drop the boxed banner that recommends the kernel module.
      const stderr = result.stderr.split('\n').filter((l) => !/^[│┌└]/.test(l)).join('\n');
      throw toolFailure('wireguard-go', [name], { ...result, stderr });
    }
    log?.info({ interface: name, namespace }, 'wireguard-go started');
  };

  const readDump = async (opts: NetOpOptions): Promise<WgDump> => parseDump((await runChecked(['wg', 'show', name, 'dump'], opts)).stdout);

  const syncAddresses = async (addresses: readonly string[], opts: NetOpOptions): Promise<void> => {
    const shown = JSON.parse((await runChecked(['ip', '-j', 'addr', 'show', 'dev', name], opts)).stdout) as Array<{
      addr_info?: Array<{ local: string; prefixlen: number; scope?: string }>;
    }>;
    const have = (shown[0]?.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => canonicalInterfaceAddress(`${a.local}/${a.prefixlen}`));
    for (const address of addresses.filter((a) => !have.includes(a))) {
      // No duplicate address detection: the far end of a tunnel is no neighbour to ask.
      await runChecked(['ip', 'addr', 'replace', address, 'dev', name, ...(address.includes(':') ? ['nodad'] : [])], opts);
    }
    for (const address of have.filter((a): a is string => a !== undefined && !addresses.includes(a))) {
      await runChecked(['ip', 'addr', 'del', address, 'dev', name], opts);
    }
  };

  return {
    name,

    async up(config, opts = {}) {
      const { privateKeyFile, listenPort, mtu = DEFAULT_WG_MTU } = config;
      if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535) {
        throw new HearthError('invalid_request', `listen port ${listenPort} is not in 1..65535`, { field: 'listenPort' });
      }
      if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535) {
        throw new HearthError('invalid_request', `MTU ${mtu} is not in 1280..65535`, { field: 'mtu' });
      }
      const addresses = config.addresses.map((a) => {
        const canonical = canonicalInterfaceAddress(a);
        if (canonical === undefined) throw new HearthError('invalid_request', `interface address ${JSON.stringify(a)} is not address/length`, { field: 'addresses' });
        return canonical;
      });
      const publicKey = publicKeyOf(await readKeyFile(privateKeyFile));
      return serialize(async () => {
        await ensureDaemon(opts);
        const dump = await readDump(opts);
        // Set only what differs: a listen port set again rebinds the socket.
        const set = [
          ...(dump.listenPort === listenPort ? [] : ['listen-port', String(listenPort)]),
          ...(dump.publicKey === publicKey ? [] : ['private-key', privateKeyFile]),
        ];
        if (set.length > 0) await runChecked(['wg', 'set', name, ...set], opts);
        await syncAddresses(addresses, opts);
        await runChecked(['ip', 'link', 'set', 'dev', name, 'mtu', String(mtu), 'up'], opts);
        log?.info({ interface: name, namespace, publicKey, listenPort }, 'WireGuard interface up');
      });
    },

    async setPeers(peers, opts = {}) {
      const desired = normalizePeers(peers);
      return serialize(async () => {
        if ((await ownDaemons()).length === 0) throw new HearthError('network_error', `WireGuard interface ${name} is not up`, { interface: name });
        const diff = diffPeers(desired, await readDump(opts));
        if (isEmptyDiff(diff)) return diff;
        await runChecked(['wg', 'set', name, ...peerArgs(diff)], opts);
        log?.info({ interface: name, added: diff.add.length, updated: diff.update.length, removed: diff.remove }, 'WireGuard peers set');
        return diff;
      });
    },

    async removePeer(publicKey, opts = {}) {
      validateWgKey('publicKey', publicKey);
      return serialize(async () => {
        if ((await ownDaemons()).length === 0) return;
        await runChecked(['wg', 'set', name, 'peer', publicKey, 'remove'], opts);
        log?.info({ interface: name, publicKey }, 'WireGuard peer removed');
      });
    },

    status(opts = {}) {
      return serialize(async () => {
        if ((await ownDaemons()).length === 0) throw new HearthError('network_error', `WireGuard interface ${name} is not up`, { interface: name });
        return readDump(opts);
      });
    },

    down(opts = {}) {
      return serialize(async () => {
        const mine = new Set((await ownDaemons()).map((d) => d.pid));
        const kind = await linkKind(opts);
        if (kind !== undefined && kind !== 'tun') {
          throw new HearthError('network_error', `refusing to remove ${name}: it is a ${kind || 'plain'} link, not wireguard-go's`, { interface: name });
        }
        if (kind !== undefined) {
          const result = await run(['ip', 'link', 'del', 'dev', name], opts);
          if (result.exitCode !== 0 && !/cannot find device|does not exist/i.test(result.stderr)) throw toolFailure('ip', ['link', 'del', 'dev', name], result);
        }
        const exited = await waitFor(async () => (await findDaemons(name)).every((d) => !mine.has(d.pid)), opts);
        if (!exited) throw new HearthError('network_error', `wireguard-go for ${name} did not exit within ${EXIT_WAIT_MS} ms of its interface's removal`, { interface: name });
        // A daemon killed outright leaves its socket; remove it only while no daemon anywhere holds the name.
        if ((await findDaemons(name)).length === 0) await rm(socket, { force: true });
        if (kind !== undefined || mine.size > 0) log?.info({ interface: name, namespace }, 'WireGuard interface down');
      });
    },
  };
}
