// The gateway's data dir and config file: where everything lives, what the
// owner chose, and `hearth init`, which makes it all once and idempotently.
// Must never: overwrite an owner's existing config, token or key, or write a
// network another gateway on this host already holds.

import { chmod, mkdir, readFile, appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { HearthError } from '../model/errors.js';
import { validateName } from '../model/sliver.js';
import { defaultContribution, validateContribution, type Contribution } from '../host/contribution.js';
import { readInventory } from '../host/inventory.js';
import { CERT_FILE, loadOrCreateIdentity } from '../overlay/identity.js';
import type { SerfTiming } from '../overlay/serf-agent-config.js';
import { findNetworkClash, type NetworkClaims } from '../net/claims.js';
import { DEFAULT_BRIDGE, defaultTableName, validateLinkName, validateTableName } from '../net/names.js';
import { parseSubnet } from '../net/pool.js';
import { readNetworkClaims } from '../net/sliver-net.js';
import { pathExists } from '../kit/exists.js';
import { createOwnerToken, newOwnerToken, type OwnerToken } from '../api/auth.js';

export const DEFAULT_DATA_DIR = '/var/lib/hearth';
export const DEFAULT_API_PORT = 7470;
export const DEFAULT_PEER_PORT = 7471;
export const DEFAULT_SERF_PORT = 7946;
export const DEFAULT_SERF_RPC_PORT = 7373;
export const DEFAULT_SUBNET = '10.213.0.0/24';
/** WireGuard's usual port, for the tunnel that carries slice networks. */
export const DEFAULT_SLICE_NET_PORT = 51820;

/**
 * How slivers are run: `lxc`, as containers; `none`, not at all: they are
 * admitted, reserved and recorded as on any gateway, so placement and healing
 * run for real, but no process runs and no network is made (a community of a
 * hundred gateways on one machine, bench/scale.ts). Never a real gateway.
 */
export const VIRT_DRIVERS = ['lxc', 'none'] as const;
export type VirtDriverName = (typeof VIRT_DRIVERS)[number];

/** What a gateway without containers says of itself, in its log and its node view. */
export const NO_CONTAINERS_NOTE = 'containers are simulated (virt.driver none): slivers are admitted, reserved and recorded, but no process runs';

/** Refuses a driver this build does not know; `source` names the file it came from. */
export function validateVirt(virt: { driver: unknown }, source?: string): void {
  if (!(VIRT_DRIVERS as readonly unknown[]).includes(virt.driver)) {
    const where = source === undefined ? '' : `${source}: `;
    throw new HearthError('invalid_request', `${where}virt.driver must be one of ${VIRT_DRIVERS.join(', ')}, got ${JSON.stringify(virt.driver)}`);
  }
}

/** Fill fields added after a config file was written, so older gateways keep starting. */
export function withDefaults(c: Partial<AgentConfig> & Pick<AgentConfig, 'name' | 'api' | 'contribution' | 'network' | 'lxc'>): AgentConfig {
  return {
    ...c,
    community: { bind: `0.0.0.0:${DEFAULT_SERF_PORT}`, rpcPort: DEFAULT_SERF_RPC_PORT, profile: 'lan', ...c.community },
    peer: { host: '0.0.0.0', port: DEFAULT_PEER_PORT, ...c.peer },
    sliceNet: { enabled: true, port: DEFAULT_SLICE_NET_PORT, ...c.sliceNet },
    virt: { driver: 'lxc', ...c.virt },
  };
}

export interface AgentConfig {
  name: string;
  api: { host: string; port: number; metricsPublic: boolean };
  /** Gossip (Serf): where it binds, its loopback RPC port, and its timing profile. */
  community: {
    bind: string;
    advertise?: string;
    rpcPort: number;
    /** Serf's memberlist timings (probe interval, suspicion): lan suits a community mesh of a few hops. */
    profile: 'lan' | 'wan' | 'local';
    /** Serf's other timings; default COMMUNITY_LINK_TIMING (gateways drop off for hours on community links). */
    timing?: SerfTiming;
    /** The serf executable, when it is not `serf` on PATH. */
    serfBinary?: string;
  };
  /** Agent-to-agent mutual-TLS API; `advertise` (host:port) is what others are told, else the gossip host with this port. */
  peer: { host: string; port: number; advertise?: string };
  contribution: Contribution;
  network: { bridge: string; subnet: string; table: string };
  /**
   * Slice networks: the WireGuard tunnel (UDP `port` on the gateway's
   * community address) and VXLAN segments that join a slice's slivers across
   * gateways. Off for gateways that share one network namespace (tests on
   * loopback), where tunnel addresses could not be told apart.
   */
  sliceNet: { enabled: boolean; port: number };
  /** `imagesDir`: where base images are kept, default the machine's (virt/images.ts). */
  lxc: { idmap: { uid: number; gid: number; count: number }; imagesDir?: string };
  /** `none`: no containers, no sliver network, no slice networks, no shaper (VIRT_DRIVERS). */
  virt: { driver: VirtDriverName };
}

export interface DataPaths {
  dir: string;
  config: string;
  ownerToken: string;
  db: string;
  containers: string;
  identity: string;
  lock: string;
}

export function resolveDataDir(flag?: string): string {
  return flag ?? process.env['HEARTH_DATA_DIR'] ?? DEFAULT_DATA_DIR;
}

export function dataPaths(dir: string): DataPaths {
  return {
    dir,
    config: join(dir, 'config.json'),
    ownerToken: join(dir, 'owner.token'),
    db: join(dir, 'hearth.db'),
    containers: join(dir, 'containers'),
    identity: join(dir, 'identity'),
    lock: join(dir, 'agent.pid'),
  };
}

function defaultName(): string {
  const cleaned = hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return cleaned === '' ? 'gateway' : cleaned;
}

export interface InitOptions {
  dataDir: string;
  name?: string;
  apiHost?: string;
  apiPort?: number;
  contribution?: Partial<Contribution>;
  network?: Partial<AgentConfig['network']>;
  community?: Partial<AgentConfig['community']>;
  peer?: Partial<AgentConfig['peer']>;
  sliceNet?: Partial<AgentConfig['sliceNet']>;
  virt?: Partial<AgentConfig['virt']>;
  /** Files to put the subordinate id ranges in (tests point these elsewhere). */
  subidFiles?: { subuid: string; subgid: string };
  /** What the gateways of this network namespace hold (default: read from nft and ip; tests give a fixed answer). */
  networkClaims?: () => Promise<NetworkClaims>;
}

/**
 * The network a new gateway gets: the owner's choices, else the default
 * bridge and subnet, and a table of its own derived from the bridge.
 */
export function initialNetwork(given: Partial<AgentConfig['network']> = {}): AgentConfig['network'] {
  const bridge = given.bridge ?? DEFAULT_BRIDGE;
  const network = { bridge, subnet: given.subnet ?? DEFAULT_SUBNET, table: given.table ?? defaultTableName(bridge) };
  validateLinkName('bridge', network.bridge);
  validateTableName(network.table);
  parseSubnet(network.subnet);
  return network;
}

export interface InitResult {
  paths: DataPaths;
  /** The gateway's id: its certificate's fingerprint. */
  id: string;
  config: AgentConfig;
  created: string[];
}

export async function initDataDir(opts: InitOptions): Promise<InitResult> {
  const paths = dataPaths(opts.dataDir);
  const created: string[] = [];
  // Unprivileged containers' root file systems live below: every level must be traversable.
  await mkdir(paths.dir, { recursive: true, mode: 0o711 });
  await chmod(paths.dir, 0o711);
  await mkdir(paths.containers, { recursive: true, mode: 0o755 });
  await chmod(paths.containers, 0o755);
  await mkdir(paths.identity, { recursive: true, mode: 0o700 });

  let config: AgentConfig;
  if (await pathExists(paths.config)) {
    config = await loadConfig(paths.dir);
  } else {
    const inventory = await readInventory(paths.dir);
    const base = withDefaults({
      name: opts.name ?? defaultName(),
      api: { host: opts.apiHost ?? '127.0.0.1', port: opts.apiPort ?? DEFAULT_API_PORT, metricsPublic: true },
      contribution: { ...defaultContribution(inventory), ...opts.contribution },
      network: initialNetwork(opts.network),
      lxc: { idmap: { uid: 100000, gid: 100000, count: 65536 } },
    });
    config = {
      ...base, community: { ...base.community, ...opts.community }, peer: { ...base.peer, ...opts.peer }, sliceNet: { ...base.sliceNet, ...opts.sliceNet },
      virt: { ...base.virt, ...opts.virt },
    };
    validateName('gateway', config.name);
    validateContribution(config.contribution, inventory);
    validateVirt(config.virt);
    // A new gateway owns nothing in the kernel yet: whatever holds its table,
    // bridge or subnet is another gateway's (or not hearth's), so say so now
    // rather than at the first agent start. One without containers makes
    // none of them.
    if (config.virt.driver === 'lxc') {
      const claims = await (opts.networkClaims ?? readNetworkClaims)();
      const clash = findNetworkClash(config.network, claims, { fresh: true });
      if (clash !== undefined) throw clash;
    }
    await writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
    created.push(paths.config);
  }
  if (!(await pathExists(paths.ownerToken))) {
    await writeOwnerToken(opts.dataDir, newOwnerToken());
    created.push(paths.ownerToken);
  }
  const identityExisted = await pathExists(join(paths.identity, CERT_FILE));
  const identity = await loadOrCreateIdentity(paths.identity, { commonName: config.name });
  if (!identityExisted) created.push(join(paths.identity, CERT_FILE));
  const files = opts.subidFiles ?? { subuid: '/etc/subuid', subgid: '/etc/subgid' };
  const { idmap } = config.lxc;
  if (await ensureSubid(files.subuid, idmap.uid, idmap.count)) created.push(files.subuid);
  if (await ensureSubid(files.subgid, idmap.gid, idmap.count)) created.push(files.subgid);
  return { paths, config, created, id: identity.id };
}

/** Give root the subordinate id range its unprivileged containers map to, unless it has one covering it. */
async function ensureSubid(file: string, start: number, count: number): Promise<boolean> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // absent: created below
  }
  const covered = text.split('\n').some((line) => {
    const [user, s, c] = line.trim().split(':');
    return (user === 'root' || user === '0') && Number(s) <= start && Number(s) + Number(c) >= start + count;
  });
  if (covered) return false;
  await appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}root:${start}:${count}\n`);
  return true;
}

export async function loadConfig(dataDir: string): Promise<AgentConfig> {
  const { config } = dataPaths(dataDir);
  let text: string;
  try {
    text = await readFile(config, 'utf8');
  } catch {
    throw new HearthError('not_found', `no config at ${config}; run "hearth init" first`);
  }
  let parsed: AgentConfig;
  try {
    parsed = withDefaults(JSON.parse(text) as AgentConfig);
  } catch (err) {
    throw new HearthError('invalid_request', `${config} is not valid JSON: ${(err as Error).message}`);
  }
  validateVirt(parsed.virt, config);
  return parsed;
}

export async function readOwnerToken(dataDir: string): Promise<string> {
  const { ownerToken } = dataPaths(dataDir);
  try {
    return (await readFile(ownerToken, 'utf8')).trim();
  } catch {
    throw new HearthError('unauthorized', `cannot read the owner token at ${ownerToken}; run "hearth init" or set HEARTH_TOKEN`);
  }
}

async function writeOwnerToken(dataDir: string, token: string): Promise<void> {
  await writeFileAtomic(dataPaths(dataDir).ownerToken, `${token}\n`, { mode: 0o600 });
}

/** The owner token the agent checks requests with; a rotation rewrites the file first. */
export async function openOwnerToken(dataDir: string): Promise<OwnerToken> {
  return createOwnerToken(await readOwnerToken(dataDir), (token) => writeOwnerToken(dataDir, token));
}

/** Replaces the config file with `config` (a change the owner made while the agent runs). */
export async function saveConfig(dataDir: string, config: AgentConfig): Promise<void> {
  await writeFileAtomic(dataPaths(dataDir).config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
}
