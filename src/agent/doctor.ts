// `hearth doctor`: checks that this box can host slivers and says how to fix
// what is missing. Read-only: it never changes the system (what it tries in
// the kernel, it tries in a throwaway network namespace).

import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pathExists } from '../kit/exists.js';
import { dataPaths, loadConfig } from './config.js';

const run = promisify(execFile);

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

async function tool(name: string, args: string[], fix: string): Promise<Check> {
  try {
    const { stdout, stderr } = await run(name, args, { timeout: 5000 });
    return { name, ok: true, detail: (stdout || stderr).trim().split('\n')[0] ?? '' };
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message.split('\n')[0] ?? 'failed', fix };
  }
}

/** Whether the kernel hands out loop devices, which each sliver's disk is mounted through. */
async function loopDevices(): Promise<Check> {
  const ok = await pathExists('/dev/loop-control');
  return ok ? { name: 'loop devices', ok, detail: '/dev/loop-control' }
    : { name: 'loop devices', ok, detail: 'no /dev/loop-control', fix: 'load the loop module (modprobe loop), or run on a kernel with loop devices' };
}

/** Whether the kernel can shape bandwidth as the agent does (IFB devices, htb), tried in a namespace that vanishes at once. */
async function shaping(given: { upMbit?: number; downMbit?: number } | undefined): Promise<Check> {
  const name = 'bandwidth shaping';
  const tries = [
    ['ifb', ['ip', 'link', 'add', 'doctor0', 'type', 'ifb']],
    ['clsact', ['tc', 'qdisc', 'add', 'dev', 'lo', 'clsact']],
    ['htb', ['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'htb']],
  ] as const;
  const failed: string[] = [];
  for (const [feature, argv] of tries) {
    try {
      await run('unshare', ['--net', '--', ...argv], { timeout: 5000 });
    } catch {
      failed.push(feature);
    }
  }
  const rate = (mbit: number | undefined): string => (mbit === undefined ? 'not shaped' : `${mbit} Mbit/s`);
  const contributed = given === undefined ? '' : `; up ${rate(given.upMbit)}, down ${rate(given.downMbit)}`;
  if (failed.length === 0) return { name, ok: true, detail: `ifb, clsact and htb work${contributed}` };
  const needed = given !== undefined && (given.upMbit !== undefined || given.downMbit !== undefined);
  return {
    name, ok: !needed, detail: `the kernel has no ${failed.join(', ')}${needed ? contributed : ' (no bandwidth given, so nothing is shaped)'}`,
    fix: 'a kernel with CONFIG_IFB, CONFIG_NET_SCH_HTB, CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_U32 and CONFIG_NET_ACT_MIRRED',
  };
}

async function subids(file: string, start: number, count: number): Promise<Check> {
  const fix = `echo root:${start}:${count} >> ${file}   (or run "hearth init")`;
  try {
    const text = await readFile(file, 'utf8');
    const ok = text.split('\n').some((l) => {
      const [u, s, c] = l.split(':');
      return (u === 'root' || u === '0') && Number(s) <= start && Number(s) + Number(c) >= start + count;
    });
    return ok ? { name: file, ok, detail: `root has ${start}:${count}` } : { name: file, ok, detail: `root has no range covering ${start}:${count}`, fix };
  } catch {
    return { name: file, ok: false, detail: 'missing', fix };
  }
}

export async function runDoctor(dataDir: string): Promise<Check[]> {
  const apt = 'apt-get install -y lxc serf busybox-static e2fsprogs nftables iproute2 wireguard-go wireguard-tools (or ./setup.sh)';
  const checks: Check[] = await Promise.all([
    tool('lxc-create', ['--version'], apt),
    tool('serf', ['version'], apt),
    tool('nft', ['--version'], apt),
    tool('ip', ['-V'], apt),
    tool('busybox', ['--help'], apt),
    // Each sliver's disk: an ext4 image, loop-mounted (virt/disk.ts).
    tool('mkfs.ext4', ['-V'], apt),
    loopDevices(),
    // Slice networks: the tunnel between gateways.
    tool('wireguard-go', ['--version'], apt),
    tool('wg', ['--version'], apt),
  ]);
  for (const controller of ['memory', 'cpu', 'pids']) {
    const path = `/sys/fs/cgroup/${controller}`;
    const v2 = '/sys/fs/cgroup/cgroup.controllers';
    try {
      await access(path);
      checks.push({ name: `cgroup ${controller}`, ok: true, detail: `${path} (v1)` });
    } catch {
      try {
        const text = await readFile(v2, 'utf8');
        const ok = text.split(/\s+/).includes(controller);
        checks.push({ name: `cgroup ${controller}`, ok, detail: ok ? 'cgroup v2' : 'controller not enabled', ...(ok ? {} : { fix: `enable the ${controller} controller (kernel command line or systemd)` }) });
      } catch {
        checks.push({ name: `cgroup ${controller}`, ok: false, detail: 'no cgroup hierarchy found', fix: 'mount cgroups (systemd does this on a normal boot)' });
      }
    }
  }
  try {
    const fwd = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
    checks.push({ name: 'ip_forward', ok: true, detail: fwd === '1' ? 'on' : 'off (the agent turns it on at start)' });
  } catch {
    checks.push({ name: 'ip_forward', ok: false, detail: 'cannot read /proc/sys/net/ipv4/ip_forward' });
  }
  const config = await loadConfig(dataDir).catch(() => undefined);
  checks.push(await shaping(config?.contribution));
  try {
    const config = await loadConfig(dataDir);
    checks.push({ name: 'config', ok: true, detail: dataPaths(dataDir).config });
    checks.push(await subids('/etc/subuid', config.lxc.idmap.uid, config.lxc.idmap.count));
    checks.push(await subids('/etc/subgid', config.lxc.idmap.gid, config.lxc.idmap.count));
    try {
      await access(`/sys/class/net/${config.network.bridge}`);
      checks.push({ name: `bridge ${config.network.bridge}`, ok: true, detail: 'present' });
    } catch {
      checks.push({ name: `bridge ${config.network.bridge}`, ok: true, detail: 'absent (the agent creates it at start)' });
    }
  } catch (err) {
    checks.push({ name: 'config', ok: false, detail: (err as Error).message, fix: `hearth init --data-dir ${dataDir}` });
  }
  return checks;
}

/** What `hearth community status` says, as far as the doctor needs it. */
export interface CommunityReport {
  name: string;
  state: string;
  reason: string | null;
  fix: string | null;
  retryAt: string | null;
  warning: string | null;
  members: { alive: number };
}

/** The doctor's line for the community side: fine when joined with others in sight, or not in one. */
export function communityCheck(report: CommunityReport | null): Check {
  const name = 'community';
  if (report === null) return { name, ok: true, detail: 'not in a community' };
  if (report.state === 'joined') {
    if (report.warning === null) return { name, ok: true, detail: `joined ${report.name}: ${report.members.alive} alive` };
    return { name, ok: false, detail: `joined ${report.name} but alone`, fix: report.warning };
  }
  const next = report.retryAt === null ? '' : `; next attempt at ${report.retryAt}`;
  const detail = `${report.name} is ${report.state}${report.reason === null ? '' : `: ${report.reason}`}${next}`;
  return { name, ok: false, detail, ...(report.fix === null ? {} : { fix: report.fix }) };
}
