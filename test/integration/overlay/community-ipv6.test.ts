// Two gateways form a community over IPv6 only: gossip, the membership view
// and a mutual-TLS peer call all work on [::1].

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createTestGateway, type TestGateway } from '../../support/gateway.js';
import { loadOrCreateIdentity } from '../../../src/overlay/identity.js';
import { createPeerClient } from '../../../src/peer/client.js';
import type { NodeRow } from '../../../src/overlay/view.js';

const gws: TestGateway[] = [];

before(async () => {
  for (const name of ['v6a', 'v6b']) {
    const gw = await createTestGateway({ name: `${name}-${Math.random().toString(36).slice(2, 6)}`, loopback: '::1' });
    await gw.start();
    gws.push(gw);
  }
});
after(async () => {
  for (const gw of gws) await gw.destroy();
});

test('a community over IPv6: both alive, peer addresses in brackets, a peer call answers', async () => {
  const [a, b] = gws as [TestGateway, TestGateway];
  await a.api.request('POST', '/api/v1/community', { name: 'six' });
  const { token } = await a.api.request<{ token: string; addresses: string[] }>('POST', '/api/v1/community/invites', {});
  await b.api.request('POST', '/api/v1/community/join', { token });
  let rows: NodeRow[] = [];
  for (let i = 0; i < 100; i++) {
    rows = (await a.api.request<{ items: NodeRow[] }>('GET', '/api/v1/nodes')).items;
    if (rows.filter((r) => r.status === 'alive').length === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const bRow = rows.find((r) => r.name === b.config.name) as NodeRow;
  assert.equal(bRow.status, 'alive');
  assert.match(bRow.serfAddr, /^\[::1\]:\d+$/);
  assert.equal(bRow.peerAddr, `[::1]:${b.config.peer.port}`);
  const client = createPeerClient({
    identity: await loadOrCreateIdentity(join(a.dataDir, 'identity'), { commonName: a.config.name }),
    trust: { fingerprintOf: (m) => (m === bRow.name ? bRow.id ?? undefined : undefined) },
  });
  const hello = await client.request(bRow.name, bRow.peerAddr as string, 'GET', '/peer/v1/hello') as { name: string };
  assert.equal(hello.name, b.config.name);
  client.close();
});
