// The services page's how-to (web/src/service-howto.ts): each type the
// shipped apps announce gets the lines a user copies, with the entry's own
// address, the tracker points at the catalog beside it on its sliver, and a
// stream is also offered through the page's gateway's relay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { howToUse, relayPathOf } from '../../../web/src/service-howto.js';
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

test('hls also gives the URL relayed by the page\'s gateway, with the names encoded, when the page\'s origin is known', () => {
  const edge = entry({ type: 'hls', name: 'edge', sliver: 'video-1', gateway: 'gw 2', address: '10.0.0.4:40200' });
  assert.equal(relayPathOf(edge), '/api/v1/services/gw%202/video-1/edge/stream/hls/live.m3u8');
  const how = Object.fromEntries((howToUse(edge, [edge], 'http://127.0.0.1:7481')?.lines ?? []).map((l) => [l.label, l.text]));
  assert.equal(how['Stream URL through this gateway'], 'http://127.0.0.1:7481/api/v1/services/gw%202/video-1/edge/stream/hls/live.m3u8');
  assert.equal(how['Stream URL'], 'http://10.0.0.4:40200/hls/live.m3u8', 'the community URL stays');
  assert.equal(lines(edge)['Stream URL through this gateway'], undefined, 'no origin: no relayed URL');
});

test('syncthing says to use WebDAV and offers nothing to copy; a plain http service has no how-to', () => {
  const sync = howToUse(entry({ type: 'syncthing', slice: 'storage' }), []);
  assert.deepEqual(sync?.lines, []);
  assert.match(sync?.summary ?? '', /WebDAV/);
  assert.equal(howToUse(entry({ type: 'http' }), []), undefined);
});
