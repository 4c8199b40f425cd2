// Test fixtures for sliver networking on the real kernel, without containers:
// a "sliver" is a network namespace joined to the bridge by a veth, exactly
// as LXC would wire a container; an "upstream" is a namespace routed through
// the root namespace, standing in for the Internet. Servers and clients are
// node processes entered into a namespace with nsenter.
// Must never: reach an address outside the namespaces it creates.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { runTool, runToolChecked } from '../../../src/net/run.js';

export interface FakeSliver {
  ns: string;
  hostVeth: string;
  address: string;
}

const nsPath = (ns: string): string => `/var/run/netns/${ns}`;

/** Run argv inside a namespace; resolves with the exit code and output. */
export function inNs(ns: string, argv: readonly string[]): Promise<{ exitCode: number; stdout: string }> {
  return runTool('nsenter', [`--net=${nsPath(ns)}`, '--', ...argv]);
}

export async function nsRun(ns: string, argv: readonly string[]): Promise<void> {
  await runToolChecked('nsenter', [`--net=${nsPath(ns)}`, '--', ...argv]);
}

/** One echo request, waiting a second for the reply; `source` picks the sender address. */
export async function ping(ns: string, address: string, source?: string): Promise<boolean> {
  const from = source === undefined ? [] : ['-I', source];
  return (await inNs(ns, ['ping', '-n', '-q', '-c', '1', '-W', '1', ...from, address])).exitCode === 0;
}

/** A namespace whose eth0 is a veth to the bridge, addressed in the subnet, routed via the gateway. */
export async function addFakeSliver(ns: string, hostVeth: string, bridge: string, address: string, prefixLength: number, gateway: string): Promise<FakeSliver> {
  await runToolChecked('ip', ['netns', 'add', ns]);
  await runToolChecked('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await runToolChecked('ip', ['link', 'set', 'dev', hostVeth, 'master', bridge, 'up']);
  await nsRun(ns, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
  await nsRun(ns, ['ip', 'addr', 'add', `${address}/${prefixLength}`, 'dev', 'eth0']);
  await nsRun(ns, ['ip', 'link', 'set', 'dev', 'eth0', 'up']);
  await nsRun(ns, ['ip', 'route', 'add', 'default', 'via', gateway]);
  return { ns, hostVeth, address };
}

/** A namespace reached from the root namespace over a /30: root side .1, upstream side .2. */
export async function addUpstream(ns: string, rootVeth: string, net30: string): Promise<{ rootAddress: string; address: string }> {
  const base = net30.split('.').slice(0, 3).join('.');
  const last = Number(net30.split('.')[3]);
  const rootAddress = `${base}.${last + 1}`;
  const address = `${base}.${last + 2}`;
  await runToolChecked('ip', ['netns', 'add', ns]);
  await runToolChecked('ip', ['link', 'add', rootVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await runToolChecked('ip', ['addr', 'add', `${rootAddress}/30`, 'dev', rootVeth]);
  await runToolChecked('ip', ['link', 'set', 'dev', rootVeth, 'up']);
  await nsRun(ns, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
  await nsRun(ns, ['ip', 'addr', 'add', `${address}/30`, 'dev', 'eth0']);
  await nsRun(ns, ['ip', 'link', 'set', 'dev', 'eth0', 'up']);
  return { rootAddress, address };
}

export async function removeNs(ns: string): Promise<void> {
  await runTool('ip', ['netns', 'del', ns]);
}

export async function removeLinkIfAny(name: string): Promise<void> {
  await runTool('ip', ['link', 'del', 'dev', name]);
}

// Answers every connection with "<label> <peer address>" and closes it, so a
// client learns who answered and which source address the server saw.
const SERVER = `
const [port, label] = process.argv.slice(1);
require('node:net').createServer((s) => { s.on('error', () => {}); s.end(label + ' ' + s.remoteAddress.replace(/^::ffff:/, '') + '\\n'); })
  .listen(Number(port), '0.0.0.0', () => process.stdout.write('ready\\n'));
`;

// Exit 0 with the reply on stdout, 3 when nothing answered in time, 4 on a refusal or reset.
const CLIENT = `
const [host, port] = process.argv.slice(1);
const s = require('node:net').connect(Number(port), host);
let out = '';
const timer = setTimeout(() => process.exit(3), 1500);
s.on('data', (d) => { out += d; });
s.on('end', () => { clearTimeout(timer); process.stdout.write(out); process.exit(0); });
s.on('error', () => process.exit(4));
`;

// Prints "<source address> <payload>" for every datagram, to show one-way
// traffic that no reply would reveal.
const UDP_SINK = `
const sock = require('node:dgram').createSocket('udp4');
sock.on('message', (m, r) => process.stdout.write(r.address + ' ' + m + '\\n'));
sock.bind(Number(process.argv[1]), '0.0.0.0', () => process.stdout.write('ready\\n'));
`;

// Sends one datagram from a chosen local address.
const UDP_SEND = `
const [from, host, port, text] = process.argv.slice(1);
const sock = require('node:dgram').createSocket('udp4');
sock.bind(0, from, () => sock.send(text, Number(port), host, () => sock.close()));
`;

export interface UdpSink {
  process: ChildProcess;
  /** Every datagram received so far, as "<source address> <payload>". */
  received(): string[];
}

export async function startUdpSink(ns: string, port: number): Promise<UdpSink> {
  const child = await startReady(ns, [UDP_SINK, String(port)]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  return { process: child, received: () => out.split('\n').filter((l) => l !== '' && l !== 'ready') };
}

export async function sendUdp(ns: string, from: string, host: string, port: number, text: string): Promise<void> {
  await nsRun(ns, [process.execPath, '-e', UDP_SEND, from, host, String(port), text]);
}

/** Start an answering server in a namespace; resolves once it listens. */
export function startServer(ns: string, port: number, label: string): Promise<ChildProcess> {
  return startReady(ns, [SERVER, String(port), label]);
}

/** Run `node -e script args…` in a namespace; resolves once it prints "ready". */
async function startReady(ns: string, scriptAndArgs: readonly string[]): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=${nsPath(ns)}`, '--', process.execPath, '-e', ...scriptAndArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`process in ${ns} exited with ${code}`)));
  });
  try {
    await ready;
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Connect from a namespace; the server's reply, or undefined if the connection failed. */
export async function connectFrom(ns: string, host: string, port: number): Promise<string | undefined> {
  const result = await inNs(ns, [process.execPath, '-e', CLIENT, host, String(port)]);
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}
