// Renders the LXC configuration hearth adds to a container: the user-id map
// (given to lxc-create, so the rootfs is owned by the mapped ids) and the
// network and cgroup v1 limit keys (appended after the template ran). Pure.
// Must never: let a value carry a newline or '=' into the config file.

import { HearthError } from '../model/errors.js';
import type { ContainerLimits, ContainerNetwork, ContainerSpec } from './driver.js';

export interface IdMap {
  uid: number;
  gid: number;
  count: number;
}

export const DEFAULT_IDMAP: IdMap = { uid: 100000, gid: 100000, count: 65536 };

/** CFS period in µs; the quota is `cpu × period`. */
export const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas under 1 ms. */
const MIN_CFS_QUOTA_US = 1000;

export function renderIdmapConfig(idmap: IdMap): string {
  for (const [key, value] of Object.entries(idmap)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new HearthError('internal', `idmap ${key} must be a non-negative integer`);
  }
  return [`lxc.idmap = u 0 ${idmap.uid} ${idmap.count}`, `lxc.idmap = g 0 ${idmap.gid} ${idmap.count}`, ''].join('\n');
}

export function cfsQuotaUs(cpu: number): number {
  return Math.max(MIN_CFS_QUOTA_US, Math.round(cpu * CFS_PERIOD_US));
}

export function renderLimitsConfig(limits: ContainerLimits): string[] {
  for (const key of ['cpu', 'memoryMb', 'pids', 'diskMb'] as const) {
    const value = limits[key];
    if (!Number.isFinite(value) || value <= 0) {
      throw new HearthError('invalid_resources', `${key} must be a positive number, got ${value}`, { field: key });
    }
  }
  const memBytes = Math.round(limits.memoryMb) * 1024 * 1024;
  return [
    `lxc.cgroup.memory.limit_in_bytes = ${memBytes}`,
    // Equal to the RAM limit: swap cannot extend the budget. Must come after limit_in_bytes.
    `lxc.cgroup.memory.memsw.limit_in_bytes = ${memBytes}`,
    `lxc.cgroup.pids.max = ${Math.round(limits.pids)}`,
    `lxc.cgroup.cpu.cfs_period_us = ${CFS_PERIOD_US}`,
    `lxc.cgroup.cpu.cfs_quota_us = ${cfsQuotaUs(limits.cpu)}`,
  ];
}

const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const IPV4 = String.raw`(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)`;
const CIDR_RE = new RegExp(`^${IPV4}/(?:3[0-2]|[12]?\\d)$`);
const ADDR_RE = new RegExp(`^${IPV4}$`);
const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

export function renderNetworkConfig(net: ContainerNetwork | undefined): string[] {
  if (net === undefined) return ['lxc.net.0.type = empty'];
  const bad = (field: string, value: string): HearthError =>
    new HearthError('invalid_request', `network ${field} ${JSON.stringify(value)} is not valid`, { field });
  if (!IFACE_RE.test(net.bridge)) throw bad('bridge', net.bridge);
  if (!IFACE_RE.test(net.hostVeth)) throw bad('hostVeth', net.hostVeth);
  if (!CIDR_RE.test(net.address)) throw bad('address', net.address);
  if (!ADDR_RE.test(net.gateway)) throw bad('gateway', net.gateway);
  if (net.mac !== undefined && !MAC_RE.test(net.mac)) throw bad('mac', net.mac);
  return [
    'lxc.net.0.type = veth',
    `lxc.net.0.link = ${net.bridge}`,
    'lxc.net.0.flags = up',
    `lxc.net.0.veth.pair = ${net.hostVeth}`,
    'lxc.net.0.name = eth0',
    ...(net.mac === undefined ? [] : [`lxc.net.0.hwaddr = ${net.mac}`]),
    `lxc.net.0.ipv4.address = ${net.address}`,
    `lxc.net.0.ipv4.gateway = ${net.gateway}`,
  ];
}

/** The block appended to a freshly made container's config. */
export function renderHearthConfig(spec: ContainerSpec): string {
  return ['', '# hearth: network and limits', ...renderNetworkConfig(spec.network), ...renderLimitsConfig(spec.limits), ''].join('\n');
}
