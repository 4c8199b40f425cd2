// Finding the wireguard-go daemons that serve an interface name, and the
// network namespace each runs in, from /proc. wireguard-go forks its daemon
// and exits, so no one holds its pid: the daemon is found by its command
// line (`wireguard-go [-f] NAME`) each time it matters. Its control socket,
// /var/run/wireguard/NAME.sock, is in the file system, which all network
// namespaces share: a name served in one namespace is taken in all of them,
// and `wg` run anywhere would talk to that daemon.
// Must never: signal a process, or count a zombie (it has no command line) as running.

import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { basename } from 'node:path';

export interface WgDaemon {
  pid: number;
  /** Its network namespace, as /proc/PID/ns/net reads: `net:[inode]`. */
  netns: string;
}

/** True when `argv` is wireguard-go's own command line for interface `name`. */
export function isDaemonFor(argv: readonly string[], name: string): boolean {
  const [program, ...args] = argv;
  if (program === undefined || basename(program) !== 'wireguard-go') return false;
  const operands = args.filter((a) => a !== '-f' && a !== '--foreground');
  return operands.length === 1 && operands[0] === name;
}

/** The live wireguard-go processes for `name`, in any network namespace. */
export async function findDaemons(name: string): Promise<WgDaemon[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const found = await Promise.all(
    pids.map(async (pid): Promise<WgDaemon | undefined> => {
      try {
        const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
        return isDaemonFor(argv, name) ? { pid: Number(pid), netns: await readlink(`/proc/${pid}/ns/net`) } : undefined;
      } catch {
        return undefined; // gone while we looked
      }
    }),
  );
  return found.filter((d): d is WgDaemon => d !== undefined);
}

/** How /proc names the network namespace `namespace` (under /var/run/netns), or this process's own. */
export async function namespaceId(namespace: string | undefined): Promise<string> {
  if (namespace === undefined) return readlink('/proc/self/ns/net');
  return `net:[${(await stat(`/var/run/netns/${namespace}`)).ino}]`;
}
