// `hearth app deploy|ls|show|rm`: apps, each a slice whose signed spec holds
// its recipe. Deploy reads a recipe file or one the gateway ships, checks it
// here first (clear errors before anything is signed), signs the slice and
// waits until every sliver runs (the first deploy of an app on a machine
// waits for its image, minutes). The hosting gateways install each sliver's
// share and announce its services.
// Must never: sign a recipe that does not validate.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { deploySize, roleAt, validateRecipe, type AppRecipe } from '../model/app.js';
import { SLICE_KINDS, type SliceView } from '../model/slice.js';
import type { ApiClient } from './client.js';
import { printTable } from './output.js';
import { printSlice, signWithKeyFile, waitForSlice, type SliceCliDeps } from './slice.js';
import { parseDuration } from '../model/duration.js';
import { defaultUserKeyPath } from './user.js';

const DEPLOY_TIMEOUT_MS = 30 * 60_000;

/** A recipe file when the argument names one (a path, or a .json name), else the recipe the gateway ships by that name. */
async function recipeOf(api: ApiClient, ref: string): Promise<AppRecipe> {
  const raw = ref.includes('/') || ref.endsWith('.json')
    ? JSON.parse(await readFile(ref, 'utf8')) as unknown
    : await api.request<unknown>('GET', `/api/v1/apps/${encodeURIComponent(ref)}`);
  return validateRecipe(raw);
}

/** Each sliver's role in an app slice. */
function rolesOf(view: SliceView): Map<number, string> {
  const app = view.spec.app;
  if (app === null) return new Map();
  return new Map(view.slivers.map((s) => [s.index, roleAt(app, view.spec.slivers, s.index)?.name ?? '?']));
}

interface Entry { name: string; type: string; address: string; gateway: string; sliver: string; slice: string }

