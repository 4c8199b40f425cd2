// What a supervised `serf agent` (0.8) is told: the JSON config file and the
// files it seeds (tags, keyring). Everything goes into the config file rather
// than flags, because serf 0.8 takes `rpc_auth` only from a file and secrets
// must not show up in `ps`.
// Must never: touch the file system or the network (serf-agent.ts writes what
// this returns), or invent a join address.

import { encode } from '@msgpack/msgpack';
import { HearthError } from '../model/errors.js';
import { parseHostPort } from '../model/host-port.js';
import { SERF_LIMITS } from './serf-records.js';

/** Serf timings a config file can override in 0.8 (memberlist timings come only from `profile`). */
export interface SerfTiming {
  /** How often to try reaching a failed member again. */
  reconnectIntervalMs?: number;
  /** How long a failed member is retried before it is reaped. */
  reconnectTimeoutMs?: number;
  /** How long a member that left is remembered. */
  tombstoneTimeoutMs?: number;
  /** How long a leave or force-leave broadcast may take. */
  broadcastTimeoutMs?: number;
  /** How often `join` addresses are retried until one answers (serf's minimum is 1 s). */
  retryIntervalMs?: number;
}

/**
 * Suits community wireless links: gateways drop off for hours (power, links
 * re-aligned), so failed members are retried for three days instead of one,
 * broadcasts get more time on lossy hops, and a gateway that boots before
 * its roof link is up keeps trying its seeds every 10 s. The probe timings
 * come from the profile: `lan` (1 s probes, 500 ms timeout) detects a dead
 * gateway in well under 12 s on a few 5-30 ms hops and showed no false
 * failures under the testbed's `poor` links (BENCHMARKS.md); `wan` tolerates
 * hundreds of milliseconds but takes tens of seconds to detect a failure.
 */
export const COMMUNITY_LINK_TIMING: Readonly<SerfTiming> = {
  reconnectIntervalMs: 30_000,
  reconnectTimeoutMs: 72 * 3600_000,
  tombstoneTimeoutMs: 24 * 3600_000,
  broadcastTimeoutMs: 10_000,
  retryIntervalMs: 10_000,
};

export type SerfProfile = 'lan' | 'wan' | 'local';

export interface SerfAgentConfigInit {
  nodeName: string;
  /** Gossip bind `host:port` (IPv4 or `[IPv6]`); TCP and UDP. */
  bindAddress: string;
  /** Address other members should use, when it differs from the bind address (NAT). */
  advertiseAddress?: string;
  /** RPC listener `host:port`; must be a loopback address. */
  rpcAddress: string;
  rpcAuthKey: string;
  /** Base64 of a 16, 24 or 32-byte key. With `keyringFile`, seeds that file when it does not exist yet. */
  encryptKey?: string;
  /** Keyring persisted by Serf (key rotations survive restarts); wins over `encryptKey` once it exists. */
  keyringFile?: string;
  /** Serf's snapshot: lets a restarted agent rejoin the members it knew. Keep it in the data dir. */
  snapshotPath?: string;
  /** Tags persisted by Serf; seeded from `tags` when it does not exist yet, then wins. */
  tagsFile?: string;
  tags?: Record<string, string>;
  profile?: SerfProfile;
  timing?: SerfTiming;
  /** Addresses retried until one answers. There is no default. */
  join?: string[];
  /**
   * Rejoin the snapshot's members even after a graceful leave. Defaults to
   * true: a gateway that is stopped and started again belongs to its community.
   */
  rejoinAfterLeave?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'err';
}

export interface SerfAgentFiles {
  /** Contents of the JSON config file (holds secrets: write it 0600). */
  config: Record<string, unknown>;
  /** Write to `keyringFile` only if it does not exist. */
  keyringSeed?: string[];
  /** Write to `tagsFile` only if it does not exist. */
  tagsSeed?: Record<string, string>;
}

function invalid(message: string): HearthError {
  return new HearthError('invalid_request', message);
}

function goDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw invalid(`timing must be a non-negative number of ms, got ${ms}`);
  return `${Math.round(ms)}ms`;
}

