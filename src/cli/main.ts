#!/usr/bin/env node
// The `hearth` command. Local verbs (init, agent, doctor, testbed, demo) act
// on this box; every other verb talks to the local agent's HTTP API. Listings
// take --json; errors print the problem's message and exit non-zero.

import { Command, Option } from 'commander';
import { createApiClient, ApiProblem, type ApiClient } from './client.js';
import type { BandwidthContribution, Sliver, SliverStats } from '../api/schemas.js';
import { printTable, waitForSliver } from './output.js';
import { initDataDir, loadConfig, readOwnerToken, resolveDataDir, VIRT_DRIVERS, type VirtDriverName } from '../agent/config.js';
import type { Check, CommunityReport } from '../agent/doctor.js';
import { DEMO_APPS } from './demo-plan.js';
import { LINK_PROFILES } from '../testbed/profiles.js';
import { DEFAULT_TESTBED_DIR } from '../testbed/defaults.js';
import { registerTestbedCommands } from './testbed.js';
import { registerUserCommands } from './user.js';
import { registerSliceCommands, userSigner } from './slice.js';
import { registerAppCommands } from './app.js';
import { registerNodeCommands } from './node.js';
import { buildingImageLine, PACKAGE_OPTION, registerImageCommands } from './image.js';
import { registerServiceCommands } from './services.js';
import { registerSimCommand } from './sim.js';
import { VERSION } from '../agent/version.js';
import { HearthError } from '../model/errors.js';

interface GlobalOpts {
  dataDir?: string;
  json?: boolean;
}

const program = new Command('hearth')
  .description('community home gateway: slivers (LXC containers) for a peer-to-peer community cloud')
  .version(VERSION)
  .option('-d, --data-dir <dir>', 'data directory (default $HEARTH_DATA_DIR or /var/lib/hearth)')
  .showHelpAfterError();

function globals(cmd: Command): GlobalOpts {
  return cmd.optsWithGlobals<GlobalOpts>();
}

/**
 * The API of this box's agent, or of $HEARTH_API, with the owner token. With
 * `user` (slice commands), a missing owner token is no error: requests are
 * signed with the user key in `user.keyFile` instead, when there is one.
 */
