// Two "gateways" for the WireGuard tunnel's test and bench: network
// namespaces `<prefix>gw1` and `<prefix>gw2` joined by one veth (the
// underlay, 10.253.0.0/24), each to run a WireGuard interface `<prefix>1` /
// `<prefix>2` with tunnel addresses in 10.252.0.0/24 and fd52::/64. Every
// address lives inside the two namespaces, so pairs of different prefixes
// may run at once; interface names differ because wireguard-go's control
// sockets are host-wide.
// Must never: touch a namespace, link, process or socket whose name is not
// one of the pair's.

import { rm } from 'node:fs/promises';
import { runTool, runToolChecked, type ToolResult } from '../../src/net/run.js';
import { findDaemons } from '../../src/net/wg/daemon.js';
import type { WgKeyPair } from '../../src/net/wg/keys.js';
import type { WgPeer } from '../../src/net/wg/peers.js';
import type { WgInterfaceConfig } from '../../src/net/wg/tunnel.js';

export interface WgGateway {
  namespace: string;
  /** The WireGuard interface. */
  name: string;
  veth: string;
  underlay: string;
  listenPort: number;
  tunnel4: string;
  tunnel6: string;
}

export interface WgPair {
  gateways: [WgGateway, WgGateway];
  /** Builds the pair, after removing whatever a killed earlier run left. */
  create(): Promise<void>;
  /** Stops the pair's daemons and removes its namespaces and sockets; safe to repeat. */
  remove(): Promise<void>;
}

export function wgPair(prefix: string): WgPair {
  const gateway = (i: 1 | 2): WgGateway => ({
    namespace: `${prefix}gw${i}`,
    name: `${prefix}${i}`,
    veth: `${prefix}v${i}`,
    underlay: `10.253.0.${i}`,
    listenPort: 51820 + i,
    tunnel4: `10.252.0.${i}`,
    tunnel6: `fd52::${i}`,
  });
  const gateways: [WgGateway, WgGateway] = [gateway(1), gateway(2)];

  const remove = async (): Promise<void> => {
    for (const g of gateways) {
      // A namespace lives on while a process runs in it: the daemons go first.
      for (const d of await findDaemons(g.name)) {
        try {
          process.kill(d.pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      await runTool('ip', ['netns', 'del', g.namespace]);
      await rm(`/var/run/wireguard/${g.name}.sock`, { force: true });
    }
  };

  return {
    gateways,
    remove,
    async create() {
      await remove();
      const [a, b] = gateways;
      for (const g of gateways) {
        await runToolChecked('ip', ['netns', 'add', g.namespace]);
        await inNamespace(g.namespace, ['ip', 'link', 'set', 'dev', 'lo', 'up'], true);
      }
      await runToolChecked('ip', ['link', 'add', a.veth, 'netns', a.namespace, 'type', 'veth', 'peer', 'name', b.veth, 'netns', b.namespace]);
      for (const g of gateways) {
        await inNamespace(g.namespace, ['ip', 'addr', 'add', `${g.underlay}/24`, 'dev', g.veth], true);
        await inNamespace(g.namespace, ['ip', 'link', 'set', 'dev', g.veth, 'up'], true);
      }
    },
  };
}

/** Runs argv in the namespace; with `checked`, a non-zero exit is a rejection. */
export function inNamespace(namespace: string, argv: readonly string[], checked = false, input?: string): Promise<ToolResult> {
  const args = [`--net=/var/run/netns/${namespace}`, '--', ...argv];
  const opts = input === undefined ? {} : { input };
  return checked ? runToolChecked('nsenter', args, opts) : runTool('nsenter', args, opts);
}

/** The interface configuration of gateway `g`, its private key in `privateKeyFile`. */
export function interfaceConfig(g: WgGateway, privateKeyFile: string): WgInterfaceConfig {
  return { privateKeyFile, listenPort: g.listenPort, addresses: [`${g.tunnel4}/24`, `${g.tunnel6}/64`] };
}

/** Gateway `g` as its peer sees it: its key, underlay endpoint and tunnel addresses, a keepalive every 25 s. */
export function peerOf(g: WgGateway, keys: WgKeyPair): WgPeer {
  return {
    publicKey: keys.publicKey,
    endpoint: { host: g.underlay, port: g.listenPort },
    allowedIps: [`${g.tunnel4}/32`, `${g.tunnel6}/128`],
    persistentKeepalive: 25,
  };
}
