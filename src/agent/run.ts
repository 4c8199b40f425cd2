// `hearth agent`: run one gateway in the foreground until SIGTERM or SIGINT,
// then stop every part cleanly. Slivers keep running across agent restarts.

import { createAgent } from './agent.js';
import { createLogger } from './logger.js';

export async function runAgent({ dataDir }: { dataDir: string }): Promise<void> {
  const log = createLogger();
  const agent = await createAgent({ dataDir, log });
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
