// Kills a process with all its descendants, found through /proc. lxc-attach
// does not pass signals on to the command it runs in the container (without
// a TTY), and that command is its direct child on the host, so aborting an
// exec means killing the tree. Must never: signal a process outside the tree.

import { readdir, readFile } from 'node:fs/promises';

async function parentMap(): Promise<Map<number, number[]>> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  return children;
}

export async function descendantsOf(pid: number): Promise<number[]> {
  const children = await parentMap();
  const found: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

/** SIGKILL `pid` and everything below it; processes already gone are fine. */
export async function killTree(pid: number): Promise<void> {
  // kill(-1) or kill(0) would reach far more than one tree.
  if (!Number.isInteger(pid) || pid <= 1) throw new RangeError(`refusing to kill process tree of pid ${pid}`);
  const victims = [...(await descendantsOf(pid)), pid];
  for (const p of victims) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already exited
    }
  }
}
