// `hearth slice create|ls|show|events|renew|resize|rm`: a user's slices,
// through any gateway of the community. Create, renew, resize and delete are
// documents signed here with the user key (hearth user keygen); the gateway
// and every host check them. `events` prints what the gateway asked logged
// of a slice (its moves by healings, and its slivers' events).
// Must never: send a private key anywhere, or sign what the user did not ask.

import { randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_LIFETIME_SEC, SLICE_KINDS, SPREADS, type SliceView } from '../model/slice.js';
import { parseDuration } from '../model/duration.js';
import { parseUserPrivateKey } from '../cloud/user-key.js';
import { signDocument, type SignedDocument } from '../cloud/signed-document.js';
import { delay } from '../kit/delay.js';
import type { EventRecord } from '../store/store.js';
import type { ApiClient } from './client.js';
import { PACKAGE_OPTION } from './image.js';
import { printTable } from './output.js';
import { createRequestSigner, type RequestSigner } from './request-signer.js';
import { defaultUserKeyPath, readKeyFile } from './user.js';
import { pathExists } from '../kit/exists.js';

export interface SliceCliDeps {
  /** With `user`, a missing owner token is no error: requests are signed with that user key. */
  client(cmd: Command, user?: { keyFile: string }): Promise<ApiClient>;
  emit(cmd: Command, value: unknown, human: () => void): void;
  json(cmd: Command): boolean;
  num(label: string): (v: string) => number;
}

async function readUserKey(file: string): Promise<KeyObject> {
  return parseUserPrivateKey(await readKeyFile(file)).privateKey;
}

/** Signs `body` as a document of `kind` with the user key in `file`. */
export async function signWithKeyFile(file: string, kind: string, body: unknown): Promise<SignedDocument> {
  const privateKey = await readUserKey(file);
  return signDocument({ kind, body, privateKey, at: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('base64url') });
}

/** Signs requests with the user key in `file`, when there is one there. */
export async function userSigner(file: string): Promise<RequestSigner | undefined> {
  return (await pathExists(file)) ? createRequestSigner(await readUserKey(file)) : undefined;
}

export function printSlice(s: SliceView): void {
  const image = s.spec.packages.length === 0 ? s.spec.template : `${s.spec.template} + ${s.spec.packages.join(', ')}`;
  console.log(`slice ${s.name} ${s.state}: ${s.spec.slivers} × ${image}, cpu ${s.spec.resources.cpu}, memory ${s.spec.resources.memoryMb} MB, spread over ${s.spec.spread}`);
  console.log(`user ${s.user}, expires ${s.expiresAt}`);
  printTable(['#', 'SLIVER', 'GATEWAY', 'STATE', 'ADDRESS', 'REASON'],
    s.slivers.map((x) => [String(x.index), x.name ?? '-', x.gateway ?? '-', x.observed, x.address ?? '-', x.reason ?? '-']));
  if (s.unreachable.length > 0) console.log(`not answering: ${s.unreachable.join(', ')}`);
}

/** One page of GET /api/v1/slices/:name/events. */
interface SliceEventsPage {
  slice: string;
  user: string;
  items: EventRecord[];
  next: number | null;
}

/** What one of a slice's events says, in words (the slice and user are the table's). */
export function describeSliceEvent(e: EventRecord): string {
  const d = e.detail;
  const text = (k: string): string => String(d[k]);
  switch (e.type) {
    case 'slice.sliver-moved': return `sliver ${text('index')} moved from ${text('from')} to ${text('to')} (placement version ${text('version')})`;
    case 'slice.sliver-hosted': return `sliver ${text('index')} hosted here, placed by ${text('entry')}`;
    case 'slice.sliver-extra': return `sliver ${text('index')} removed here: the placement keeps it on ${text('keptOn')}`;
    case 'slice.sliver-resized': return `sliver ${text('index')} removed here: the slice now has ${text('slivers')}`;
    case 'slice.sliver-deleted': return 'removed here: the user deleted the slice';
    case 'slice.sliver-expired': return 'removed here: the slice expired';
    default: {
      const rest = Object.entries(d).filter(([k]) => k !== 'slice' && k !== 'user' && k !== 'name');
      return rest.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    }
  }
}

/** The table of a slice's events: which sliver (by index) each concerns, when the events tell. */
export function printSliceEvents(p: Pick<SliceEventsPage, 'slice' | 'user' | 'items'>): void {
  const indexOf = new Map<string, string>();
  for (const e of p.items) if (e.type === 'slice.sliver-hosted' && e.sliverId !== null) indexOf.set(e.sliverId, String(e.detail['index']));
  const sliverOf = (e: EventRecord): string => (typeof e.detail['index'] === 'number' ? String(e.detail['index']) : (e.sliverId === null ? undefined : indexOf.get(e.sliverId)) ?? '-');
  console.log(`slice ${p.slice} of ${p.user}: ${p.items.length} event${p.items.length === 1 ? '' : 's'} logged by this gateway`);
  printTable(['SEQ', 'AT', 'SLIVER', 'EVENT', 'WHAT'], p.items.map((e) => [String(e.seq), e.at, sliverOf(e), e.type, describeSliceEvent(e)]));
}

