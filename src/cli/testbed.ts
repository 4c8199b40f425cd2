// The `hearth testbed` verbs: a whole emulated community on this machine
// (see src/testbed/). Progress goes to stderr, results to stdout (or JSON
// with --json). A mistake in what the user typed exits 2.
// Must never: hold testbed logic of its own; it parses, calls and prints.

import type { Command } from 'commander';
import { HearthError } from '../model/errors.js';
import { DEFAULT_TESTBED_DIR, MAX_TESTBED_GATEWAYS } from '../testbed/defaults.js';
import { LINK_PROFILES } from '../testbed/profiles.js';
import { printTable } from './output.js';

// The testbed's code is loaded by the verb that runs, not by every `hearth` command.
const loadController = (): Promise<typeof import('../testbed/controller.js')> => import('../testbed/controller.js');
const loadOps = (): Promise<typeof import('../testbed/controller-ops.js')> => import('../testbed/controller-ops.js');

interface TestbedOpts {
  dir: string;
  json?: boolean;
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function integer(label: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new HearthError('invalid_request', `${label} must be a whole number, got ${JSON.stringify(value)}`);
    return n;
  };
}

// Ctrl-C (or SIGTERM) during a long step aborts it, so `up` can remove what
// it built; a second Ctrl-C falls back to Node's default and exits at once.
function interruptible(): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    progress(`${name}: stopping…`);
    controller.abort(new HearthError('internal', `interrupted by ${name}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    done: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

// Errors in what the user typed (a request-shape error) exit 2, like a usage error; main prints the message.
function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      if (error instanceof HearthError && error.status === 400) process.exitCode = 2;
      throw error;
    }
  };
}

function emit(json: boolean | undefined, value: unknown, human: () => void): void {
  if (json === true) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}

const dirHint = (dir: string): string => (dir === DEFAULT_TESTBED_DIR ? '' : ` --dir ${dir}`);

export function registerTestbedCommands(program: Command): void {
  const testbed = program.command('testbed').description('an emulated community network with real gateways on this machine (needs root)');
  const withDir = (cmd: Command): Command => cmd.option('--dir <dir>', 'where the testbed keeps its state and data dirs', DEFAULT_TESTBED_DIR);

  withDir(testbed.command('up'))
    .description('build the network, start N gateways, form a community and wait until every gateway sees every other')
    .requiredOption('-n, --gateways <n>', `how many gateways (1..${MAX_TESTBED_GATEWAYS})`, integer('--gateways'))
    .option('--link <profile>', `link profile (${Object.keys(LINK_PROFILES).join(', ')})`, 'lan')
    .option('--seed <seed>', 'seed of the layout and of the emulated losses', integer('--seed'), 1)
    .option('--prefix <prefix>', 'namespace and link name prefix, to run testbeds side by side', '')
    .option('--underlay <cidr>', "root-namespace subnet of the emulator's links; another testbed's must differ", '172.30.0.0/16')
    .option('--port <port>', "the link emulator's UDP port", integer('--port'), 4789)
    .option('--json', 'machine-readable output')
    .action(action(async (o: TestbedOpts & { gateways: number; link: string; seed: number; prefix: string; underlay: string; port: number }) => {
      const { signal, done } = interruptible();
      try {
        const { testbedUp, parseSubnet } = await loadController();
        const { state, timings } = await testbedUp({
          gateways: o.gateways, link: o.link, seed: o.seed, dir: o.dir, prefix: o.prefix,
          underlay: parseSubnet(o.underlay), port: o.port, signal, progress,
        });
        emit(o.json, { ...state, timings }, () => {
          console.log(`testbed up: ${state.gateways} gateways in ${state.dir} (${state.profile} links, seed ${state.seed}, community "${state.communityName ?? '-'}")`);
          printTable(['GATEWAY', 'NAMESPACE', 'ADDRESS', 'PID', 'DATA DIR'], state.members.map((m) => [m.name, m.namespace, m.communityAddress, String(m.pid ?? '-'), m.dataDir]));
          console.log(`full view ${(timings.fullView / 1000).toFixed(1)} s after the last agent started; up in ${(timings.total / 1000).toFixed(1)} s`);
          console.log(`try: hearth testbed exec gw1${dirHint(state.dir)} -- hearth nodes`);
        });
      } finally {
        done();
      }
    }));

  withDir(testbed.command('down'))
    .description('delete the slivers, stop the agents and the emulator, remove the namespaces, links and data dirs')
    .option('--json', 'machine-readable output')
    .action(action(async (o: TestbedOpts) => {
      const { testbedDown } = await import('../testbed/controller-down.js');
      const result = await testbedDown({ dir: o.dir, progress });
      emit(o.json, result, () => {
        if (!result.wasUp) console.log(`no testbed is up in ${result.dir}; nothing to do`);
        else console.log(`testbed in ${result.dir} removed (${result.namespaces.length} namespaces, ${result.slivers} slivers)`);
        for (const problem of result.problems) console.log(`  not removed: ${problem}`);
      });
      if (result.problems.length > 0) process.exitCode = 1;
    }));

  withDir(testbed.command('status'))
    .description("each gateway's agent and how many members it sees alive")
    .option('--json', 'machine-readable output')
    .action(action(async (o: TestbedOpts) => {
      const status = await (await loadOps()).testbedStatus({ dir: o.dir });
      emit(o.json, status, () => {
        console.log(`testbed in ${status.dir}: ${status.gateways.length} gateways, ${status.profile} links, community "${status.community ?? '-'}", link emulator ${status.emulator.running ? 'running' : 'NOT RUNNING'}`);
        printTable(['GATEWAY', 'ADDRESS', 'AGENT', 'SEES ALIVE'], status.gateways.map((g) => [
          g.name, g.address, g.running ? `running (pid ${g.pid ?? '-'})` : 'stopped',
          g.view === null ? (g.error === undefined ? '-' : 'no answer') : `${g.view.alive}/${g.view.members}`,
        ]));
      });
    }));

  withDir(testbed.command('exec <gateway> <command...>'))
    .description("run a command in a gateway's namespace with HEARTH_DATA_DIR set (put it after --); `hearth` means this hearth")
    .action(action(async (gateway: string, command: string[], o: TestbedOpts) => {
      process.exitCode = await (await loadOps()).testbedExec(gateway, command, { dir: o.dir });
    }));

  withDir(testbed.command('kill <gateway>'))
    .description("SIGKILL a gateway's agent, as a crash would")
    .option('--json', 'machine-readable output')
    .action(action(async (gateway: string, o: TestbedOpts) => {
      const result = await (await loadOps()).testbedKill(gateway, { dir: o.dir, progress });
      emit(o.json, result, () => console.log(result.killed ? `${result.gateway}: agent (pid ${result.pid ?? '-'}) killed` : `${result.gateway}: the agent was not running`));
    }));

  withDir(testbed.command('restart <gateway>'))
    .description("start a gateway's agent again on the same data dir and wait until it answers")
    .option('--json', 'machine-readable output')
    .action(action(async (gateway: string, o: TestbedOpts) => {
      const { signal, done } = interruptible();
      try {
        const result = await (await loadOps()).testbedRestart(gateway, { dir: o.dir, signal, progress });
        emit(o.json, result, () => console.log(`${result.gateway}: agent running (pid ${result.pid})`));
      } finally {
        done();
      }
    }));

  withDir(testbed.command('partition <groups>'))
    .description('cut the network into groups, e.g. gw1,gw2/gw3,gw4 (gateways in no group form one more)')
    .option('--json', 'machine-readable output')
    .action(action(async (spec: string, o: TestbedOpts) => {
      const result = await (await loadOps()).testbedPartition(spec, { dir: o.dir });
      emit(o.json, result, () => console.log(`partitioned: ${result.groups.map((g) => g.join(',')).join(' / ')}`));
    }));

  withDir(testbed.command('heal'))
    .description('remove any partition')
    .option('--json', 'machine-readable output')
    .action(action(async (o: TestbedOpts) => {
      await (await loadOps()).testbedHeal({ dir: o.dir });
      emit(o.json, { healed: true }, () => console.log('healed: every gateway reaches every other'));
    }));
}
