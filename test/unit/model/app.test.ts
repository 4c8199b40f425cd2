// App recipes: the ones that ship in apps/ are valid and expand for every
// sliver; what a recipe may not say is refused as invalid_recipe naming the
// field; placeholders expand to the slice's names by role.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  APP_BOOT_SCRIPT, APP_MARKER, MAX_FILE_BYTES, MAX_FILES, RESERVED_PATHS, appShare, expandRole, installScript, isAllowedFilePath, recipeResources,
  deploySize, recipeSize, roleIndexes, roleOf, scaleRecipe, validateRecipe, type AppRecipe,
} from '../../../src/model/app.js';
import { HearthError } from '../../../src/model/errors.js';
import { PACKAGE_ROOT } from '../../../src/agent/version.js';
import { MAX_SLICE_SLIVERS } from '../../../src/model/slice.js';


const names = (slice: string) => (i: number): string => `${slice}-${i}.${slice}.hearth`;

function minimal(): Record<string, unknown> {
  return {
    name: 'demo',
    description: 'a web server and a client',
    packages: ['nginx'],
    roles: [
      { name: 'web', slivers: 2, services: [{ name: 'www', type: 'http', port: 80, check: { kind: 'http', path: '/' } }] },
      { name: 'client', slivers: 1, commands: ['echo {{host:web}}'] },
    ],
  };
}

/** `minimal()` changed by `edit`, which gets the recipe and its two roles to mutate. */
function variant(edit: (r: Record<string, unknown>, web: Record<string, unknown>, client: Record<string, unknown>) => void): Record<string, unknown> {
  const r = minimal();
  const roles = r['roles'] as Record<string, unknown>[];
  edit(r, roles[0] as Record<string, unknown>, roles[1] as Record<string, unknown>);
  return r;
}

function refused(input: unknown, field: string | RegExp, why: string): void {
  assert.throws(() => validateRecipe(input), (e: unknown) => {
    assert.ok(e instanceof HearthError, why);
    assert.equal(e.code, 'invalid_recipe', `${why}: ${e.message}`);
    assert.equal(e.status, 400);
    const got = String(e.extra['field']);
    if (typeof field === 'string') assert.equal(got, field, `${why}: ${e.message}`);
    else assert.match(got, field, `${why}: ${e.message}`);
    return true;
  }, why);
}

