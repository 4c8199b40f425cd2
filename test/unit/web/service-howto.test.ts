// The services page's how-to (web/src/service-howto.ts): each type the
// shipped apps announce gets the lines a user copies, with the entry's own
// address, and the tracker points at the catalog beside it on its sliver.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { howToUse } from '../../../web/src/service-howto.js';
import type { ServiceEntry } from '../../../web/src/types.js';

const entry = (over: Partial<ServiceEntry>): ServiceEntry => ({
  name: 'svc', type: 'http', protocol: 'tcp', hostPort: 40000, sliver: 'app-0', slice: 'app', gateway: 'gw1', address: '10.0.0.1:40000', rttMs: 0, ...over,
});
const lines = (s: ServiceEntry, all: ServiceEntry[] = [s]): Record<string, string> =>
  Object.fromEntries((howToUse(s, all)?.lines ?? []).map((l) => [l.label, l.text]));

test('a tracker gives its announce URL (udp for its udp port) and the catalog on its own sliver', () => {
  const tracker = entry({ name: 'tracker', type: 'bittorrent-tracker', sliver: 'fs-0', address: '10.0.0.2:40001' });
  const udp = { ...tracker, name: 'tracker-udp', protocol: 'udp', address: '10.0.0.2:40002' };
  const catalog = entry({ name: 'catalog', type: 'http', sliver: 'fs-0', address: '10.0.0.2:40003' });
  const elsewhere = entry({ name: 'web', type: 'http', sliver: 'other-0', address: '10.0.0.9:40009' });
  const all = [elsewhere, tracker, udp, catalog];
  assert.deepEqual(lines(tracker, all), { 'Announce URL': 'http://10.0.0.2:40001/announce', 'Catalog of torrents': 'http://10.0.0.2:40003/torrents/' });
  assert.equal(lines(udp, all)['Announce URL'], 'udp://10.0.0.2:40002/announce');
  assert.deepEqual(lines(tracker, [elsewhere, tracker]), { 'Announce URL': 'http://10.0.0.2:40001/announce' }, 'no catalog on its sliver: none named');
});

test('webdav gives a davfs2 mount, a file manager location and curl lines at its address; hls its stream URL', () => {
  const dav = lines(entry({ type: 'webdav', address: '10.0.0.3:40100' }));
  assert.equal(dav['Mount with davfs2'], 'sudo mount -t davfs http://10.0.0.3:40100/ /mnt');
  assert.equal(dav['File manager location'], 'dav://10.0.0.3:40100/');
  assert.equal(dav['Upload a file'], 'curl -T FILE http://10.0.0.3:40100/FILE');
  assert.equal(lines(entry({ type: 'hls', address: '10.0.0.4:40200' }))['Stream URL'], 'http://10.0.0.4:40200/hls/live.m3u8');
});

test('syncthing says to use WebDAV and offers nothing to copy; a plain http service has no how-to', () => {
  const sync = howToUse(entry({ type: 'syncthing', slice: 'storage' }), []);
  assert.deepEqual(sync?.lines, []);
  assert.match(sync?.summary ?? '', /WebDAV/);
  assert.equal(howToUse(entry({ type: 'http' }), []), undefined);
});
