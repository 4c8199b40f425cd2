// Entry point of the detached link emulator process:
//   node linkemu-main.js CONFIG.json
// Runs the emulator and its control socket until a `stop` request, SIGTERM or
// SIGINT; SIGUSR1 prints its stats as one JSON line on stdout.
// Must never: outlive a stop request, or leave its control socket file behind.

import { readFileSync, rmSync } from 'node:fs';
import { createLinkEmulator } from './linkemu.js';
import { parseLinkEmulatorConfig } from './linkemu-config.js';
import { serveLinkEmulatorControl } from './linkemu-control.js';

async function main(configPath: string | undefined): Promise<void> {
  if (configPath === undefined) throw new Error('usage: linkemu-main CONFIG.json');
  const config = parseLinkEmulatorConfig(readFileSync(configPath, 'utf8'));
  const emulator = createLinkEmulator({
    listen: config.listen,
    links: config.links,
    seed: config.seed,
    ...(config.queueLimitMs === undefined ? {} : { queueLimitMs: config.queueLimitMs }),
  });
  for (const { gateway, host, port } of config.gateways) emulator.register(gateway, { host, port });
  const listen = await emulator.start();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void control.close().then(() => emulator.stop()).finally(() => {
      rmSync(config.control, { force: true });
      process.exit(0);
    });
  };
  const control = await serveLinkEmulatorControl({ emulator, path: config.control, onStop: stop });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGUSR1', () => console.log(JSON.stringify(emulator.stats())));
  console.log(JSON.stringify({ ready: true, listen, control: config.control, pid: process.pid }));
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(`linkemu: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
