// The service directory as the gossip carries it: an order-free digest in
// the shape tags accept, pulled lists that keep only well-formed entries,
// and a directory that lists this gateway's own services and those of alive,
// unrevoked members only, at their gossip address, by name or nearest first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listDirectory, readAnnouncements, servicesDigest, type Announcement } from '../../../src/cloud/services.js';
import { isDigest } from '../../../src/overlay/tags.js';
import type { NodeRow } from '../../../src/overlay/view.js';

const web: Announcement = { name: 'web', type: 'http', protocol: 'tcp', hostPort: 40000, sliver: 'site-0', slice: 'site' };
const tracker: Announcement = { name: 'tracker', type: 'bittorrent-tracker', protocol: 'tcp', hostPort: 40001, sliver: 'share-0', slice: 'share' };

const row = (name: string, over: Partial<NodeRow> = {}): NodeRow => ({
  name, id: null, status: 'alive', serfAddr: `10.0.0.${name.slice(2)}:7946`, peerAddr: null, mode: 'production', zone: null, version: '1',
  contributed: null, free: null, rttMs: 10, self: false, revoked: false, ...over,
});

test('the digest depends on the list, not its order, is absent when empty, and fits a tag', () => {
  assert.equal(servicesDigest([]), undefined);
  assert.equal(servicesDigest([web, tracker]), servicesDigest([tracker, web]));
  assert.notEqual(servicesDigest([web]), servicesDigest([web, tracker]));
  assert.notEqual(servicesDigest([web]), servicesDigest([{ ...web, hostPort: 40002 }]));
  assert.ok(isDigest('sv', servicesDigest([web]) as string));
});

test('a pulled list keeps only well-formed announcements', () => {
  assert.deepEqual(readAnnouncements({ items: [
    web, { ...web, type: 'gopher' }, { ...web, hostPort: 0 }, { ...web, hostPort: 70000 }, { ...web, protocol: 'sctp' }, { ...web, name: '../x' },
    { ...web, sliver: 'A' }, null, 5, tracker,
  ] }), [web, tracker]);
  for (const junk of [undefined, null, 'x', { items: 'no' }, {}]) assert.deepEqual(readAnnouncements(junk), []);
});

test('the directory lists our own and alive members\' services at their gossip address; failed, left and revoked members list nothing', () => {
  const pulled = new Map<string, Announcement[]>([['gw2', [tracker]], ['gw3', [web]], ['gw4', [web]], ['gw5', [web]]]);
  const rows = [
    row('gw1', { self: true, rttMs: 0 }), row('gw2', { rttMs: 30 }), row('gw3', { rttMs: 5 }),
    row('gw4', { status: 'failed' }), row('gw5', { revoked: true }), row('gw6'),
  ];
  const all = listDirectory([web], pulled, rows);
  assert.deepEqual(all.map((e) => [e.gateway, e.name, e.address]), [
    ['gw2', 'tracker', '10.0.0.2:40001'], ['gw1', 'web', '10.0.0.1:40000'], ['gw3', 'web', '10.0.0.3:40000'],
  ]);
  assert.deepEqual(listDirectory([web], pulled, rows, { type: 'http', near: true }).map((e) => [e.gateway, e.rttMs]), [['gw1', 0], ['gw3', 5]]);
  assert.deepEqual(listDirectory([web], pulled, rows, { near: true }).map((e) => e.gateway), ['gw1', 'gw3', 'gw2']);
  assert.deepEqual(listDirectory([], pulled, [row('gw2', { serfAddr: '[fd00::2]:7946' })]).map((e) => e.address), ['[fd00::2]:40001']);
  // A member whose RTT is unknown comes last when nearest first is asked.
  assert.deepEqual(listDirectory([], pulled, [row('gw2', { rttMs: null }), row('gw3', { rttMs: 50 })], { near: true }).map((e) => e.gateway), ['gw3', 'gw2']);
});
