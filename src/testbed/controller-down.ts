// `hearth testbed down`: removes what `up` made and nothing else, in the
// order that leaves nothing behind: slivers first (each gateway's agent
// deletes its own, since LXC's command sockets belong to the gateway's
// namespace), then the agents, the link emulator, the namespaces and links
// of the testbed's prefix, and the data dirs and state file.
// It carries on past a failed step so that one stuck gateway does not keep
// the rest alive, and reports what it could not remove.
// Must never: signal a process, remove a namespace or link, or delete a
// directory that the state file does not name as the testbed's own.

import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { unmountAllBelow } from '../virt/disk.js';
import type { GatewayHandle } from './gateway-process.js';
import { isAgentAlive, logTail, runHearth, startAgent, stopAgent, waitForApi } from './gateway-process.js';
import { stopLinkEmulator } from './linkemu-process.js';
import { mapBounded } from './map-bounded.js';
import { teardownTestbedNetwork } from './netns.js';
import { isOurProcess } from './processes.js';
import { DEFAULT_TESTBED_DIR } from './defaults.js';
import { readTestbedState, removeTestbedState, writeTestbedState } from './state.js';
import type { TestbedGatewayState, TestbedState } from './state.js';

export interface TestbedDownInit {
  dir?: string;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

export interface TestbedDownResult {
  /** False when there was no testbed in the dir. */
  wasUp: boolean;
  dir: string;
  slivers: number;
  namespaces: string[];
  links: string[];
  /** Steps that failed; what they would have removed may still exist. */
  problems: string[];
}

function containersLeft(member: TestbedGatewayState): boolean {
  try {
    // Dot entries are not containers (the driver's disk templates, .disks).
    return readdirSync(`${member.dataDir}/containers`).some((entry) => !entry.startsWith('.'));
  } catch {
    return false;
  }
}

async function deleteSlivers(member: GatewayHandle, options: { signal?: AbortSignal }): Promise<number> {
  const items = JSON.parse(await runHearth(member, ['sliver', 'ls', '--json'], options)) as Array<{ name: string }>;
  for (const sliver of items) await runHearth(member, ['sliver', 'rm', sliver.name], options);
  return items.length;
}

/**
 * Has each gateway delete its slivers. A gateway whose agent is not running
 * but whose data dir still holds containers gets its agent started for it,
 * since only the agent knows how to remove them cleanly.
 */
async function removeSlivers(state: TestbedState, problems: string[], progress: (line: string) => void, options: { signal?: AbortSignal }): Promise<number> {
  const counts = await mapBounded(state.members, 4, async (m) => {
    if (!existsSync(`/var/run/netns/${m.namespace}`) || !existsSync(`${m.dataDir}/config.json`)) return 0;
    try {
      if (!isAgentAlive(m, m.pid)) {
        if (!containersLeft(m)) return 0;
        progress(`${m.name}: starting its agent to remove the slivers it left`);
        m.pid = startAgent(m);
        writeTestbedState(state);
        await waitForApi(m, m.pid, options);
      }
      const count = await deleteSlivers(m, options);
      if (count > 0) progress(`${m.name}: deleted ${count} sliver${count === 1 ? '' : 's'}`);
      return count;
    } catch (error) {
      problems.push(`${m.name}: slivers not removed: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    }
  });
  return counts.reduce((a, b) => a + b, 0);
}

/** Removes everything `state` records; used by `down` and by a failed `up`. */
export async function teardownTestbed(state: TestbedState, init: Omit<TestbedDownInit, 'dir'> = {}): Promise<Omit<TestbedDownResult, 'wasUp'>> {
  const { signal, progress = () => undefined } = init;
  const options = signal ? { signal } : {};
  const problems: string[] = [];
  const slivers = await removeSlivers(state, problems, progress, options);

  await mapBounded(state.members, 8, async (m) => {
    if (!isAgentAlive(m, m.pid)) return;
    await stopAgent(m, m.pid, options);
    if (isAgentAlive(m, m.pid)) problems.push(`${m.name}: the agent (pid ${m.pid}) would not stop; ${logTail(m, 2)}`);
  });
  if (state.members.some((m) => m.pid !== null)) progress('agents stopped');

  const { pid, control, configPath, logPath } = state.emulator;
  if (isOurProcess(pid, configPath)) {
    await stopLinkEmulator(control, pid, options);
    progress('link emulator stopped');
  }

  let removed = { namespaces: [] as string[], links: [] as string[] };
  try {
    removed = await teardownTestbedNetwork(state.prefix, options);
    if (removed.namespaces.length + removed.links.length > 0) {
      progress(`removed ${removed.namespaces.length} namespaces and ${removed.links.length} links`);
    }
  } catch (error) {
    problems.push(`network: ${error instanceof Error ? error.message : String(error)}`);
  }

  const stillRunning = state.members.filter((m) => isAgentAlive(m, m.pid));
  for (const m of state.members) {
    // A data dir whose agent would not stop is kept: its slivers' files are in use.
    if (stillRunning.includes(m)) continue;
    // Slivers the agent could not delete still have their disks mounted in the data dir.
    await unmountAllBelow(m.dataDir);
    rmSync(m.dataDir, { recursive: true, force: true });
  }
  for (const file of [configPath, logPath, control]) rmSync(file, { force: true });
  if (stillRunning.length === 0 && !isOurProcess(pid, configPath)) {
    removeTestbedState(state.dir);
    try {
      rmdirSync(state.dir);
    } catch {
      // Not empty: it holds files that are not the testbed's, which stay.
    }
  } else {
    for (const m of state.members) if (!isAgentAlive(m, m.pid)) m.pid = null;
    writeTestbedState(state);
    problems.push(`kept ${state.dir}/state.json: some processes still run; run down again`);
  }
  return { dir: state.dir, slivers, namespaces: removed.namespaces, links: removed.links, problems };
}

/** Takes down the testbed in `dir`; with nothing there it says so and succeeds. */
export async function testbedDown(init: TestbedDownInit = {}): Promise<TestbedDownResult> {
  const dir = init.dir ?? DEFAULT_TESTBED_DIR;
  const state = readTestbedState(dir);
  if (state === undefined) return { wasUp: false, dir, slivers: 0, namespaces: [], links: [], problems: [] };
  const result = await teardownTestbed(state, init);
  return { wasUp: true, ...result };
}
