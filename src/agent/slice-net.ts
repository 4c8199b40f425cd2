// Runs this gateway's part of the slice networks, from its slice records and
// its membership view, every few seconds and at once on a change of either:
// the plan (cloud/slice-net.ts) says which slices need a segment here and
// which gateways share one; this shell brings up the WireGuard interface,
// sets its peers to exactly those gateways, makes the segments with their
// flood lists, and plugs each running sliver of a slice into its segment
// with the hosts file of its slice.
// A peer's WireGuard key is fetched from the peer itself over the pinned
// mutual-TLS peer API (the route below), so a key is accepted only from the
// gateway whose certificate the community gossips, never from gossip alone.
// A revoked or failed gateway drops out of the view, and so out of the
// peers, at the next round.
// Must never: make a peer of a gateway that shares no slice with this one,
// or take a key for a gateway from anyone but that gateway.

import { createHash } from 'node:crypto';
import { createRounds } from '../kit/rounds.js';
import type { Logger } from '../model/logger.js';
import { parseHostPort } from '../model/host-port.js';
import { HearthError } from '../model/errors.js';
import { peerAddress, type ViewState } from '../overlay/view.js';
import type { PeerCaller } from '../peer/caller.js';
import type { PeerRoute } from '../peer/router.js';
import {
  gatewayTunnelAddress, planSliceNets, sliceHostsFile, sliceVni, sliverNetAddresses, SLICE_NET_V4_BITS, SLICE_NET_V6_BITS,
} from '../cloud/slice-net.js';
import { createSliceFirewall } from '../net/slice-firewall.js';
import { createSliceSegments, sliceMtus, type SliceSegments } from '../net/slice-segments.js';
import { generateKeyPair, isWgKey, publicKeyOf, readKeyFile, writeKeyFile } from '../net/wg/keys.js';
import { createWgTunnel } from '../net/wg/tunnel.js';
import type { WgPeer } from '../net/wg/peers.js';
import { incarnationOf, type SliceHosting } from '../slivers/hosting.js';
import type { SliceRecord, StoredSliver } from '../store/store.js';
import { pathExists } from '../kit/exists.js';

export const SLICE_NET_ROUTES = {
  tunnel: { method: 'GET', path: '/peer/v1/net/tunnel' },
} as const;

/** What a gateway answers about its tunnel end. */
export interface TunnelEnd {
  publicKey: string;
  port: number;
}

export interface SliceNetInit {
  self: string;
  /** This gateway's id (its certificate's fingerprint): its tunnel address and its link names come from it. */
  selfId: string;
  keyFile: string;
  port: number;
  hosting: Pick<SliceHosting, 'live' | 'slivers'>;
  community: { view(): ViewState; readonly caller: PeerCaller; onViewChange(listener: () => void): () => void };
  /** The running sliver's network namespace (a path to enter), or null. */
  netnsOf(sliver: StoredSliver): Promise<string | null>;
  /** The MTU of the link the gateway talks to the community on: the tunnel and segments are sized to fit in it. */
  underlayMtu(): Promise<number>;
  /** Replaces /etc/hosts in a running sliver. */
  writeHosts(sliver: StoredSliver, content: string): Promise<void>;
  log: Logger;
  nowSec: () => number;
  intervalMs?: number;
}

