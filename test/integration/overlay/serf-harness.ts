// Real `serf agent` processes for the overlay tests: each gets free loopback
// ports, a temp data dir, a supervisor and a connected RPC client, and is
// torn down (process killed, dir removed) by the test's `after` hook even
// when the test fails.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHostPort } from '../../../src/model/host-port.js';
import { createSerfAgent, type SerfAgent, type SerfAgentInit } from '../../../src/overlay/serf-agent.js';
import { createSerfRpc, type SerfRpc } from '../../../src/overlay/serf-rpc.js';
import { freePort } from '../../support/ports.js';

export interface Cleanup {
  after(fn: () => Promise<void> | void): void;
}

export { freePort };

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}


export interface TestAgent {
  name: string;
  agent: SerfAgent;
  rpc: SerfRpc;
  bindAddress: string;
  rpcAddress: string;
  authKey: string;
  dir: string;
}

export type TestAgentOptions = Partial<Omit<SerfAgentInit, 'nodeName' | 'bindAddress' | 'rpcAddress' | 'rpcAuthKey' | 'configFile'>> & {
  host?: string;
  /** Name prefix; a random suffix is appended. */
  prefix?: string;
  /** Options that name files in the agent's temp dir. */
  inDir?: (dir: string) => Partial<SerfAgentInit>;
  /** Gossip in the clear, for a test about an agent without the key. */
  plain?: boolean;
};

/**
 * The key of every agent this test process starts, unless it is given its
 * own or told to be plain. Test files run at once on one loopback: a Serf
 * keeps trying to reach members it saw fail (every 30 s), and when another
 * file's agent binds a port one of them had, two unencrypted test
 * communities merge (the likely cause of one CI failure, where a member of
 * a community of three did not see exactly those three alive).
 */
const PROCESS_KEY = randomBytes(32).toString('base64');

export async function startTestAgent(t: Cleanup, options: TestAgentOptions = {}): Promise<TestAgent> {
  const { host = '127.0.0.1', prefix = 'serf', inDir, plain = false, ...rest } = options;
  const name = `${prefix}-${uniqueSuffix()}`;
  const dir = await mkdtemp(join(tmpdir(), `hearth-${name}-`));
  // One hook, undone in reverse: client, then process, then files.
  const undo: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const fn of undo.reverse()) await fn();
  });
  const authKey = randomBytes(12).toString('hex');
  // A port can still be taken by a process outside this run between the
  // check and serf's bind; then the agent is started again on new ports.
  for (let attempt = 1; ; attempt++) {
    const bindAddress = formatHostPort({ host, port: await freePort(host) });
    const rpcAddress = formatHostPort({ host, port: await freePort(host) });
    const own = { ...rest, ...inDir?.(dir) };
    const keyed = plain || own.encryptKey !== undefined || own.keyringFile !== undefined;
    const agent = createSerfAgent({
      ...(keyed ? {} : { encryptKey: PROCESS_KEY }),
      nodeName: name,
      bindAddress,
      rpcAddress,
      rpcAuthKey: authKey,
      configFile: join(dir, 'serf.json'),
      snapshotPath: join(dir, 'serf.snapshot'),
      profile: 'local',
      restart: { initialDelayMs: 100, maxDelayMs: 1_000 },
      stopTimeoutMs: 5_000,
      ...own,
    });
    // Registered before start so a half-started agent is still killed.
    undo.push(() => agent.stop());
    try {
      await agent.start({ signal: AbortSignal.timeout(20_000) });
    } catch (err) {
      if (attempt < 3 && /address already in use/.test((err as Error).message)) continue;
      throw err;
    }
    const rpc = createSerfRpc({ address: rpcAddress, authKey, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
    undo.push(() => rpc.close());
    await rpc.connect({ signal: AbortSignal.timeout(5_000) });
    return { name, agent, rpc, bindAddress, rpcAddress, authKey, dir };
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let last: unknown;
  while (!deadline.aborted) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
}

/** Resolves with the first value `accept` returns for an item pushed into the returned sink. */
export function waitFor<E, T>(timeoutMs = 15_000): {
  sink(event: E): void;
  until(accept: (event: E) => T | undefined): Promise<T>;
} {
  const seen: E[] = [];
  let check: (() => void) | undefined;
  return {
    sink(event) {
      seen.push(event);
      check?.();
    },
    until(accept) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms; saw ${seen.length} events`)), timeoutMs);
        check = () => {
          for (const e of seen) {
            const hit = accept(e);
            if (hit !== undefined) {
              clearTimeout(timer);
              check = undefined;
              resolve(hit);
              return;
            }
          }
        };
        check();
      });
    },
  };
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