async function client(cmd: Command, user?: { keyFile: string }): Promise<ApiClient> {
  const dataDir = resolveDataDir(globals(cmd).dataDir);
  const token = process.env['HEARTH_TOKEN'] ?? (user === undefined ? await readOwnerToken(dataDir) : await readOwnerToken(dataDir).catch(() => undefined));
  let baseUrl = process.env['HEARTH_API'];
  if (baseUrl === undefined) {
    const config = await loadConfig(dataDir);
    const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
    baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.api.port}`;
  }
  const signer = token === undefined && user !== undefined ? await userSigner(user.keyFile) : undefined;
  return createApiClient({ baseUrl, token, signer });
}

function json(cmd: Command): boolean {
  return globals(cmd).json === true;
}

function emit(cmd: Command, value: unknown, human: () => void): void {
  if (json(cmd)) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else human();
}

/** The options a user gave, renamed to the API's field names: [[field, option], ...]. */
function pickFlags(o: Record<string, unknown>, pairs: readonly (readonly [string, string])[]): Record<string, unknown> {
  return Object.fromEntries(pairs.filter(([, flag]) => o[flag] !== undefined).map(([key, flag]) => [key, o[flag]]));
}

const num = (label: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`${label} must be a number, got ${JSON.stringify(v)}`);
  return n;
};

program.command('init')
  .description('make the data dir, config, owner token, node key and subordinate ids (idempotent)')
  .option('--name <name>', 'gateway name (default: host name)')
  .option('--api-host <host>', 'address the API listens on', '127.0.0.1')
  .option('--api-port <port>', 'API port', num('--api-port'))
  .option('--cpu <cores>', 'cores contributed', num('--cpu'))
  .option('--memory <mb>', 'memory contributed (MB)', num('--memory'))
  .option('--disk <mb>', 'disk contributed (MB)', num('--disk'))
  .option('--slivers <n>', 'most slivers at once', num('--slivers'))
  .option('--up <mbit>', 'upload bandwidth contributed (Mbit/s; default: not shaped)', num('--up'))
  .option('--down <mbit>', 'download bandwidth contributed (Mbit/s; default: not shaped)', num('--down'))
  .option('--subnet <cidr>', 'sliver subnet (IPv4 CIDR)')
  .option('--bridge <name>', 'sliver bridge name')
  .option('--nft-table <name>', 'nftables table of this gateway (default: hearth for bridge hearth0, else hearth_<bridge>)')
  .option('--community-bind <host:port>', 'gossip (Serf) bind address')
  .option('--community-advertise <host:port>', 'gossip address others should use (behind NAT)')
  .option('--serf-rpc-port <port>', 'loopback port of the Serf RPC', num('--serf-rpc-port'))
  .addOption(new Option('--gossip-profile <profile>', 'Serf timing profile').choices(['lan', 'wan', 'local']))
  .option('--peer-host <host>', 'address the mutual-TLS peer API binds')
  .option('--peer-port <port>', 'peer API port', num('--peer-port'))
  .addOption(new Option('--virt <driver>', 'how slivers run: lxc, or none (simulated: admitted and recorded, nothing runs; for benchmarks)').choices(VIRT_DRIVERS).default('lxc'))
  .option('--json', 'machine-readable output')
  .action(async (o: Record<string, unknown>, cmd: Command) => {
    const contribution = pickFlags(o, [['cpu', 'cpu'], ['memoryMb', 'memory'], ['diskMb', 'disk'], ['slivers', 'slivers'], ['upMbit', 'up'], ['downMbit', 'down']]);
    const network = pickFlags(o, [['subnet', 'subnet'], ['bridge', 'bridge'], ['table', 'nftTable']]);
    const community = pickFlags(o, [['bind', 'communityBind'], ['advertise', 'communityAdvertise'], ['rpcPort', 'serfRpcPort'], ['profile', 'gossipProfile']]);
    const peer = pickFlags(o, [['host', 'peerHost'], ['port', 'peerPort']]);
    const result = await initDataDir({
      dataDir: resolveDataDir(globals(cmd).dataDir),
      ...(o['name'] === undefined ? {} : { name: o['name'] as string }),
      apiHost: o['apiHost'] as string,
      ...(o['apiPort'] === undefined ? {} : { apiPort: o['apiPort'] as number }),
      contribution, network, community, peer,
      virt: { driver: o['virt'] as VirtDriverName },
    });
    emit(cmd, { dataDir: result.paths.dir, created: result.created, config: result.config }, () => {
      console.log(`data dir ${result.paths.dir} ready (gateway ${result.config.name})`);
      for (const f of result.created) console.log(`  created ${f}`);
      console.log(`next: hearth agent${globals(cmd).dataDir === undefined ? '' : ` --data-dir ${result.paths.dir}`}`);
    });
  });

program.command('agent')
  .description('run the gateway agent until SIGTERM or SIGINT')
  .action(async (_o: unknown, cmd: Command) => {
    // The agent, the doctor and the demo are loaded by their verbs: every other command starts without them.
    const { runAgent } = await import('../agent/run.js');
    await runAgent({ dataDir: resolveDataDir(globals(cmd).dataDir) });
  });

program.command('doctor')
  .description('check that this box can host slivers, and say how to fix what is missing')
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const { communityCheck, runDoctor } = await import('../agent/doctor.js');
    const checks = await runDoctor(resolveDataDir(globals(cmd).dataDir));
    checks.push(await askCommunity(cmd, communityCheck));
    emit(cmd, checks, () => {
      for (const c of checks) {
        console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
        if (!c.ok && c.fix !== undefined) console.log(`     fix: ${c.fix}`);
      }
    });
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  });

/** The doctor's community line, from the running agent; a stopped agent is said so, not failed. */
async function askCommunity(cmd: Command, communityCheck: (report: CommunityReport | null) => Check): Promise<Check> {
  try {
    return communityCheck(await (await client(cmd)).request<CommunityReport>('GET', '/api/v1/community'));
  } catch (err) {
    if (err instanceof ApiProblem && err.problem.code === 'not_in_community') return communityCheck(null);
    return { name: 'community', ok: true, detail: `not checked: ${(err as Error).message}` };
  }
}

/** One line on the community side: its state, and why where it is not joined. */
function communityLine(c: { name: string; state: string; reason: string | null; warning: string | null } | null): string {
  if (c === null) return 'community: none';
  const why = c.reason ?? c.warning;
  return `community: ${c.name} (${c.state}${why === null ? '' : `: ${why}`})`;
}

program.command('status')
  .description("this gateway's inventory, contribution and usage")
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const node = await (await client(cmd)).request<{
      name: string; version: string; contribution: Record<string, number>; usage: Record<string, number>; free: Record<string, number>; slivers: Record<string, number>;
      inventory: Record<string, number>; community: { name: string; state: string; reason: string | null; warning: string | null } | null;
      bandwidth: { contributed: BandwidthContribution; guaranteed: { upMbit: number; downMbit: number } };
      virt: { driver: string; note: string | null };
    }>('GET', '/api/v1/node');
    emit(cmd, node, () => {
      console.log(`gateway ${node.name} (hearth ${node.version})`);
      if (node.virt.note !== null) console.log(`NOTE: ${node.virt.note}`);
      printTable(['RESOURCE', 'HAS', 'CONTRIBUTED', 'USED', 'FREE'], [
        ['cpu (cores)', node.inventory['cpu'], node.contribution['cpu'], node.usage['cpu'], node.free['cpu']],
        ['memory (MB)', node.inventory['memoryMb'], node.contribution['memoryMb'], node.usage['memoryMb'], node.free['memoryMb']],
        ['disk (MB)', node.inventory['diskMb'], node.contribution['diskMb'], node.usage['diskMb'], node.free['diskMb']],
        ['slivers', '-', node.contribution['slivers'], node.usage['slivers'], node.free['slivers']],
      ].map((r) => r.map((c) => String(c ?? '-'))));
      const given = (mbit: number | null): string => (mbit === null ? 'not shaped' : `${mbit} Mbit/s`);
      const { contributed, guaranteed } = node.bandwidth;
      console.log(`bandwidth: up ${given(contributed.upMbit)} (${guaranteed.upMbit} guaranteed), down ${given(contributed.downMbit)} (${guaranteed.downMbit} guaranteed)`);
      const states = Object.entries(node.slivers).map(([k, v]) => `${v} ${k}`).join(', ');
      console.log(`slivers: ${states === '' ? 'none' : states}`);
      console.log(communityLine(node.community));
    });
  });

const sliver = program.command('sliver').description('containers on this gateway');

sliver.command('create <name>')
  .description('create a sliver and wait until it runs')
  .option('-t, --template <template>', 'busybox or debian', 'busybox')
  .option(...PACKAGE_OPTION)
  .option('--cpu <cores>', 'CPU cores (fractions allowed)', num('--cpu'))
  .option('--memory <mb>', 'memory limit (MB)', num('--memory'))
  .option('--disk <mb>', 'disk budget (MB)', num('--disk'))
  .option('--pids <n>', 'most tasks', num('--pids'))
  .option('--up <mbit>', 'upload rate guaranteed (Mbit/s; default a fair share)', num('--up'))
  .option('--down <mbit>', 'download rate guaranteed (Mbit/s; default a fair share)', num('--down'))
  .option('--slice <slice>', 'slice it belongs to (default: its name)')
  .option('--no-start', 'create it stopped')
  .option('--no-wait', 'return at once instead of waiting')
  .option('--json', 'machine-readable output')
  .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
    const api = await client(cmd);
    const resources = pickFlags(o, [['cpu', 'cpu'], ['memoryMb', 'memory'], ['diskMb', 'disk'], ['pids', 'pids'], ['upMbit', 'up'], ['downMbit', 'down']]);
    const packages = o['package'] as string[];
    let view = await api.request<Sliver>('POST', '/api/v1/slivers', {
      name, template: o['template'], resources, start: o['start'] !== false,
      ...(packages.length === 0 ? {} : { packages }),
      ...(o['slice'] === undefined ? {} : { slice: o['slice'] }),
    });
    // A debian sliver on a machine without its image waits minutes for it: show the build, not a silent wait.
    const detail = o['template'] === 'debian' ? (): Promise<string | null> => buildingImageLine(api, 'debian', packages) : undefined;
    if (o['wait'] !== false) view = await waitForSliver(api, view, o['start'] === false ? 'stopped' : 'running', !json(cmd), undefined, detail);
    emit(cmd, view, () => console.log(`sliver ${view.name} ${view.observed} at ${view.address ?? '-'} (id ${view.id})`));
    if (view.observed === 'failed') process.exitCode = 1;
  });

sliver.command('ls').alias('list')
  .description('list slivers')
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const { items } = await (await client(cmd)).request<{ items: Sliver[] }>('GET', '/api/v1/slivers');
    emit(cmd, items, () => printTable(
      ['NAME', 'ID', 'SLICE', 'TEMPLATE', 'STATE', 'DESIRED', 'ADDRESS', 'CPU', 'MEM(MB)'],
      items.map((s) => [s.name, s.id, s.slice, s.template, s.observed, s.desired, s.address ?? '-', String(s.resources.cpu), String(s.resources.memoryMb)]),
    ));
  });

sliver.command('show <sliver>')
  .description('show one sliver (by name or id), with its resource use')
  .option('--json', 'machine-readable output')
  .action(async (ref: string, _o: unknown, cmd: Command) => {
    const api = await client(cmd);
    const s = await api.request<Sliver>('GET', `/api/v1/slivers/${encodeURIComponent(ref)}`);
    const stats = await api.request<SliverStats | null>('GET', `/api/v1/slivers/${encodeURIComponent(ref)}/stats`);
    const forwards = await api.request<{ items: { proto: string; hostPort: number; port: number }[] }>('GET', `/api/v1/slivers/${encodeURIComponent(ref)}/forwards`);
    emit(cmd, { ...s, stats, forwards: forwards.items }, () => {
      for (const [k, v] of Object.entries({
        name: s.name, id: s.id, slice: s.slice, template: s.template, packages: s.packages.length === 0 ? '-' : s.packages.join(', '),
        state: s.observed, desired: s.desired, address: s.address ?? '-', reason: s.reason ?? '-',
      })) {
        console.log(`${k.padEnd(10)} ${v}`);
      }
      console.log(`${'limits'.padEnd(10)} cpu ${s.resources.cpu}, memory ${s.resources.memoryMb} MB, disk ${s.resources.diskMb} MB, pids ${s.resources.pids}`);
      const rate = (mbit: number): string => (mbit > 0 ? `${mbit} Mbit/s guaranteed` : 'a fair share');
      console.log(`${'bandwidth'.padEnd(10)} up ${rate(s.resources.upMbit)}, down ${rate(s.resources.downMbit)}`);
      if (stats !== null) {
        console.log(`${'usage'.padEnd(10)} cpu ${(stats.cpuNs) / 1e9} s, memory ${Math.round(stats.memoryBytes / 1048576)} MB, disk ${Math.round(stats.diskBytes / 1048576)} of ${Math.round(stats.diskLimitBytes / 1048576)} MB, pids ${stats.pids}, rx ${stats.rxBytes} B, tx ${stats.txBytes} B`);
        for (const direction of ['up', 'down'] as const) {
          const c = stats.shaped?.[direction];
          if (c !== undefined) console.log(`${'shaped'.padEnd(10)} ${direction} ${c.bytes} B, ${c.drops} dropped`);
        }
      }
      for (const f of forwards.items) console.log(`${'forward'.padEnd(10)} ${f.proto} :${f.hostPort} -> ${s.address ?? '?'}:${f.port}`);
    });
  });

for (const [verb, target, help] of [['start', 'running', 'start a stopped sliver'], ['stop', 'stopped', 'stop a running sliver']] as const) {
  sliver.command(`${verb} <sliver>`)
    .description(help)
    .option('--no-wait', 'return at once instead of waiting')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: Record<string, unknown>, cmd: Command) => {
      const api = await client(cmd);
      let view = await api.request<Sliver>('POST', `/api/v1/slivers/${encodeURIComponent(ref)}/${verb}`);
      if (o['wait'] !== false) view = await waitForSliver(api, view, target, !json(cmd));
      emit(cmd, view, () => console.log(`sliver ${view.name} ${view.observed}`));
      if (view.observed !== target && o['wait'] !== false) process.exitCode = 1;
    });
}

sliver.command('rm <sliver>').alias('delete')
  .description('delete a sliver and everything it holds')
  .option('--no-wait', 'return at once instead of waiting')
  .option('--json', 'machine-readable output')
  .action(async (ref: string, o: Record<string, unknown>, cmd: Command) => {
    const api = await client(cmd);
    let view = await api.request<Sliver>('DELETE', `/api/v1/slivers/${encodeURIComponent(ref)}`);
    if (o['wait'] !== false) view = await waitForSliver(api, view, 'gone', !json(cmd));
    emit(cmd, view, () => console.log(`sliver ${view.name} ${view.observed === 'gone' ? 'deleted' : view.observed}`));
  });

sliver.command('exec <sliver> <command...>')
  .description('run a command in a running sliver (put it after --), exit with its code')
  .option('--timeout <sec>', 'give up after this many seconds', num('--timeout'), 30)
  .option('--json', 'machine-readable output')
  .action(async (ref: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
    const api = await client(cmd);
    const result = await api.request<{ exitCode: number; stdout: string; stderr: string; truncated: boolean }>(
      'POST', `/api/v1/slivers/${encodeURIComponent(ref)}/exec`, { command, timeoutSec: o['timeout'] },
    );
    emit(cmd, result, () => {
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      if (result.truncated) process.stderr.write('hearth: output truncated\n');
    });
    process.exitCode = result.exitCode;
  });

const forward = sliver.command('forward').description("ports of the gateway's addresses forwarded to a sliver");
forward.command('add <sliver> <hostPort> <port>')
  .description('forward HOSTPORT on the gateway to PORT in the sliver')
  .addOption(new Option('--proto <proto>', 'protocol').choices(['tcp', 'udp']).default('tcp'))
  .action(async (ref: string, hostPort: string, port: string, o: Record<string, unknown>, cmd: Command) => {
    const api = await client(cmd);
    await api.request('POST', `/api/v1/slivers/${encodeURIComponent(ref)}/forwards`, {
      proto: o['proto'], hostPort: num('hostPort')(hostPort), port: num('port')(port),
    });
    console.log(`forwarding ${String(o['proto'])} :${hostPort} to ${ref}:${port}`);
  });
forward.command('rm <sliver> <hostPort>')
  .description('remove a forward')
  .addOption(new Option('--proto <proto>', 'protocol').choices(['tcp', 'udp']).default('tcp'))
  .action(async (ref: string, hostPort: string, o: Record<string, unknown>, cmd: Command) => {
    const api = await client(cmd);
    await api.request('DELETE', `/api/v1/slivers/${encodeURIComponent(ref)}/forwards/${String(o['proto'])}/${encodeURIComponent(hostPort)}`);
    console.log(`removed ${String(o['proto'])} :${hostPort}`);
  });

const community = program.command('community').description('the community this gateway belongs to');

community.command('create <name>')
  .description('start a community with this gateway as its first member')
  .option('--json', 'machine-readable output')
  .action(async (name: string, _o: unknown, cmd: Command) => {
    const s = await (await client(cmd)).request<{ name: string; self: string }>('POST', '/api/v1/community', { name });
    emit(cmd, s, () => console.log(`community ${s.name} created with ${s.self}; invite others with: hearth community invite`));
  });

community.command('invite')
  .description('print an invite token for another gateway')
  .option('--expires <sec>', 'seconds until the token expires (0: never)', num('--expires'), 86400)
  .option('--json', 'machine-readable output')
  .action(async (o: Record<string, unknown>, cmd: Command) => {
    const expires = o['expires'] as number;
    const r = await (await client(cmd)).request<{ token: string; expires: number | null; addresses: string[] }>(
      'POST', '/api/v1/community/invites', { expiresInSec: expires === 0 ? null : expires },
    );
    emit(cmd, r, () => {
      console.log(r.token);
      console.error(`valid ${r.expires === null ? 'until revoked by a key rotation' : `until ${new Date(r.expires * 1000).toISOString()}`}; members to contact: ${r.addresses.join(', ')}`);
    });
  });

community.command('join <token>')
  .description('join a community with an invite token')
  .option('--json', 'machine-readable output')
  .action(async (token: string, _o: unknown, cmd: Command) => {
    const r = await (await client(cmd)).request<{ name: string; members: { alive: number }; issuerSeen: boolean }>('POST', '/api/v1/community/join', { token });
    emit(cmd, r, () => {
      console.log(`joined community ${r.name}: ${r.members.alive} members alive so far`);
      if (!r.issuerSeen) console.error('note: the gateway that signed the invite is not among the members seen yet');
    });
  });

community.command('leave')
  .description('leave the community gracefully')
  .action(async (_o: unknown, cmd: Command) => {
    await (await client(cmd)).request('POST', '/api/v1/community/leave');
    console.log('left the community');
  });

community.command('rotate-key')
  .description('replace the gossip key on every member, without a pause')
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const r = await (await client(cmd)).request<{ nodes: number }>('POST', '/api/v1/community/rotate-key');
    emit(cmd, r, () => console.log(`new key in use on ${r.nodes} members; the old key is removed`));
  });

community.command('revoke <node>')
  .description('revoke a member (name or id): its peer calls are refused everywhere')
  .option('--json', 'machine-readable output')
  .action(async (node: string, _o: unknown, cmd: Command) => {
    const r = await (await client(cmd)).request<{ id: string; name: string | null }>('POST', '/api/v1/community/revocations', { node });
    emit(cmd, r, () => console.log(`revoked ${r.name ?? '?'} (${r.id.slice(0, 16)}); rotate the key to keep it out of the gossip too`));
  });

community.command('status')
  .description('the community this gateway is in')
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const s = await (await client(cmd)).request<CommunityReport & { self: string; id: string; members: Record<string, number> }>('GET', '/api/v1/community');
    emit(cmd, s, () => {
      console.log(`community ${s.name}: ${s.state}; ${s.members['alive']} alive, ${s.members['failed']} failed, ${s.members['left']} left; this gateway ${s.self} (${s.id.slice(0, 16)})`);
      if (s.reason !== null) console.log(`  reason: ${s.reason}`);
      if (s.retryAt !== null) console.log(`  next attempt: ${s.retryAt}`);
      if (s.warning !== null) console.log(`  warning: ${s.warning}`);
      if (s.fix !== null) console.log(`  fix: ${s.fix}`);
    });
  });

program.command('nodes')
  .description('every member of the community: state, resources, estimated RTT')
  .option('--json', 'machine-readable output')
  .action(async (_o: unknown, cmd: Command) => {
    const r = await (await client(cmd)).request<{ self: string; community: string; items: {
      name: string; id: string | null; status: string; mode: string | null; zone: string | null; free: Record<string, number> | null; contributed: Record<string, number> | null;
      rttMs: number | null; self: boolean; revoked: boolean; peerAddr: string | null;
    }[] }>('GET', '/api/v1/nodes');
    emit(cmd, r, () => printTable(
      ['NAME', 'ID', 'STATE', 'MODE', 'ZONE', 'FREE CPU', 'FREE MEM(MB)', 'FREE SLOTS', 'RTT(ms)', 'PEER'],
      r.items.map((n) => [
        `${n.name}${n.self ? ' *' : ''}`, n.id?.slice(0, 12) ?? '-', n.revoked ? `${n.status} (revoked)` : n.status, n.mode ?? '-', n.zone ?? '-',
        `${n.free?.['cpu'] ?? '-'}/${n.contributed?.['cpu'] ?? '-'}`, `${n.free?.['memoryMb'] ?? '-'}/${n.contributed?.['memoryMb'] ?? '-'}`,
        `${n.free?.['slivers'] ?? '-'}/${n.contributed?.['slivers'] ?? '-'}`, n.rttMs === null ? '-' : n.rttMs.toFixed(1), n.peerAddr ?? '-',
      ]),
    ));
  });

registerTestbedCommands(program);
registerUserCommands(program, emit);
registerSliceCommands(program, { client, emit, json, num });
registerAppCommands(program, { client, emit, json, num });
registerNodeCommands(program, { client, emit });
registerImageCommands(program, { client, emit, json });
registerServiceCommands(program, sliver, { client, emit });
registerSimCommand(program);

program.command('demo')
  .description('a community of gateways on this machine with apps deployed, each API bridged to 127.0.0.1:748N; Ctrl-C removes it all (needs root)')
  .option('-n, --gateways <n>', 'how many gateways', num('--gateways'), 5)
  .option('--link <profile>', `link profile (${Object.keys(LINK_PROFILES).join(', ')})`, 'wifi')
  .option('--apps <list>', 'shipped recipes to deploy, comma-separated', DEMO_APPS.join(','))
  .option('--no-apps', 'deploy no app')
  .option('--dir <dir>', "the testbed's dir (default: the testbed's, so hearth testbed verbs need no --dir)", DEFAULT_TESTBED_DIR)
  .action(async (o: { gateways: number; link: string; apps: string | false; dir: string }) => {
    const { runDemo } = await import('./demo.js');
    await runDemo(o);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ApiProblem) {
    console.error(`hearth: ${err.problem.detail} [${err.problem.code}]`);
  } else if (err instanceof HearthError) {
    // A local verb's fault carries its catalog code too, like the agent's.
    console.error(`hearth: ${err.message} [${err.code}]`);
  } else {
    console.error(`hearth: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = process.exitCode === undefined || process.exitCode === 0 ? 1 : process.exitCode;
});
