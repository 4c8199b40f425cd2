// TCP throughput between network namespaces, for tests and benchmarks of
// rates: a Node receiver in one namespace counts the bytes of one
// connection from the first to the last, a Node sender in another writes
// 64 KiB chunks for a fixed time. Both run as `nsenter --net` children.
// Must never: leave a receiver running (each serves one connection and exits).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const RECEIVER = `
const server = require('node:net').createServer((s) => {
  let bytes = 0, t0;
  s.on('data', (b) => { if (t0 === undefined) t0 = process.hrtime.bigint(); bytes += b.length; });
  s.on('end', () => {
    process.stdout.write(JSON.stringify({ bytes, ms: t0 === undefined ? 0 : Number(process.hrtime.bigint() - t0) / 1e6 }) + '\\n');
    server.close();
  });
});
server.listen(Number(process.argv[1]), '::', () => process.stdout.write('ready\\n'));
`;

const SENDER = `
const [host, port, seconds] = process.argv.slice(1);
const chunk = Buffer.alloc(65536, 0x61);
const s = require('node:net').connect({ host, port: Number(port) }, () => {
  const end = Date.now() + Number(seconds) * 1000;
  const pump = () => {
    while (Date.now() < end) if (!s.write(chunk)) { s.once('drain', pump); return; }
    s.end();
  };
  pump();
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

export interface Transfer {
  bytes: number;
  ms: number;
  /** Mbit/s over the receiver's time, first byte to last. */
  mbit: number;
}

function nsNode(ns: string, script: string, args: readonly string[]): ReturnType<typeof spawn> {
  return spawn('nsenter', [`--net=/var/run/netns/${ns}`, '--', process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Starts a receiver on `port` in `ns`; resolves, once it listens, with the transfer it will count. */
export async function startReceiver(ns: string, port: number): Promise<{ result: Promise<Transfer>; stop(): void }> {
  const child = nsNode(ns, RECEIVER, [String(port)]);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.value !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(`the receiver in ${ns} did not start`);
  }
  const result = (async (): Promise<Transfer> => {
    const next = await iterator.next();
    await once(child, 'exit').catch(() => undefined);
    const { bytes, ms } = JSON.parse(String(next.value)) as { bytes: number; ms: number };
    return { bytes, ms, mbit: ms === 0 ? 0 : (bytes * 8) / (ms * 1000) };
  })();
  return { result, stop: () => child.kill('SIGKILL') };
}

/** Sends for `seconds` from `ns` to host:port; resolves when the sender exits. */
export async function send(ns: string, host: string, port: number, seconds: number): Promise<void> {
  const child = nsNode(ns, SENDER, [host, String(port), String(seconds)]);
  const [code] = await once(child, 'exit') as [number | null];
  if (code !== 0) throw new Error(`the sender in ${ns} exited ${code}`);
}

/** One transfer from `from` to `to` (its address `host`) for `seconds`. */
export async function measure(from: string, to: string, host: string, port: number, seconds: number): Promise<Transfer> {
  const receiver = await startReceiver(to, port);
  try {
    await send(from, host, port, seconds);
  } catch (err) {
    receiver.stop();
    throw err;
  }
  return receiver.result;
}
