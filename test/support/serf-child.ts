// Finds the serf agent an agent process supervises, through /proc.

import { readdirSync, readFileSync } from 'node:fs';

/** The pid of `agentPid`'s serf child (setpriv execs serf in place), if it has one. */
export function serfPidOf(agentPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === agentPid && stat.includes('(serf)') && fields[0] !== 'Z') return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}
