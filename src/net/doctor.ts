// What `hearth doctor` needs to know about sliver networking on this host:
// are ip and nft there and usable, is IPv4 forwarding on, is br_netfilter
// loaded. Reads only. Must never: change the host.

import { readFile } from 'node:fs/promises';
import { runTool } from './run.js';
import type { NetOpOptions } from './types.js';

export interface NetToolCheck {
  ok: boolean;
  /** The tool's version line, or why it is not usable. */
  detail: string;
}

export interface NetToolsReport {
  ip: NetToolCheck;
  /** ok only if nft runs and may read the ruleset (needs CAP_NET_ADMIN). */
  nft: NetToolCheck;
  /** undefined when /proc/sys cannot be read. */
  ipForward: boolean | undefined;
  /**
   * br_netfilter passes bridged frames through the inet hooks too; hearth's
   * rules allow for it, but other firewalls on the host may then drop
   * traffic between slivers.
   */
  brNetfilter: boolean;
}

export async function checkNetTools(opts: NetOpOptions = {}): Promise<NetToolsReport> {
  const [ip, nftVersion, nftList, ipForward, brNetfilter] = await Promise.all([
    check('ip', ['-V'], opts),
    check('nft', ['--version'], opts),
    check('nft', ['list', 'tables'], opts),
    readFile('/proc/sys/net/ipv4/ip_forward', { encoding: 'utf8', ...opts }).then(
      (text) => text.trim() === '1',
      () => undefined,
    ),
    readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', { encoding: 'utf8', ...opts }).then(
      (text) => text.trim() === '1',
      () => false,
    ),
  ]);
  const nft = nftVersion.ok && !nftList.ok ? { ok: false, detail: `cannot read the ruleset: ${nftList.detail}` } : nftVersion;
  return { ip, nft, ipForward, brNetfilter };
}

async function check(file: string, args: readonly string[], opts: NetOpOptions): Promise<NetToolCheck> {
  try {
    const result = await runTool(file, args, opts);
    const output = (result.exitCode === 0 ? result.stdout : result.stderr).trim().split('\n')[0] ?? '';
    return { ok: result.exitCode === 0, detail: output };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