/** Polls the slice until every sliver runs, one fails, or the time is up; progress to stderr. */
export async function waitForSlice(api: ApiClient, start: SliceView, progress: boolean, timeoutMs = 300_000): Promise<SliceView> {
  let view = start;
  let last = '';
  const started = Date.now();
  for (;;) {
    const line = view.slivers.map((s) => `${s.index}:${s.observed}`).join(' ');
    if (progress && line !== last) {
      process.stderr.write(`  ${view.name}: ${line}  [${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
      last = line;
    }
    if (view.state === 'running' || view.slivers.some((s) => s.observed === 'failed')) return view;
    if (Date.now() - started > timeoutMs) throw new Error(`slice ${view.name} was not running within ${timeoutMs / 1000} s (now ${view.state})`);
    await delay(250);
    view = await api.request<SliceView>('GET', `/api/v1/slices/${encodeURIComponent(view.name)}?user=${encodeURIComponent(view.user)}`);
  }
}

export function registerSliceCommands(program: Command, deps: SliceCliDeps): void {
  const { client, emit, json, num } = deps;
  const slice = program.command('slice').description('slices: your slivers spread over the community, asked of any gateway');
  const keyOption = ['--key <file>', 'your user key (default $HEARTH_USER_KEY or ~/.config/hearth/user_ed25519)'] as const;

  slice.command('create <name>')
    .description('sign a slice request, have the community place it, and wait until every sliver runs')
    .option('-n, --slivers <n>', 'how many slivers', num('--slivers'), 1)
    .option('-t, --template <template>', 'busybox or debian', 'busybox')
    .option(...PACKAGE_OPTION)
    .option('--cpu <cores>', 'CPU cores per sliver (fractions allowed)', num('--cpu'))
    .option('--memory <mb>', 'memory per sliver (MB)', num('--memory'))
    .option('--disk <mb>', 'disk per sliver (MB)', num('--disk'))
    .option('--up <mbit>', 'upload rate guaranteed per sliver (Mbit/s; default a fair share)', num('--up'))
    .option('--down <mbit>', 'download rate guaranteed per sliver (Mbit/s; default a fair share)', num('--down'))
    .option('--spread <rule>', `where slivers must differ: ${SPREADS.join(' or ')}`, 'gateways')
    .option('--near <gateway>', 'place close to this gateway (by measured round-trip time)')
    .option('--ssh-key <file...>', 'OpenSSH public keys to install in every sliver')
    .option('--services <file>', 'a JSON list of services every sliver offers: [{name, type, port, protocol?, hostPort?, check?}]')
    .option('--lifetime <duration>', 'how long until it expires unless renewed (e.g. 7d, 12h)', parseDuration)
    .option(...keyOption)
    .option('--no-wait', 'return once placed instead of waiting until it runs')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const sshKeys = await Promise.all(((o['sshKey'] as string[] | undefined) ?? []).map(async (f) => (await readFile(f, 'utf8')).trim()));
      const resources = Object.fromEntries([['cpu', o['cpu']], ['memoryMb', o['memory']], ['diskMb', o['disk']], ['upMbit', o['up']], ['downMbit', o['down']]].filter(([, v]) => v !== undefined));
      const packages = o['package'] as string[];
      const services = o['services'] === undefined ? [] : JSON.parse(await readFile(String(o['services']), 'utf8')) as unknown;
      const spec = {
        name, slivers: o['slivers'], template: o['template'], resources, spread: o['spread'], sshKeys,
        // Left out when empty, so the document is one a gateway from before packages also takes.
        ...(packages.length === 0 ? {} : { packages }),
        ...(Array.isArray(services) && services.length === 0 ? {} : { services }),
        ...(o['near'] === undefined ? {} : { near: o['near'] }),
        ...(o['lifetime'] === undefined ? {} : { lifetimeSec: o['lifetime'] }),
      };
      const document = await signWithKeyFile((o['key'] as string | undefined) ?? defaultUserKeyPath(), SLICE_KINDS.create, spec);
      const keyFile = (o['key'] as string | undefined) ?? defaultUserKeyPath();
      const api = await client(cmd, { keyFile });
      let view = await api.request<SliceView>('POST', '/api/v1/slices', { document });
      if (o['wait'] !== false) view = await waitForSlice(api, view, !json(cmd));
      emit(cmd, view, () => printSlice(view));
      if (view.state !== 'running' && o['wait'] !== false) process.exitCode = 1;
    });

  slice.command('ls').alias('list')
    .description("the community's slices, gathered from the gateways that host them: all of them with the owner token, else your own")
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (o: { key?: string }, cmd: Command) => {
      const { items } = await (await client(cmd, { keyFile: o.key ?? defaultUserKeyPath() })).request<{ items: SliceView[] }>('GET', '/api/v1/slices');
      emit(cmd, items, () => printTable(
        ['NAME', 'STATE', 'SLIVERS', 'GATEWAYS', 'USER', 'EXPIRES'],
        items.map((s) => [
          s.name, s.state, `${s.slivers.filter((x) => x.observed === 'running').length}/${s.spec.slivers}`,
          [...new Set(s.slivers.map((x) => x.gateway ?? '-'))].join(','), s.user, s.expiresAt,
        ]),
      ));
    });

  slice.command('show <name>')
    .description('one slice, with each sliver, its gateway and its state')
    .option('--user <id>', 'whose slice, when several users have one of that name (SHA256:…)')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { user?: string; key?: string }, cmd: Command) => {
      const query = o.user === undefined ? '' : `?user=${encodeURIComponent(o.user)}`;
      const view = await (await client(cmd, { keyFile: o.key ?? defaultUserKeyPath() })).request<SliceView>('GET', `/api/v1/slices/${encodeURIComponent(name)}${query}`);
      emit(cmd, view, () => printSlice(view));
    });

  slice.command('events <name>').alias('history')
    .description("what this gateway logged of a slice: its slivers moved by healings, hosted and removed here, and their own events (a gateway that held the slice has every move)")
    .option('--user <id>', 'whose slice, when several users have one of that name (SHA256:…)')
    .option('--type <type>', 'only events of this type, e.g. slice.sliver-moved')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { user?: string; type?: string; key?: string }, cmd: Command) => {
      const api = await client(cmd, { keyFile: o.key ?? defaultUserKeyPath() });
      const base = `/api/v1/slices/${encodeURIComponent(name)}/events?limit=500${o.user === undefined ? '' : `&user=${encodeURIComponent(o.user)}`}${o.type === undefined ? '' : `&type=${encodeURIComponent(o.type)}`}`;
      let page = await api.request<SliceEventsPage>('GET', base);
      const items = [...page.items];
      while (page.next !== null) {
        page = await api.request<SliceEventsPage>('GET', `${base}&after=${String(page.next)}`);
        items.push(...page.items);
      }
      const all = { slice: page.slice, user: page.user, items };
      emit(cmd, all, () => printSliceEvents(all));
    });

  slice.command('renew <name>')
    .description('sign a renewal: the slice expires this long from now instead')
    .option('--lifetime <duration>', 'how long from now (e.g. 7d, 12h)', parseDuration, DEFAULT_LIFETIME_SEC)
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { key?: string; lifetime: number }, cmd: Command) => {
      const keyFile = o.key ?? defaultUserKeyPath();
      const document = await signWithKeyFile(keyFile, SLICE_KINDS.renew, { name, lifetimeSec: o.lifetime });
      const view = await (await client(cmd, { keyFile })).request<SliceView>('POST', `/api/v1/slices/${encodeURIComponent(name)}/renew`, { document });
      emit(cmd, view, () => console.log(`slice ${view.name} now expires ${view.expiresAt}`));
    });

  slice.command('resize <name>')
    .description('sign a resize: the community places the new slivers (and waits until they run) or removes those above the new number')
    .requiredOption('-n, --slivers <n>', 'how many slivers from now on', num('--slivers'))
    .option(...keyOption)
    .option('--no-wait', 'return once placed instead of waiting until every sliver runs')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { key?: string; slivers: number; wait?: boolean }, cmd: Command) => {
      const keyFile = o.key ?? defaultUserKeyPath();
      const document = await signWithKeyFile(keyFile, SLICE_KINDS.resize, { slice: name, slivers: o.slivers });
      const api = await client(cmd, { keyFile });
      let view = await api.request<SliceView>('POST', `/api/v1/slices/${encodeURIComponent(name)}/resize`, { document });
      if (o.wait !== false) view = await waitForSlice(api, view, !json(cmd));
      emit(cmd, view, () => printSlice(view));
      if (view.state !== 'running' && o.wait !== false) process.exitCode = 1;
    });

  slice.command('rm <name>').alias('delete')
    .description('sign a delete of your slice; every gateway that hosts it removes its slivers')
    .option(...keyOption)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { key?: string }, cmd: Command) => {
      const keyFile = o.key ?? defaultUserKeyPath();
      const document = await signWithKeyFile(keyFile, SLICE_KINDS.delete, { name });
      const view = await (await client(cmd, { keyFile })).request<SliceView>('DELETE', `/api/v1/slices/${encodeURIComponent(name)}`, { document });
      emit(cmd, view, () => console.log(`slice ${view.name} deleted${view.unreachable.length === 0 ? '' : `; not reached: ${view.unreachable.join(', ')}`}`));
    });
}
