// The vocabulary of sliver networking: what the agent tells net/ (the bridge
// to run, the ports and forwards it wants) and what net/ offers back.
// Types only; the rules live in ruleset.ts and the kernel work in sliver-net.ts.

export interface SliverNetworkInit {
  /** Host bridge the slivers' veths join (at most 15 characters). */
  bridge: string;
  /** The sliver subnet in CIDR form, e.g. 10.213.0.0/24; its first host address is the gateway. */
  subnet: string;
  /** nftables table name used in both the inet and the bridge family, e.g. 'hearth'. */
  table: string;
  /**
   * The gateway's id (hex): its first digits mark the tables as this
   * gateway's. Without it, tables with this exact table, bridge and subnet
   * count as its own.
   */
  gatewayId?: string;
}

/** One sliver's attachment to the bridge. */
export interface SliverPort {
  sliverId: string;
  /** Ports of the same slice may exchange frames; of different slices, never. */
  slice: string;
  /** Host-side veth name, see hostVethName(). */
  hostVeth: string;
  /** Bare IPv4 address inside the subnet; the only source address the port may use. */
  address: string;
}

/** Connections to a host address on hostPort are sent to address:port. */
export interface PortForward {
  proto: 'tcp' | 'udp';
  hostPort: number;
  address: string;
  port: number;
}

/**
 * A revoked gateway's gossip, cut at this gateway's firewall: packets from its
 * gossip port, and to our gossip port from its address.
 * Every member cutting it makes it `failed` everywhere, so a key rotation's
 * queries never reach it and, once the old key is gone, it cannot come back.
 */
export interface BlockedPeer {
  /** Its gossip address (IPv4 or IPv6, bare). */
  address: string;
  /** Its gossip port. */
  port: number;
  /** This gateway's gossip port. */
  localPort: number;
}

/** Everything the firewall must know; applying a plan replaces the previous one. */
export interface NetworkPlan {
  ports: SliverPort[];
  forwards: PortForward[];
  /** Revoked gateways whose gossip is dropped; none when absent. */
  blocked?: BlockedPeer[];
}

export interface NetOpOptions {
  signal?: AbortSignal;
}

export interface SliverNetwork {
  readonly bridge: string;
  /** The bridge's address, the slivers' default route. */
  readonly gateway: string;
  readonly prefixLength: number;
  /** Idempotent: the bridge exists with the gateway address and is up, IPv4 forwarding is on, the empty plan is applied. */
  setup(opts?: NetOpOptions): Promise<void>;
  /** Replace hearth's firewall with the one for this plan, atomically. */
  apply(plan: NetworkPlan, opts?: NetOpOptions): Promise<void>;
  /** Names of the veths enslaved to the bridge ([] when the bridge is absent). */
  hostVethsOnBridge(opts?: NetOpOptions): Promise<string[]>;
  /** Delete a link (a leftover veth takes its peer with it); absent → ok. */
  removeLink(name: string, opts?: NetOpOptions): Promise<void>;
  /** Delete hearth's tables and the bridge (idempotent). */
  teardown(opts?: NetOpOptions): Promise<void>;
}