test('every recipe in apps/ is valid, named as its file, spread over at least 3 gateways, and expands for each sliver', () => {
  const dir = `${PACKAGE_ROOT}/apps`;
  const files = readdirSync(dir).sort();
  for (const shipped of ['file-sharing.json', 'storage.json', 'video.json']) assert.ok(files.includes(shipped), shipped);
  for (const file of files) {
    assert.match(file, /\.json$/, 'apps/ holds recipes only');
    const recipe = validateRecipe(JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')));
    assert.equal(`${recipe.name}.json`, file);
    assert.equal(recipe.spread, 'gateways');
    const ranges = roleIndexes(recipe);
    const total = ranges.reduce((n, r) => n + r.count, 0);
    assert.ok(total >= 3, `${file} has ${total} slivers`);
    assert.ok(recipe.roles.some((r) => r.scalable), `${file} can grow with the gateways it is given`);
    recipe.roles.forEach((role, i) => {
      assert.ok(role.commands.length > 0 && role.services.length > 0, `${file} ${role.name} runs and announces something`);
      const range = ranges[i] as { first: number; count: number };
      for (let k = range.first; k < range.first + range.count; k++) {
        const out = expandRole(recipe, i, recipe.name, k, names(recipe.name));
        for (const text of [...out.files.map((f) => f.content), ...out.commands]) assert.doesNotMatch(text, /\{\{/, `${file} ${role.name}`);
      }
    });
  }
});

test('a minimal recipe gets its defaults: spread gateways, not scalable, no files, mode 0644, sorted packages', () => {
  const r = validateRecipe(variant((r, web) => {
    r['packages'] = ['nginx', 'curl', 'nginx'];
    web['files'] = [{ path: '/etc/motd', content: 'hi' }];
  }));
  assert.equal(r.spread, 'gateways');
  assert.deepEqual(r.packages, ['curl', 'nginx']);
  assert.deepEqual(r.roles.map((x) => [x.name, x.slivers, x.scalable]), [['web', 2, false], ['client', 1, false]]);
  assert.deepEqual(r.roles[0]?.files, [{ path: '/etc/motd', content: 'hi', mode: '0644' }]);
  assert.deepEqual(r.roles[1]?.services, []);
  assert.deepEqual(r.roles[0]?.services[0], { name: 'www', type: 'http', port: 80, protocol: 'tcp', hostPort: null, check: { kind: 'http', path: '/', intervalSec: 5, timeoutSec: 2 } });
});

test('unknown fields are refused at every level', () => {
  refused(variant((r) => { r['image'] = 'x'; }), 'image', 'recipe');
  refused(variant((_r, web) => { web['replicas'] = 2; }), 'roles[0].replicas', 'role');
  refused(variant((_r, web) => { web['files'] = [{ path: '/a', content: '', owner: 'root' }]; }), 'roles[0].files[0].owner', 'file');
  refused(variant((_r, web) => { web['resources'] = { pids: 10 }; }), 'roles[0].resources.pids', 'resources beyond cpu, memory, disk');
  refused(variant((_r, web) => { web['services'] = [{ name: 'www', type: 'http', port: 80, weight: 1 }]; }), 'roles[0].services', 'service');
  refused([], 'recipe', 'not an object');
});

test('services: a port out of range, a port used twice, an unknown type are refused with the services refusal as cause', () => {
  const bad = (services: unknown[], why: string): void => {
    refused(variant((_r, web) => { web['services'] = services; }), 'roles[0].services', why);
    try {
      validateRecipe(variant((_r, web) => { web['services'] = services; }));
    } catch (e) {
      assert.equal(((e as Error).cause as HearthError).code, 'invalid_services', why);
    }
  };
  bad([{ name: 'a', type: 'http', port: 0 }], 'port 0');
  bad([{ name: 'a', type: 'http', port: 65536 }], 'port 65536');
  bad([{ name: 'a', type: 'http', port: 80 }, { name: 'b', type: 'webdav', port: 80 }], 'duplicate port');
  bad([{ name: 'a', type: 'gopher', port: 70 }], 'unknown type');
  // The same port in two roles is two slivers: allowed.
  validateRecipe(variant((_r, _web, client) => { client['services'] = [{ name: 'www', type: 'http', port: 80 }]; }));
});

test('packages: missing, not a list, an invalid or option-like name are refused', () => {
  refused(variant((r) => { delete r['packages']; }), 'packages', 'missing');
  refused(variant((r) => { r['packages'] = 'nginx'; }), 'packages', 'a string');
  for (const p of ['Nginx', '--force-yes', 'a', 'nginx curl', '../x']) refused(variant((r) => { r['packages'] = ['curl', p]; }), 'packages', p);
});

test('file paths must stay in the sliver: absolute, normalized, outside the reserved trees', () => {
  for (const path of ['etc/motd', '/etc/../etc/motd', '/etc/./motd', '/etc//motd', '/etc/motd/', '/', '/..', '/proc/1/mem', '/sys', '/dev/null',
    '/run/hearth/x', '/run', '/etc/hosts', '/srv/{{index}}', '/srv/a b', '/srv/é', `/${'a'.repeat(200)}`]) {
    refused(variant((_r, web) => { web['files'] = [{ path, content: '' }]; }), 'roles[0].files[0].path', path);
  }
  for (const path of ['/etc/hosts.allow', '/proc.d/x', '/runner', '/srv/.hidden', '/etc/nginx/conf.d/x+y@z.conf']) {
    validateRecipe(variant((_r, web) => { web['files'] = [{ path, content: '' }]; }));
  }
  refused(variant((_r, web) => { web['files'] = [{ path: '/a', content: '' }, { path: '/a', content: 'x' }]; }), 'roles[0].files[1].path', 'twice');
});

test('an accepted path is exactly a normalized absolute path outside every reserved tree', () => {
  const segment = fc.constantFrom('', '.', '..', 'etc', 'proc', 'run', 'dev', 'sys', 'hosts', 'hearth', 'a.b', 'x-1');
  fc.assert(fc.property(fc.array(segment, { maxLength: 5 }), fc.boolean(), (segments, relative) => {
    const path = `${relative ? '' : '/'}${segments.join('/')}`;
    const expected = path.startsWith('/') && path !== '/' && posix.normalize(path) === path && !path.endsWith('/')
      && !RESERVED_PATHS.some((r) => path === r || path.startsWith(`${r}/`));
    assert.equal(isAllowedFilePath(path), expected, path);
  }));
});

test('files: too large (in bytes, not characters), too many, a bad mode are refused; the limits themselves pass', () => {
  const sized = (content: string): Record<string, unknown> => variant((_r, web) => { web['files'] = [{ path: '/srv/big', content }]; });
  validateRecipe(sized('a'.repeat(MAX_FILE_BYTES)));
  refused(sized('a'.repeat(MAX_FILE_BYTES + 1)), 'roles[0].files[0].content', 'one byte over');
  refused(sized('é'.repeat(MAX_FILE_BYTES / 2 + 1)), 'roles[0].files[0].content', 'two-byte characters');
  const many = (n: number): Record<string, unknown> => variant((_r, web) => { web['files'] = Array.from({ length: n }, (_, i) => ({ path: `/srv/f${i}`, content: '' })); });
  validateRecipe(many(MAX_FILES));
  refused(many(MAX_FILES + 1), 'roles[0].files', 'too many files');
  for (const mode of ['644', '0844', '4755', 'rw-r--r--', 420]) refused(variant((_r, web) => { web['files'] = [{ path: '/a', content: '', mode }]; }), 'roles[0].files[0].mode', String(mode));
});

test('slivers: at least one a role, at most a slice in all; role names are labels and unique', () => {
  refused(variant((_r, web) => { web['slivers'] = 0; }), 'roles[0].slivers', 'zero');
  refused(variant((_r, web) => { web['slivers'] = 1.5; }), 'roles[0].slivers', 'fraction');
  refused(variant((_r, web) => { web['slivers'] = MAX_SLICE_SLIVERS; }), 'roles', 'one more than a slice holds in all');
  validateRecipe(variant((_r, web) => { web['slivers'] = MAX_SLICE_SLIVERS - 1; }));
  refused(variant((_r, _web, client) => { client['name'] = 'web'; }), 'roles[1].name', 'duplicate role');
  refused(variant((_r, web) => { web['name'] = 'Web'; }), 'roles[0].name', 'not a label');
  refused(variant((r) => { r['roles'] = []; }), 'roles', 'no role');
  refused(variant((_r, web) => { web['scalable'] = 'yes'; }), 'roles[0].scalable', 'scalable');
  refused(variant((_r, web) => { web['resources'] = { cpu: 0 }; }), 'roles[0].resources', 'no cpu');
});

test('the recipe: name a label, a description of at most 500 characters, a known spread', () => {
  refused(variant((r) => { r['name'] = 'my_app'; }), 'name', 'underscore');
  refused(variant((r) => { r['description'] = 'x'.repeat(501); }), 'description', 'long');
  refused(variant((r) => { r['description'] = ' '; }), 'description', 'blank');
  refused(variant((r) => { r['spread'] = 'racks'; }), 'spread', 'spread');
  assert.equal(validateRecipe(variant((r) => { r['spread'] = 'zones'; })).spread, 'zones');
});

test('placeholders: an unknown one or one naming an unknown role is refused, in commands and file contents', () => {
  refused(variant((_r, _web, client) => { client['commands'] = ['echo {{host:db}}']; }), 'roles[1].commands[0]', 'unknown role');
  refused(variant((_r, _web, client) => { client['commands'] = ['echo {{hosts:}}']; }), 'roles[1].commands[0]', 'no role');
  refused(variant((_r, _web, client) => { client['commands'] = ['ok', 'echo {{name}}']; }), 'roles[1].commands[1]', 'unknown placeholder');
  refused(variant((_r, web) => { web['files'] = [{ path: '/a', content: 'server {{host:web }};' }]; }), 'roles[0].files[0].content', 'a space');
  refused(variant((_r, _web, client) => { client['commands'] = ['echo a\nreboot']; }), 'roles[1].commands[0]', 'two lines');
  refused(variant((_r, _web, client) => { client['commands'] = ['  ']; }), 'roles[1].commands[0]', 'blank');
});

test('roles take consecutive indexes; placeholders expand to the slice, the index, the role and its peers by name', () => {
  const recipe: AppRecipe = validateRecipe(variant((_r, web, client) => {
    web['files'] = [{ path: '/etc/peers', content: 'me={{index}} of {{role}} in {{slice}}; web={{hosts:web}}; first client={{host:client}}', mode: '0600' }];
    client['slivers'] = 2;
    client['commands'] = ['fetch http://{{host:web}}/ --all {{hosts:web}}', 'echo {{{index}}}'];
  }));
  assert.deepEqual(roleIndexes(recipe), [{ first: 0, count: 2 }, { first: 2, count: 2 }]);
  const web1 = expandRole(recipe, 0, 'shop', 1, names('shop'));
  assert.deepEqual(web1.files, [{ path: '/etc/peers', content: 'me=1 of web in shop; web=shop-0.shop.hearth shop-1.shop.hearth; first client=shop-2.shop.hearth', mode: '0600' }]);
  assert.deepEqual(web1.commands, []);
  assert.equal(web1.services[0]?.port, 80);
  const client3 = expandRole(recipe, 1, 'shop', 3, names('shop'));
  assert.deepEqual(client3.commands, ['fetch http://shop-0.shop.hearth/ --all shop-0.shop.hearth shop-1.shop.hearth', 'echo {3}']);
  assert.throws(() => expandRole(recipe, 1, 'shop', 1, names('shop')), RangeError, 'index 1 is a web sliver');
  assert.throws(() => expandRole(recipe, 2, 'shop', 4, names('shop')), RangeError, 'no third role');
});

test('a recipe grows to a slice\'s size through its last scalable role; one with none cannot grow', () => {
  const r = validateRecipe(variant((_r, web) => { web['scalable'] = true; }));
  assert.equal(recipeSize(r), 3);
  assert.equal(scaleRecipe(r, 2), r, 'smaller: as it is');
  const five = scaleRecipe(r, 5);
  assert.deepEqual(five.roles.map((x) => [x.name, x.slivers]), [['web', 4], ['client', 1]]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => roleOf(five, i)), [0, 0, 0, 0, 1, undefined]);
  assert.throws(() => scaleRecipe(validateRecipe(minimal()), 4), (e: unknown) => e instanceof HearthError && e.code === 'invalid_recipe');
  // A deploy over K gateways asks for the recipe's size, or K when more, and only what the recipe can grow to.
  assert.deepEqual([undefined, 1, 3, 5].map((k) => deploySize(r, k)), [3, 3, 3, 5]);
  assert.throws(() => deploySize(validateRecipe(minimal()), 4), (e: unknown) => e instanceof HearthError && e.code === 'invalid_recipe');
});

test('an app slice asks, per sliver, the most any role asks', () => {
  const r = validateRecipe(variant((_r, web, client) => {
    web['resources'] = { cpu: 1, memoryMb: 64 };
    client['resources'] = { cpu: 0.25, memoryMb: 384, diskMb: 1024 };
  }));
  const res = recipeResources(r);
  assert.deepEqual([res.cpu, res.memoryMb, res.diskMb], [1, 384, 1024]);
});

test('a sliver\'s share names its role, and the install script writes its files as given and runs its commands once', () => {
  const r = validateRecipe(variant((_r, web) => {
    web['scalable'] = true;
    web['files'] = [{ path: '/etc/demo/peers', content: "peers: {{hosts:web}}\n$HOME 'quoted' `not run`\n", mode: '0600' }];
    web['commands'] = ['echo started {{index}}'];
  }));
  const share = appShare(r, 'site', 4, 2);
  assert.equal(share.role, 'web');
  assert.equal(share.files[0]?.content, "peers: site-0 site-1 site-2\n$HOME 'quoted' `not run`\n");
  const script = installScript('demo', share);
  assert.match(script, new RegExp(`^\\[ -e ${APP_MARKER} \\] && exit 0$`, 'm'), 'a second run does nothing');
  // The file's bytes travel as base64, so nothing in it is read by the shell.
  const b64 = /base64 -d > '\/etc\/demo\/peers' <<'HEARTH_B64'\n([A-Za-z0-9+/=\n]+)\nHEARTH_B64/.exec(script)?.[1] ?? '';
  assert.equal(Buffer.from(b64.replace(/\n/g, ''), 'base64').toString('utf8'), share.files[0]?.content);
  assert.match(script, /chmod 0600 '\/etc\/demo\/peers'/);
  assert.ok(script.indexOf(`touch ${APP_MARKER}`) < script.indexOf(`${APP_BOOT_SCRIPT} </dev/null`), 'marked before the commands run');
  assert.throws(() => appShare(r, 'site', 3, 3), RangeError);
});