export interface SliceNet {
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

const KEEPALIVE_SEC = 25;
/** Rounds between two in which the tunnel and segments are read back from the kernel even if nothing changed. */
const FULL_ROUND_EVERY = 30;

/** Link names on a host shared by several gateways (the testbed): from the gateway's id. */
export function sliceNetNames(selfId: string): { tunnel: string; prefix: string } {
  const h = createHash('sha256').update(`hearth links\0${selfId}`).digest('hex');
  return { tunnel: `hw${h.slice(0, 8)}`, prefix: `h${h.slice(8, 13)}` };
}

/** The host end of a sliver's slice-network veth (`hv…` is its gateway-bridge veth). */
export function sliceVethName(sliverId: string): string {
  return `hs${createHash('sha256').update(sliverId).digest('hex').slice(0, 13)}`;
}

/** The peer route that tells a member this gateway's tunnel end: its public key and UDP port. */
export function sliceNetRoutes(init: { keyFile: string; port: number }): PeerRoute[] {
  return [{
    ...SLICE_NET_ROUTES.tunnel,
    handler: async () => {
      const privateKey = await readKeyFile(init.keyFile).catch((err: unknown) => {
        throw new HearthError('internal', 'this gateway has no tunnel key', {}, { cause: err });
      });
      return { body: { publicKey: publicKeyOf(privateKey), port: init.port } satisfies TunnelEnd };
    },
  }];
}

/** Makes the private key in `keyFile` on first use. */
export async function ensureTunnelKey(keyFile: string): Promise<void> {
  if (!(await pathExists(keyFile))) await writeKeyFile(keyFile, generateKeyPair().privateKey);
}

interface LiveSlice { record: SliceRecord; vni: number; size: number }

/** The live slices hosted here with their network ids, keyed `user name` (as a sliver's member user and slice name). */
export function liveSliceNets(hosting: Pick<SliceHosting, 'live'>, nowSec: number): Map<string, LiveSlice> {
  return new Map(hosting.live(nowSec).map(({ record, size }) =>
    [`${record.user} ${record.name}`, { record, vni: sliceVni(record.user, record.name, incarnationOf(record.document)), size }]));
}

export function createSliceNet(init: SliceNetInit): SliceNet {
  const { self, selfId, community, hosting, log } = init;
  const names = sliceNetNames(selfId);
  const local = gatewayTunnelAddress(selfId);
  const tunnel = createWgTunnel({ name: names.tunnel, log });
  const firewall = createSliceFirewall({ table: `hearth_sn_${names.prefix}`, tunnel: names.tunnel, vxlanPrefix: `${names.prefix}x` });
  /** Peers' tunnel ends by id, as they told us; dropped when a call fails, so a new key is fetched. */
  const ends = new Map<string, TunnelEnd>();
  /** The hosts file each plugged-in sliver got, by sliver id. */
  const hostsGiven = new Map<string, string>();
  /** What the tunnel's peers and the segments were last made to be, and how many rounds ran. */
  let applied = '';
  /** What the firewall was last made to guard. */
  let guarded = '';
  /** Which slivers (with their slice's id and size) were all plugged in last. */
  let pluggedIn = '';
  let roundsRun = 0;
  /** The segments, made when the tunnel comes up, sized for the community link then. */
  let segments: SliceSegments | undefined;

  const liveSlices = (): Map<string, LiveSlice> => liveSliceNets(hosting, init.nowSec());

  const endOf = async (member: string, id: string): Promise<TunnelEnd | undefined> => {
    const known = ends.get(id);
    if (known !== undefined) return known;
    try {
      const reply = await community.caller.call(member, SLICE_NET_ROUTES.tunnel, undefined, { timeoutMs: 5000 }) as Partial<TunnelEnd>;
      if (typeof reply.publicKey !== 'string' || !isWgKey(reply.publicKey) || typeof reply.port !== 'number') {
        log.warn({ member }, 'a gateway sent a malformed tunnel end; not peering with it');
        return undefined;
      }
      const end = { publicKey: reply.publicKey, port: reply.port };
      ends.set(id, end);
      return end;
    } catch (err) {
      log.warn({ member, err: (err as Error).message }, 'could not fetch a gateway\'s tunnel key; trying again next round');
      return undefined;
    }
  };

  /** Plugs a sliver in when its veth is not there (new, or restarted: its namespace took the pair along), and writes its hosts file when it changed. */
  const plug = async (segments: SliceSegments, sliver: StoredSliver, slice: LiveSlice, links: ReadonlySet<string>): Promise<void> => {
    const veth = sliceVethName(sliver.id);
    const hosts = sliceHostsFile(slice.record.name, slice.vni, slice.size);
    if (links.has(veth) && hostsGiven.get(sliver.id) === hosts) return;
    if (!links.has(veth)) {
      const netns = await init.netnsOf(sliver);
      if (netns === null) return;
      const a = sliverNetAddresses(slice.vni, sliver.member?.index ?? -1);
      await segments.attach({
        vni: slice.vni, hostVeth: veth, netns, mac: a.mac,
        addresses: [`${a.ipv4}/${SLICE_NET_V4_BITS}`, `${a.ipv6}/${SLICE_NET_V6_BITS}`],
      });
      log.info({ sliver: sliver.spec.name, address: a.ipv4 }, 'sliver joined its slice network');
    }
    await init.writeHosts(sliver, hosts);
    hostsGiven.set(sliver.id, hosts);
  };

  async function once(): Promise<void> {
    let view: ViewState;
    try {
      view = community.view();
    } catch {
      return; // not in a community: no slice to join
    }
    const live = liveSlices();
    const reachable = (name: string): boolean => {
      const m = view.members.get(name);
      return m !== undefined && m.status === 'alive' && m.tags !== null && peerAddress(m) !== null;
    };
    const plan = planSliceNets(self, [...live.values()].map((s) => ({ vni: s.vni, placement: s.record.placement })), reachable);
    if (plan.segments.length === 0 && segments === undefined) return;
    if (segments === undefined) {
      const mtus = sliceMtus(await init.underlayMtu());
      await tunnel.up({ privateKeyFile: init.keyFile, listenPort: init.port, addresses: [`${local}/64`], mtu: mtus.tunnel });
      segments = createSliceSegments({ prefix: names.prefix, underlay: names.tunnel, local, mtu: mtus.slice, log });
      log.info({ tunnel: names.tunnel, address: local, port: init.port, mtu: mtus.tunnel }, 'slice network tunnel up');
    }
    const peers: WgPeer[] = [];
    const addressOf = new Map<string, string>();
    for (const name of plan.tunnels) {
      const m = view.members.get(name);
      const id = m?.tags?.id;
      const host = m === undefined ? undefined : parseHostPort(peerAddress(m) ?? '')?.host;
      if (id === undefined || host === undefined) continue;
      const end = await endOf(name, id);
      if (end === undefined) continue;
      const address = gatewayTunnelAddress(id);
      addressOf.set(name, address);
      peers.push({ publicKey: end.publicKey, endpoint: { host, port: end.port }, allowedIps: [`${address}/128`], persistentKeepalive: KEEPALIVE_SEC });
    }
    const wanted = plan.segments.map((s) => ({ vni: s.vni, remotes: s.remotes.flatMap((r) => addressOf.get(r) ?? []) }));
    const running = hosting.slivers().filter((s) => s.member !== null && s.desired === 'running' && s.observed === 'running');
    for (const id of hostsGiven.keys()) if (!running.some((s) => s.id === id)) hostsGiven.delete(id);
    const members = running.flatMap((sliver) => {
      const slice = live.get(`${sliver.member?.user ?? ''} ${sliver.spec.slice}`);
      return slice === undefined ? [] : [{ sliver, slice }];
    });

    // The kernel is read and set when the wish changed, and every FULL_ROUND_EVERY rounds to repair drift (a killed daemon).
    // The firewall goes first: a port is guarded before its sliver is plugged in, a peer let in before its segment floods to us.
    const full = roundsRun++ % FULL_ROUND_EVERY === 0;
    const ports = members.map(({ sliver, slice }) => {
      const a = sliverNetAddresses(slice.vni, sliver.member?.index ?? -1);
      return { hostVeth: sliceVethName(sliver.id), mac: a.mac, ipv4: a.ipv4, ipv6: a.ipv6 };
    });
    const guard = JSON.stringify({ ports, wanted });
    if (guard !== guarded || full) {
      await firewall.apply(ports, wanted.flatMap((s) => s.remotes.map((address) => ({ address, vni: s.vni }))));
      guarded = guard;
    }
    const wish = JSON.stringify({ peers, wanted });
    if (wish !== applied || full) {
      const diff = await tunnel.setPeers(peers);
      if (diff.remove.length > 0 || diff.add.length > 0) log.info({ peers: peers.length }, 'slice network peers set');
      await segments.apply(wanted);
      applied = wish;
    }

    // Nothing to look at in the kernel when the same slivers of the same slices run as last round
    // (a sliver that restarts goes through another state first; a full round catches the rest).
    const those = JSON.stringify(members.map(({ sliver, slice }) => [sliver.id, slice.vni, slice.size]));
    if (those === pluggedIn && !full) return;
    pluggedIn = '';
    if (members.length === 0) return;
    const links = await segments.linkNames();
    let all = true;
    for (const { sliver, slice } of members) {
      try {
        await plug(segments, sliver, slice, links);
      } catch (err) {
        all = false;
        log.warn({ sliver: sliver.spec.name, err: (err as Error).message }, 'could not plug a sliver into its slice network; trying again');
      }
    }
    if (all) pluggedIn = those;
  }

  const rounds = createRounds({
    round: once,
    onError: (err) => {
      // A peer whose handshake keeps failing may have a new key: ask again next round; and read the kernel back.
      ends.clear();
      applied = '';
      guarded = '';
      pluggedIn = '';
      log.warn({ err: (err as Error).message }, 'keeping the slice networks failed');
    },
    intervalMs: init.intervalMs ?? 2000,
    wake: (tick) => community.onViewChange(tick),
  });
  return rounds;
}