export function registerAppCommands(program: Command, deps: SliceCliDeps): void {
  const { client, emit, json, num } = deps;
  const app = program.command('app').description('apps: slices that run a recipe (file sharing, video, storage, or your own)');
  const keyOption = ['--key <file>', 'your user key (default $HEARTH_USER_KEY or ~/.config/hearth/user_ed25519)'] as const;

  app.command('recipes')
    .description('the recipes this gateway ships')
    .option('--json', 'machine-readable output')
    .action(async (_o: unknown, cmd: Command) => {
      const { items } = await (await client(cmd)).request<{ items: { name: string; slivers: number; description: string; roles: { name: string; slivers: number }[] }[] }>('GET', '/api/v1/apps');
      emit(cmd, items, () => printTable(['NAME', 'SLIVERS', 'ROLES', 'DESCRIPTION'],
        items.map((r) => [r.name, String(r.slivers), r.roles.map((x) => `${x.name}×${x.slivers}`).join(' '), r.description.length > 60 ? `${r.description.slice(0, 59)}…` : r.description])));
    });

  app.command('deploy <recipe>')
    .description('deploy an app from a recipe file or a shipped recipe (hearth app recipes): signed by your key, placed by the community')
    .option('--name <slice>', "the slice's name (default: the recipe's)")
    .option('--gateways <k>', 'spread it over k gateways: the recipe\'s scalable role gets the extra slivers', num('--gateways'))
    .option('--cpu <cores>', 'CPU cores per sliver (default: the most any role asks)', num('--cpu'))
    .option('--memory <mb>', 'memory per sliver, MB (default: the most any role asks)', num('--memory'))
    .option('--disk <mb>', 'disk per sliver, MB (default: the most any role asks)', num('--disk'))
    .option('--ssh-key <file...>', 'OpenSSH public keys to install in every sliver')
    .option('--lifetime <duration>', 'how long until it expires unless renewed (e.g. 7d, 12h)', parseDuration)
    .option(...keyOption)
    .option('--no-wait', 'return once placed instead of waiting until every sliver runs')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: Record<string, unknown>, cmd: Command) => {
      const keyFile = (o['key'] as string | undefined) ?? defaultUserKeyPath();
      const api = await client(cmd, { keyFile });
      const recipe = await recipeOf(api, ref);
      const slivers = deploySize(recipe, o['gateways'] as number | undefined);
      const sshKeys = await Promise.all(((o['sshKey'] as string[] | undefined) ?? []).map(async (f) => (await readFile(f, 'utf8')).trim()));
      // Sizes the user gives replace the recipe's; the spec takes the rest from the recipe.
      const resources = Object.fromEntries([['cpu', o['cpu']], ['memoryMb', o['memory']], ['diskMb', o['disk']]].filter(([, v]) => v !== undefined));
      const spec = {
        name: (o['name'] as string | undefined) ?? recipe.name, slivers, app: recipe, sshKeys,
        ...(Object.keys(resources).length === 0 ? {} : { resources }),
        ...(o['lifetime'] === undefined ? {} : { lifetimeSec: o['lifetime'] }),
      };
      const document = await signWithKeyFile(keyFile, SLICE_KINDS.create, spec);
      let view = await api.request<SliceView>('POST', '/api/v1/slices', { document });
      if (!json(cmd)) process.stderr.write(`app ${recipe.name} placed as slice ${view.name}; the first deploy on a machine builds its image (minutes)\n`);
      if (o['wait'] !== false) view = await waitForSlice(api, view, !json(cmd), DEPLOY_TIMEOUT_MS);
      emit(cmd, view, () => {
        printSlice(view);
        console.log(`its services are announced once their checks pass: hearth services (or hearth app show ${view.name})`);
      });
      if (view.state !== 'running' && o['wait'] !== false) process.exitCode = 1;
    });

  app.command('ls').alias('list')
    .description('your apps (the owner token shows everyone\'s)')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (o: { key?: string }, cmd: Command) => {
      const { items } = await (await client(cmd, { keyFile: o.key ?? defaultUserKeyPath() })).request<{ items: SliceView[] }>('GET', '/api/v1/slices');
      const apps = items.filter((s) => s.spec.app !== null);
      emit(cmd, apps, () => printTable(['NAME', 'APP', 'STATE', 'SLIVERS', 'GATEWAYS', 'EXPIRES'],
        apps.map((s) => [s.name, s.spec.app?.name ?? '-', s.state, `${s.slivers.filter((x) => x.observed === 'running').length}/${s.spec.slivers}`,
          [...new Set(s.slivers.map((x) => x.gateway ?? '-'))].join(','), s.expiresAt])));
    });

  app.command('show <name>')
    .description('an app: each sliver with its role, gateway and state, and the services it announces')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { key?: string }, cmd: Command) => {
      const api = await client(cmd, { keyFile: o.key ?? defaultUserKeyPath() });
      const view = await api.request<SliceView>('GET', `/api/v1/slices/${encodeURIComponent(name)}`);
      if (view.spec.app === null) throw new Error(`slice ${name} runs no app; see hearth slice show ${name}`);
      const roles = rolesOf(view);
      // The directory needs the owner token; a user without one sees the slivers only.
      const services = await api.request<{ items: Entry[] }>('GET', '/api/v1/services').then((r) => r.items.filter((e) => e.slice === name), () => undefined);
      emit(cmd, { ...view, roles: Object.fromEntries(roles), services: services ?? null }, () => {
        console.log(`app ${view.spec.app?.name ?? '?'} as slice ${view.name}: ${view.state}, expires ${view.expiresAt}`);
        printTable(['#', 'ROLE', 'SLIVER', 'GATEWAY', 'STATE'],
          view.slivers.map((s) => [String(s.index), roles.get(s.index) ?? '?', s.name ?? '-', s.gateway ?? '-', s.observed]));
        if (services !== undefined) {
          console.log('');
          printTable(['SERVICE', 'TYPE', 'ADDRESS', 'SLIVER'], services.map((e) => [e.name, e.type, e.address, e.sliver]));
        }
      });
    });

  app.command('rm <name>').alias('delete')
    .description('sign a delete of the app\'s slice; every gateway that hosts it removes its slivers')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { key?: string }, cmd: Command) => {
      const keyFile = o.key ?? defaultUserKeyPath();
      const document = await signWithKeyFile(keyFile, SLICE_KINDS.delete, { name });
      const view = await (await client(cmd, { keyFile })).request<SliceView>('DELETE', `/api/v1/slices/${encodeURIComponent(name)}`, { document });
      emit(cmd, view, () => console.log(`app ${name} removed${view.unreachable.length === 0 ? '' : `; not reached: ${view.unreachable.join(', ')}`}`));
    });
}
