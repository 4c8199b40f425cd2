// `hearth node mode|zone|bandwidth|token|policy`: the owner's say over what the community may do
// on this gateway. The mode and a summary of the policy travel in the
// gateway's tags, so other gateways' placements see them.

import type { Command } from 'commander';
import type { OwnerPolicy } from '../model/policy.js';
import { OWNER_MODES } from '../model/policy.js';
import type { BandwidthContribution } from '../api/schemas.js';
import type { ApiClient } from './client.js';

export interface NodeCliDeps {
  client(cmd: Command): Promise<ApiClient>;
  emit(cmd: Command, value: unknown, human: () => void): void;
}

function wholeNumber(text: string): number {
  if (!/^\d{1,6}$/.test(text)) throw new Error(`--quota takes a whole number of slivers or 'none', not ${JSON.stringify(text)}`);
  return Number(text);
}

/** A rate in Mbit/s, or 'none' for a direction left unshaped; the agent checks the range. */
function mbitOrNone(flag: string, text: string): number | null {
  if (text === 'none') return null;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag} takes a rate in Mbit/s or 'none', not ${JSON.stringify(text)}`);
  return n;
}

const shownRate = (mbit: number | null): string => (mbit === null ? 'not shaped' : `${mbit} Mbit/s`);

function describe(p: OwnerPolicy): string[] {
  return [
    `mode   ${p.mode}`,
    `users  ${p.users.allow === null ? 'any user of the community' : `only ${p.users.allow.length} listed: ${p.users.allow.join(', ')}`}`,
    `quota  ${p.users.quota === null ? 'none (the contribution is the limit)' : `${p.users.quota} slivers per user`}`,
    `zone   ${p.zone ?? 'none'}`,
  ];
}

export function registerNodeCommands(program: Command, { client, emit }: NodeCliDeps): void {
  const node = program.command('node').description("this gateway's owner controls: mode, who may use it, bandwidth");

  node.command('mode <mode>')
    .description(`set the mode: ${OWNER_MODES.join(', ')} (safe keeps what runs and takes nothing new; drain moves slice slivers elsewhere, then takes nothing)`)
    .option('--json', 'machine-readable output')
    .action(async (mode: string, _o: unknown, cmd: Command) => {
      const api = await client(cmd);
      const current = await api.request<OwnerPolicy>('GET', '/api/v1/node/policy');
      const next = await api.request<OwnerPolicy>('PUT', '/api/v1/node/policy', { ...current, mode });
      emit(cmd, next, () => console.log(`mode ${next.mode}`));
    });

  node.command('zone <zone>')
    .description("where this gateway stands (e.g. a neighbourhood), or 'none': slices spread over zones put one sliver a zone")
    .option('--json', 'machine-readable output')
    .action(async (zone: string, _o: unknown, cmd: Command) => {
      const api = await client(cmd);
      const current = await api.request<OwnerPolicy>('GET', '/api/v1/node/policy');
      const next = await api.request<OwnerPolicy>('PUT', '/api/v1/node/policy', { ...current, zone: zone === 'none' ? null : zone });
      emit(cmd, next, () => console.log(`zone ${next.zone ?? 'none'}`));
    });

  node.command('bandwidth')
    .description("show, or change, the bandwidth this gateway gives its slivers (shared fairly, guarantees first)")
    .option('--up <mbit>', "upload Mbit/s, or 'none' to stop shaping uploads")
    .option('--down <mbit>', "download Mbit/s, or 'none' to stop shaping downloads")
    .option('--json', 'machine-readable output')
    .action(async (o: { up?: string; down?: string }, cmd: Command) => {
      const api = await client(cmd);
      let given = await api.request<BandwidthContribution>('GET', '/api/v1/node/bandwidth');
      if (o.up !== undefined || o.down !== undefined) {
        given = await api.request<BandwidthContribution>('PUT', '/api/v1/node/bandwidth', {
          upMbit: o.up === undefined ? given.upMbit : mbitOrNone('--up', o.up),
          downMbit: o.down === undefined ? given.downMbit : mbitOrNone('--down', o.down),
        });
      }
      const shown = given;
      emit(cmd, shown, () => console.log(`up    ${shownRate(shown.upMbit)}\ndown  ${shownRate(shown.downMbit)}`));
    });

  node.command('token')
    .description("the owner token that every owner request and portal sign-in carries")
    .command('rotate')
    .description('replace the owner token: the old one stops working at once (open portal sessions are signed out); --json prints the new one')
    .option('--json', 'machine-readable output, with the new token')
    .action(async (_o: unknown, cmd: Command) => {
      const { token } = await (await client(cmd)).request<{ token: string }>('POST', '/api/v1/node/token');
      emit(cmd, { token }, () => console.log("owner token rotated: the new one is in the gateway's owner.token file (<data dir>/owner.token); the old one no longer works"));
    });

  node.command('policy')
    .description('show, or change, who may use this gateway')
    .option('--quota <n>', "most slivers one user may have here, or 'none'")
    .option('--allow <user...>', 'only these users (SHA256:… ids, as "hearth user show" prints)')
    .option('--any-user', 'let any user of the community in (drops the list)')
    .option('--json', 'machine-readable output')
    .action(async (o: { quota?: string; allow?: string[]; anyUser?: boolean }, cmd: Command) => {
      const api = await client(cmd);
      let policy = await api.request<OwnerPolicy>('GET', '/api/v1/node/policy');
      if (o.quota !== undefined || o.allow !== undefined || o.anyUser === true) {
        const quota = o.quota === undefined ? policy.users.quota : o.quota === 'none' ? null : wholeNumber(o.quota);
        const allow = o.anyUser === true ? null : (o.allow ?? policy.users.allow);
        policy = await api.request<OwnerPolicy>('PUT', '/api/v1/node/policy', { ...policy, users: { quota, allow } });
      }
      const shown = policy;
      emit(cmd, shown, () => console.log(describe(shown).join('\n')));
    });
}
