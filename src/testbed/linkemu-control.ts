// The link emulator's control socket: a unix socket speaking JSON lines, one
// request and one response per line, so `hearth testbed partition|heal` from
// any shell can steer the emulator process the testbed started.
// Must never: accept a request it has not validated, or act on a TCP port.

import { existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { HearthError, isErrorCode } from '../model/errors.js';
import type { ErrorCode } from '../model/errors.js';
import type { LinkEmulator, LinkEmulatorStats } from './linkemu.js';

const Matrix = Type.Array(Type.Array(Type.Number({ minimum: 0 })));

export const LinkMatrixSchema = Type.Object(
  { delayMs: Matrix, jitterMs: Matrix, loss: Matrix, rateBitsPerSecond: Matrix },
  { additionalProperties: false },
);

export const LinkEmulatorRequestSchema = Type.Union([
  Type.Object({ op: Type.Literal('stats') }),
  Type.Object({ op: Type.Literal('partition'), groups: Type.Array(Type.Array(Type.Integer({ minimum: 1 }))) }),
  Type.Object({ op: Type.Literal('heal') }),
  Type.Object({ op: Type.Literal('links'), links: LinkMatrixSchema }),
  Type.Object({ op: Type.Literal('stop') }),
]);

export type LinkEmulatorRequest = Static<typeof LinkEmulatorRequestSchema>;

export type LinkEmulatorResponse =
  | { ok: true; stats: LinkEmulatorStats }
  | { ok: false; code: ErrorCode; message: string };

export interface LinkEmulatorControlInit {
  emulator: LinkEmulator;
  path: string;
  /** Called after answering a `stop` request. */
  onStop: () => void;
}

export interface LinkEmulatorControl {
  close(): Promise<void>;
}

const MAX_LINE_BYTES = 1 << 20;

function answer(emulator: LinkEmulator, line: string, onStop: () => void): LinkEmulatorResponse {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, code: 'malformed_json', message: 'the request line is not JSON' };
  }
  if (!Value.Check(LinkEmulatorRequestSchema, request)) {
    return { ok: false, code: 'invalid_request', message: 'unknown or malformed link emulator request' };
  }
  try {
    if (request.op === 'partition') emulator.partition(request.groups);
    else if (request.op === 'heal') emulator.heal();
    else if (request.op === 'links') emulator.setLinks(request.links);
    else if (request.op === 'stop') setImmediate(onStop);
    return { ok: true, stats: emulator.stats() };
  } catch (error) {
    if (error instanceof HearthError) return { ok: false, code: error.code, message: error.message };
    return { ok: false, code: 'internal', message: String(error) };
  }
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Listens on `path`; a stale socket file left by a dead emulator is replaced, a live one is an error. */
export async function serveLinkEmulatorControl(init: LinkEmulatorControlInit): Promise<LinkEmulatorControl> {
  const { emulator, path, onStop } = init;
  if (existsSync(path)) {
    if (await isListening(path)) throw new HearthError('name_taken', `a link emulator already answers on ${path}`);
    unlinkSync(path);
  }
  const connections = new Set<Socket>();
  const server: Server = createServer((conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    conn.on('error', () => conn.destroy());
    let buffered = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES) {
        conn.destroy();
        return;
      }
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') conn.write(`${JSON.stringify(answer(emulator, line, onStop))}\n`);
        newline = buffered.indexOf('\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new HearthError('network_error', `cannot listen on ${path}: ${error.message}`, {}, { cause: error })));
    server.listen(path, () => resolve());
  });
  return {
    close() {
      for (const conn of connections) conn.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends one request to the emulator answering on `path` and returns its response. */
export function requestLinkEmulator(
  path: string,
  request: LinkEmulatorRequest,
  options: { signal?: AbortSignal } = {},
): Promise<LinkEmulatorResponse> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const conn = createConnection(path);
    let buffered = '';
    const onAbort = (): void => {
      conn.destroy();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => signal?.removeEventListener('abort', onAbort);
    conn.setEncoding('utf8');
    conn.once('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      finish();
      conn.end();
      try {
        const response = JSON.parse(buffered.slice(0, newline)) as LinkEmulatorResponse;
        if (!response.ok && !isErrorCode(response.code)) throw new Error('bad code');
        resolve(response);
      } catch {
        reject(new HearthError('network_error', `the link emulator on ${path} sent an unreadable response`));
      }
    });
    conn.once('error', (error) => {
      finish();
      reject(new HearthError('network_error', `no link emulator answers on ${path}: ${error.message}`, {}, { cause: error }));
    });
    conn.once('close', () => {
      finish();
      reject(new HearthError('network_error', `the link emulator on ${path} closed without answering`));
    });
  });
}
