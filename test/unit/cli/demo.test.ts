// The demo's decisions as a user would notice them: its testbed keeps out of
// subnets the machine already uses, the three shipped apps fit five of the
// testbed's gateways however they are placed, and an app counts as ready
// only once every sliver's role has all its services in the directory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { bridgePort, DEMO_APPS, demoResources, missingServices, parseAppList, pickUnderlay } from '../../../src/cli/demo-plan.js';
import { validateRecipe, type AppRecipe } from '../../../src/model/app.js';
import type { SliceView } from '../../../src/model/slice.js';

const here = fileURLToPath(import.meta.url);
const repo = here.includes('/dist/') ? here.slice(0, here.indexOf('/dist/')) : here.slice(0, here.indexOf('/test/'));
const recipe = (name: string): AppRecipe => validateRecipe(JSON.parse(readFileSync(join(repo, 'apps', `${name}.json`), 'utf8')));

test('the underlay is the first 172.26.N.0/24 that no address or route of the machine overlaps', () => {
  assert.deepEqual(pickUnderlay(['default', '127.0.0.1/8', '192.0.2.2/24']), { network: '172.26.0.0', prefixLength: 24 });
  assert.deepEqual(pickUnderlay(['172.26.0.1/24', '172.26.1.0/24']), { network: '172.26.2.0', prefixLength: 24 });
  assert.deepEqual(pickUnderlay(['172.26.0.7']), { network: '172.26.1.0', prefixLength: 24 }, 'a bare address is a /32');
  assert.throws(() => pickUnderlay(['172.16.0.0/12']), /no underlay subnet left/);
});

test('the three apps fit five gateways of 1 core, 1 GB and 4 GB of disk, one sliver of each app per gateway', () => {
  const asks = DEMO_APPS.map((name) => demoResources(recipe(name)));
  const sum = (key: 'cpu' | 'memoryMb' | 'diskMb'): number => asks.reduce((n, r) => n + r[key], 0);
  assert.ok(sum('cpu') <= 1, `cpu ${sum('cpu')}`);
  assert.ok(sum('memoryMb') <= 1024, `memory ${sum('memoryMb')}`);
  assert.ok(sum('diskMb') <= 4096, `disk ${sum('diskMb')}`);
  assert.equal(demoResources(recipe('video')).memoryMb, 384, 'memory is what the recipe asks');
});

test('an app is ready once every sliver announces its role\'s services, and what is missing is named', () => {
  const video = recipe('video');
  const view = {
    name: 'video', spec: { slivers: 3, app: video },
    slivers: [0, 1, 2].map((index) => ({ index, name: `video-${index}` })),
  } as unknown as SliceView;
  const entry = (sliver: string, name: string, slice = 'video'): { slice: string; sliver: string; name: string } => ({ slice, sliver, name });
  assert.deepEqual(missingServices(view, []), ['video-0/origin', 'video-1/edge', 'video-2/edge']);
  assert.deepEqual(missingServices(view, [entry('video-0', 'origin'), entry('video-2', 'edge'), entry('video-1', 'edge', 'other')]), ['video-1/edge']);
  assert.deepEqual(missingServices(view, [entry('video-0', 'origin'), entry('video-1', 'edge'), entry('video-2', 'edge')]), []);
});

test('--apps names each app once; an empty list is refused; gateway N is bridged to port 748N', () => {
  assert.deepEqual(parseAppList('video, storage,video'), ['video', 'storage']);
  assert.throws(() => parseAppList(' , '), /--no-apps/);
  assert.equal(bridgePort(3), 7483);
});
