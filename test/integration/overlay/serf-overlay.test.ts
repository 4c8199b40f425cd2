// The overlay port's contract against the Serf-backed implementation: three
// real serf agents on loopback, each wrapped as hearth wraps its own (with
// the news lines of its Serf's log handed to the overlay: a member's new tags
// come that way, not on the event stream).

import { after, before, describe } from 'node:test';
import { randomBytes } from 'node:crypto';
import { overlayContract, type OverlayCommunity } from '../../contract/overlay.contract.js';
import { createSerfOverlay, type SerfOverlay } from '../../../src/overlay/serf-overlay.js';
import { startTestAgent, type TestAgent } from './serf-harness.js';
import { silentLogger } from '../../../src/model/logger.js';
import { createSerfRpc } from '../../../src/overlay/serf-rpc.js';

const overlays: SerfOverlay[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

void describe('the Serf-backed overlay port', () => {
  before(async () => {
    const agents: TestAgent[] = [];
    for (let i = 0; i < 3; i++) agents.push(await startTestAgent({ after: (fn) => void cleanups.push(fn) }, { prefix: 'ov' }));
    for (const agent of agents) {
      const id = randomBytes(32).toString('hex');
      // The tags' own connection, as the agent's community opens one.
      const tagsRpc = createSerfRpc({ address: agent.rpcAddress, authKey: agent.authKey });
      cleanups.push(() => tagsRpc.close());
      await tagsRpc.connect();
      const overlay = createSerfOverlay({
        rpc: agent.rpc, tagsRpc, self: agent.name, log: silentLogger, digests: new Map(),
        tags: () => ({
          id, api: ':1', mode: 'production', version: 'test', zone: null, access: { quota: null, allowlist: false },
          contributed: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 }, free: { cpu: 1, memoryMb: 1, diskMb: 1, slivers: 1 },
        }),
      });
      agent.agent.events.on('member-news', (news) => overlay.notice(news));
      await overlay.start();
      await overlay.publish();
      overlays.push(overlay);
    }
    const [first, ...rest] = agents as [TestAgent, ...TestAgent[]];
    for (const agent of rest) await agent.rpc.join([first.bindAddress], false);
  });
  after(async () => {
    for (const overlay of overlays) await overlay.stop();
    for (const fn of cleanups.reverse()) await fn();
  });

  overlayContract('serf', (): OverlayCommunity => ({ ports: overlays }));
});
