// `hearth agent`: run one gateway in the foreground until SIGTERM or SIGINT,
// then stop every part cleanly. Slivers keep running across agent restarts.

import { slowPeerMsFromEnv } from '../peer/client.js';
import { createAgent } from './agent.js';
import { createLogger } from './logger.js';

export async function runAgent({ dataDir }: { dataDir: string }): Promise<void> {
  // Checked before anything starts: a mistyped value stops the agent with its reason.
  const slowPeerMs = slowPeerMsFromEnv(process.env['HEARTH_SLOW_PEER_MS']);
  const log = createLogger();
  const agent = await createAgent({ dataDir, log, ...(slowPeerMs === undefined ? {} : { slowPeerMs }) });
  await agent.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await agent.stop();
}
