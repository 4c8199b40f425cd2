// The raw reference for a sliver: plain lxc-* with the unprivileged idmap
// hearth gives its slivers and a veth on a bridge, then stopped and
// destroyed again. Two ways to make it: `snapshot`, what hearth does (an
// overlayfs `lxc-copy -s` of a busybox base made once), and `template`, a
// whole `lxc-create -t busybox`; each then `lxc-start` + `lxc-wait -s RUNNING`.
// Must never: touch a container it did not name, or a path outside its dir.

import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type RawMode = 'snapshot' | 'template';

export interface RawLxc {
  /** Creates and starts container `name`, waits until it runs; the milliseconds that took. */
  createStart(name: string, mode?: RawMode): Promise<number>;
  /** Stops and destroys container `name`. */
  destroy(name: string): Promise<void>;
  /** Removes the directory (and any container left in it). */
  close(): Promise<void>;
}

/** Plain lxc-* in a fresh directory under /tmp; containers get a veth on `bridge`. */
export async function rawLxc(bridge: string): Promise<RawLxc> {
  const dir = await mkdtemp('/tmp/hearth-bench-raw-');
  // Unprivileged containers' root must traverse the directory.
  await chmod(dir, 0o755);
  const conf = `${dir}/lxc.conf`;
  await writeFile(conf, [
    'lxc.idmap = u 0 100000 65536', 'lxc.idmap = g 0 100000 65536',
    'lxc.net.0.type = veth', `lxc.net.0.link = ${bridge}`, 'lxc.net.0.flags = up', '',
  ].join('\n'));
  const made = new Set<string>();
  const remove = async (name: string): Promise<void> => {
    await run('lxc-stop', ['-P', dir, '-n', name, '-k']).catch(() => undefined);
    await run('lxc-destroy', ['-P', dir, '-n', name]);
    made.delete(name);
  };
  let base: Promise<unknown> | undefined;
  return {
    async createStart(name, mode = 'snapshot') {
      if (mode === 'snapshot') {
        base ??= run('lxc-create', ['-P', dir, '-n', 'rawbase', '-t', 'busybox', '-f', conf]);
        await base;
        made.add('rawbase');
      }
      made.add(name);
      const t0 = performance.now();
      if (mode === 'snapshot') await run('lxc-copy', ['-P', dir, '-n', 'rawbase', '-N', name, '-s', '-B', 'overlayfs']);
      else await run('lxc-create', ['-P', dir, '-n', name, '-t', 'busybox', '-f', conf]);
      await run('lxc-start', ['-P', dir, '-n', name]);
      await run('lxc-wait', ['-P', dir, '-n', name, '-s', 'RUNNING', '-t', '30']);
      return performance.now() - t0;
    },
    destroy: remove,
    async close() {
      // Snapshots before the base they are made from.
      for (const name of [...made].sort((a, b) => Number(a === 'rawbase') - Number(b === 'rawbase'))) await remove(name).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
