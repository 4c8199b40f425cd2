// Free ports for test servers. Ports are drawn below Linux's ephemeral range
// (read from the kernel, 32768-60999 by default): a port the kernel hands
// out to outgoing connections can be taken between our check and the
// server's bind, which made tests flaky. A port once handed out is never
// handed out again by this run: each is reserved by a file below the test
// root, created exclusively, so neither two agents started at once in one
// file nor two processes can be given the same port between the check and
// their bind. The suite's sweep removes the reservations with the test root.

import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TEST_ROOT } from './sweep.js';

const RESERVED = join(TEST_ROOT, 'ports');
const LOW = 20_000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > LOW + 1_000) return low;
  } catch {
    // Not Linux, or no procfs: keep the default.
  }
  return 32_768;
}

const HIGH = ephemeralLow() - 1;

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => resolve(false));
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}

/** Claims `port` for this run; false when another test already holds it. */
function reserve(port: number): boolean {
  mkdirSync(RESERVED, { recursive: true, mode: 0o755 });
  try {
    closeSync(openSync(join(RESERVED, String(port)), 'wx'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** A port free for both TCP and UDP on `host` (serf gossips over both), given to no other test of this run. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randomInt(LOW, HIGH + 1);
    if (!reserve(port)) continue;
    if ((await tcpFree(port, host)) && (await udpFree(port, host))) return port;
  }
  throw new Error(`no free port in ${LOW}-${HIGH} on ${host}`);
}
