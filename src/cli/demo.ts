// `hearth demo`: until the community demo exists, the main job shows one
// gateway at work: start the agent, create a sliver serving a web page,
// forward a gateway port to it, fetch the page through the forward, and say
// how to reach it. Runs until Ctrl-C.

import { createAgent } from '../agent/agent.js';
import { initDataDir, readOwnerToken } from '../agent/config.js';
import { createLogger } from '../agent/logger.js';
import { createApiClient, ApiProblem } from './client.js';
import type { Sliver } from '../api/schemas.js';
import { waitForSliver } from './output.js';
import { gatewayAddress } from '../net/pool.js';

const NAME = 'hello';
const HOST_PORT = 8080;

export async function runDemo({ dataDir }: { dataDir: string }): Promise<void> {
  const init = await initDataDir({ dataDir, name: 'demo-gateway' });
  const log = createLogger(process.env['HEARTH_LOG_LEVEL'] ?? 'warn');
  const agent = await createAgent({ dataDir, log });
  await agent.start();
  const api = createApiClient({ baseUrl: agent.url, token: await readOwnerToken(dataDir) });
  console.log(`gateway ${init.config.name} is up: API ${agent.url}, data in ${dataDir}`);

  let view: Sliver;
  try {
    view = await api.request<Sliver>('GET', `/api/v1/slivers/${NAME}`);
  } catch (err) {
    if (!(err instanceof ApiProblem) || err.problem.code !== 'sliver_not_found') throw err;
    view = await api.request<Sliver>('POST', '/api/v1/slivers', { name: NAME, resources: { cpu: 0.5, memoryMb: 64 } });
  }
  view = await waitForSliver(api, view, 'running', true);
  if (view.observed !== 'running') throw new Error(`the demo sliver did not start: ${view.reason ?? view.observed}`);

  const page = `<h1>hello from sliver ${NAME}</h1><p>served by busybox httpd in an unprivileged LXC container on ${init.config.name}</p>`;
  await api.request('POST', `/api/v1/slivers/${NAME}/exec`, {
    command: ['sh', '-c', 'mkdir -p /www && cat > /www/index.html && (pidof httpd >/dev/null || httpd -p 80 -h /www)'],
    stdin: `${page}\n`,
  });
  const forwards = await api.request<{ items: { hostPort: number }[] }>('GET', `/api/v1/slivers/${NAME}/forwards`);
  if (!forwards.items.some((f) => f.hostPort === HOST_PORT)) {
    await api.request('POST', `/api/v1/slivers/${NAME}/forwards`, { proto: 'tcp', hostPort: HOST_PORT, port: 80 });
  }
  await agent.reconciler.kick();
  const url = `http://${gatewayAddress(init.config.network.subnet)}:${HOST_PORT}/`;
  const body = await (await fetch(url)).text();
  console.log(`\nfetched ${url} through the port forward:\n  ${body.trim()}\n`);
  const dd = dataDir === '/var/lib/hearth' ? '' : ` --data-dir ${dataDir}`;
  console.log('try, in another terminal:');
  console.log(`  curl ${url}`);
  console.log(`  hearth${dd} sliver ls`);
  console.log(`  hearth${dd} sliver exec ${NAME} -- ps`);
  console.log(`  hearth${dd} status`);
  console.log('Ctrl-C stops the agent; the sliver keeps its state.');

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await agent.stop();
}
