// `hearth image ls|build|rm`: the machine's base images, shared by every
// gateway on it. A build runs in the agent (it takes minutes); the CLI
// follows it, printing each new stage line, until it is ready or failed.

import type { Command } from 'commander';
import type { ApiClient } from './client.js';
import { printTable } from './output.js';
import type { ImageInfo } from '../virt/images.js';

export interface ImageCliDeps {
  client(cmd: Command): Promise<ApiClient>;
  emit(cmd: Command, value: unknown, human: () => void): void;
  json(cmd: Command): boolean;
}

const POLL_MS = 1000;

/** `--package P`, repeated: the packages in the order given (the gateway sorts them). */
export const PACKAGE_OPTION = [
  '--package <name>', 'a Debian package the image adds to the base (debian only; repeat for more)',
  (name: string, previous: string[]): string[] => [...previous, name], [] as string[],
] as const;

/**
 * The progress line of the gateway's build under way of the image a sliver
 * of `template` with `packages` uses, if any (for `sliver create`): of the
 * builds whose package set (base and extras) has all of them, the smallest.
 */
export async function buildingImageLine(api: ApiClient, template: string, packages: readonly string[] = []): Promise<string | null> {
  const { items } = await api.request<{ items: ImageInfo[] }>('GET', '/api/v1/images');
  const b = items
    .filter((i) => i.template === template && i.state === 'building' && packages.every((p) => i.packages.includes(p)))
    .sort((x, y) => x.packages.length - y.packages.length)[0];
  return b === undefined ? null : `image ${b.name}: ${b.progress ?? 'building'}`;
}

function size(info: ImageInfo): string {
  return info.packages.length === 0 ? '-' : info.packages.join(',');
}

export function registerImageCommands(program: Command, { client, emit, json }: ImageCliDeps): void {
  const image = program.command('image').description("this machine's base images (shared by its gateways)");

  image.command('ls').alias('list')
    .description('list images, and this gateway\'s builds under way or failed')
    .option('--json', 'machine-readable output')
    .action(async (_o: unknown, cmd: Command) => {
      const { items } = await (await client(cmd)).request<{ items: ImageInfo[] }>('GET', '/api/v1/images');
      emit(cmd, items, () => printTable(
        ['NAME', 'TEMPLATE', 'STATE', 'RELEASE', 'USED BY', 'BUILD', 'PACKAGES'],
        items.map((i) => [
          i.name, i.template, i.state, i.suite === null ? '-' : `${i.suite}/${i.arch ?? '?'}`, String(i.usedBy),
          i.buildMs === null ? '-' : `${(i.buildMs / 1000).toFixed(0)} s`, i.state === 'failed' ? `error: ${i.error ?? '?'}` : size(i),
        ]),
      ));
    });

  image.command('build <template> [packages...]')
    .description('build the image of a template (debian: with extra Debian packages) and wait for it')
    .option('--no-wait', 'return once the build started')
    .option('--json', 'machine-readable output')
    .action(async (template: string, packages: string[], o: Record<string, unknown>, cmd: Command) => {
      const api = await client(cmd);
      let info = await api.request<ImageInfo>('POST', '/api/v1/images', { template, ...(packages.length > 0 ? { packages } : {}) });
      const started = Date.now();
      let last = '';
      while (o['wait'] !== false && info.state === 'building') {
        const line = info.progress ?? 'building';
        if (!json(cmd) && line !== last) process.stderr.write(`  ${line}  [${((Date.now() - started) / 1000).toFixed(0)} s]\n`);
        last = line;
        await new Promise((r) => setTimeout(r, POLL_MS));
        const { items } = await api.request<{ items: ImageInfo[] }>('GET', '/api/v1/images');
        // A build another gateway finished first shows up as the image itself.
        info = items.find((i) => i.name === info.name) ?? { ...info, state: 'failed', error: 'the build vanished (the agent restarted?)' };
      }
      emit(cmd, info, () => console.log(info.state === 'failed' ? `image ${info.name} failed: ${info.error ?? '?'}` : `image ${info.name} ${info.state}`));
      if (info.state === 'failed') process.exitCode = 1;
    });

  image.command('rm <name>').alias('delete')
    .description('remove an image no sliver on this machine uses')
    .option('--json', 'machine-readable output')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await (await client(cmd)).request('DELETE', `/api/v1/images/${encodeURIComponent(name)}`);
      emit(cmd, { removed: name }, () => console.log(`image ${name} removed`));
    });
}