function isLoopback(host: string): boolean {
  return host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function isValidEncryptKey(key: string): boolean {
  const bytes = Buffer.from(key, 'base64');
  return bytes.toString('base64') === key && [16, 24, 32].includes(bytes.length);
}

/** Bytes the tags take in gossip: Serf prefixes its msgpack map with one magic byte. */
export function encodedTagsSize(tags: Record<string, string>): number {
  return 1 + encode(tags).length;
}

export function buildSerfAgentFiles(init: SerfAgentConfigInit): SerfAgentFiles {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(init.nodeName)) {
    throw invalid(`node name '${init.nodeName}' must be 1-128 letters, digits, '.', '_' or '-'`);
  }
  if (parseHostPort(init.bindAddress) === undefined) throw invalid(`bind address '${init.bindAddress}' is not host:port`);
  if (init.advertiseAddress !== undefined && parseHostPort(init.advertiseAddress) === undefined) {
    throw invalid(`advertise address '${init.advertiseAddress}' is not host:port`);
  }
  const rpc = parseHostPort(init.rpcAddress);
  if (rpc === undefined || !isLoopback(rpc.host)) {
    throw invalid(`RPC address '${init.rpcAddress}' must be a loopback host:port (the RPC is plaintext)`);
  }
  if (init.rpcAuthKey === '') throw invalid('the RPC auth key must not be empty');
  if (init.encryptKey !== undefined && !isValidEncryptKey(init.encryptKey)) {
    throw invalid('the encrypt key must be base64 of 16, 24 or 32 bytes');
  }
  for (const addr of init.join ?? []) {
    if (parseHostPort(addr) === undefined) throw invalid(`join address '${addr}' is not host:port`);
  }
  const tags = init.tags ?? {};
  if (encodedTagsSize(tags) > SERF_LIMITS.tagsBytes) {
    throw new HearthError('payload_too_large', `tags take ${encodedTagsSize(tags)} bytes; Serf allows ${SERF_LIMITS.tagsBytes}`);
  }

  const config: Record<string, unknown> = {
    node_name: init.nodeName,
    bind: init.bindAddress,
    rpc_addr: init.rpcAddress,
    rpc_auth: init.rpcAuthKey,
    profile: init.profile ?? 'lan',
    log_level: init.logLevel ?? 'info',
    // How long a tags call waits for its update to be gossiped out (Serf's default 5 s, its least
    // 1 s). Serf answers one client's requests in order, so while a tags call waits, the
    // membership's reads on the same connection wait too: at 20 gateways a new service's digest
    // left its host 5 s late, queued behind the wait of the tags change before it.
    broadcast_timeout: '1s',
    // Our stop sends SIGINT, which must be a graceful leave so peers see 'left', not 'failed'.
    skip_leave_on_interrupt: false,
    leave_on_terminate: false,
    rejoin_after_leave: init.rejoinAfterLeave ?? true,
  };
  if (init.advertiseAddress !== undefined) config['advertise'] = init.advertiseAddress;
  if (init.snapshotPath !== undefined) config['snapshot_path'] = init.snapshotPath;
  if (init.join !== undefined && init.join.length > 0) config['retry_join'] = [...init.join];

  const files: SerfAgentFiles = { config };
  if (init.keyringFile !== undefined) {
    // Serf refuses an encrypt key together with a keyring file.
    config['keyring_file'] = init.keyringFile;
    if (init.encryptKey !== undefined) files.keyringSeed = [init.encryptKey];
  } else if (init.encryptKey !== undefined) {
    config['encrypt_key'] = init.encryptKey;
  }
  if (init.tagsFile !== undefined) {
    // Serf refuses tags in its config together with a tags file.
    config['tags_file'] = init.tagsFile;
    files.tagsSeed = { ...tags };
  } else {
    config['tags'] = { ...tags };
  }

  const t = init.timing ?? {};
  if (t.reconnectIntervalMs !== undefined) config['reconnect_interval'] = goDuration(t.reconnectIntervalMs);
  if (t.reconnectTimeoutMs !== undefined) config['reconnect_timeout'] = goDuration(t.reconnectTimeoutMs);
  if (t.tombstoneTimeoutMs !== undefined) config['tombstone_timeout'] = goDuration(t.tombstoneTimeoutMs);
  if (t.broadcastTimeoutMs !== undefined) config['broadcast_timeout'] = goDuration(t.broadcastTimeoutMs);
  if (t.retryIntervalMs !== undefined) config['retry_interval'] = goDuration(t.retryIntervalMs);
  return files;
}
