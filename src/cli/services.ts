// `hearth services` (the community's directory as this gateway sees it) and
// `hearth sliver service ls|add|rm` (what a sliver of this gateway declares:
// each service is forwarded from a gateway port, checked, and announced to
// the community while its checks pass).

import { Option, type Command } from 'commander';
import type { ApiClient } from './client.js';
import { printTable } from './output.js';
import { SERVICE_TYPES } from '../model/service.js';

export interface ServicesCliDeps {
  client(cmd: Command): Promise<ApiClient>;
  emit(cmd: Command, value: unknown, human: () => void): void;
}

interface Entry { name: string; type: string; protocol: string; gateway: string; address: string; sliver: string; slice: string; rttMs: number | null }
interface Declared {
  name: string; type: string; port: number; protocol: string; hostPort: number; fixed: boolean;
  check: { kind: string; path?: string; intervalSec?: number; timeoutSec?: number }; up: boolean; reason: string | null;
}

const checkLine = (c: Declared['check']): string => (c.kind === 'none' ? 'none' : `${c.kind}${c.path ?? ''} every ${c.intervalSec ?? '?'} s`);

function parsePort(label: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${label} must be a port number (1-65535), got ${JSON.stringify(v)}`);
  return n;
}

/** `--check tcp`, `--check none`, `--check http:/path`. */
function parseCheck(v: string): Record<string, unknown> {
  if (v === 'tcp' || v === 'none') return { kind: v };
  if (v === 'http') return { kind: 'http', path: '/' };
  if (v.startsWith('http:')) return { kind: 'http', path: v.slice('http:'.length) };
  throw new Error(`--check is tcp, none, http or http:/PATH, got ${JSON.stringify(v)}`);
}

export function registerServiceCommands(program: Command, sliver: Command, { client, emit }: ServicesCliDeps): void {
  program.command('services')
    .description("the community's healthy services, as this gateway sees them")
    .addOption(new Option('--type <type>', 'only services of this type').choices([...SERVICE_TYPES]))
    .option('--near', 'nearest first, by round-trip time from this gateway')
    .option('--json', 'machine-readable output')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const query = new URLSearchParams();
      if (typeof o['type'] === 'string') query.set('type', o['type']);
      if (o['near'] === true) query.set('near', 'true');
      const q = query.toString();
      const { items } = await (await client(cmd)).request<{ items: Entry[] }>('GET', `/api/v1/services${q === '' ? '' : `?${q}`}`);
      emit(cmd, items, () => printTable(
        ['TYPE', 'NAME', 'ADDRESS', 'PROTO', 'GATEWAY', 'RTT', 'SLIVER', 'SLICE'],
        items.map((e) => [e.type, e.name, e.address, e.protocol, e.gateway, e.rttMs === null ? '-' : `${e.rttMs.toFixed(1)} ms`, e.sliver, e.slice]),
      ));
    });

  const service = sliver.command('service').description('services a sliver offers to the community');
  const list = async (api: ApiClient, ref: string): Promise<Declared[]> =>
    (await api.request<{ items: Declared[] }>('GET', `/api/v1/slivers/${encodeURIComponent(ref)}/services`)).items;
  const declaration = (d: Declared): Record<string, unknown> => ({
    name: d.name, type: d.type, port: d.port, protocol: d.protocol, check: d.check, ...(d.fixed ? { hostPort: d.hostPort } : {}),
  });

  service.command('ls <sliver>').alias('list')
    .description("a sliver's services, their gateway ports and health")
    .option('--json', 'machine-readable output')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const items = await list(await client(cmd), ref);
      emit(cmd, items, () => printTable(
        ['NAME', 'TYPE', 'PORT', 'GATEWAY PORT', 'CHECK', 'STATE'],
        items.map((d) => [d.name, d.type, `${d.protocol}/${d.port}`, String(d.hostPort), checkLine(d.check), d.up ? 'up' : `down: ${d.reason ?? '?'}`]),
      ));
    });

  service.command('add <sliver> <name>')
    .description('declare a service: forwarded from a gateway port, checked, announced while healthy')
    .addOption(new Option('--type <type>', 'what it is').choices([...SERVICE_TYPES]).makeOptionMandatory())
    .requiredOption('--port <port>', 'its port inside the sliver')
    .addOption(new Option('--protocol <protocol>', 'protocol').choices(['tcp', 'udp']).default('tcp'))
    .option('--host-port <port>', 'a fixed port on the gateway (default: one from its service range)')
    .option('--check <check>', 'tcp, http, http:/PATH or none (default: tcp; udp: none)')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, name: string, o: Record<string, unknown>, cmd: Command) => {
      const api = await client(cmd);
      const added: Record<string, unknown> = {
        name, type: o['type'], port: parsePort('--port', String(o['port'])), protocol: o['protocol'],
        ...(o['hostPort'] === undefined ? {} : { hostPort: parsePort('--host-port', String(o['hostPort'])) }),
        ...(o['check'] === undefined ? {} : { check: parseCheck(String(o['check'])) }),
      };
      const kept = (await list(api, ref)).filter((d) => d.name !== name).map(declaration);
      const { items } = await api.request<{ items: Declared[] }>('PUT', `/api/v1/slivers/${encodeURIComponent(ref)}/services`, { services: [...kept, added] });
      const mine = items.find((d) => d.name === name);
      emit(cmd, mine, () => console.log(`service ${name} of ${ref}: ${mine?.protocol ?? '?'} port ${mine?.hostPort ?? '?'} of this gateway -> ${mine?.port ?? '?'}; announced once its check passes`));
    });

  service.command('rm <sliver> <name>').alias('delete')
    .description('withdraw a service and remove its forward')
    .action(async (ref: string, name: string, _o: unknown, cmd: Command) => {
      const api = await client(cmd);
      const before = await list(api, ref);
      if (!before.some((d) => d.name === name)) throw new Error(`sliver ${ref} declares no service ${name}`);
      await api.request('PUT', `/api/v1/slivers/${encodeURIComponent(ref)}/services`, { services: before.filter((d) => d.name !== name).map(declaration) });
      console.log(`service ${name} of ${ref} withdrawn`);
    });
}
