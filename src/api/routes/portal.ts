// The portal's ways in: its built files at / (public: the page asks for the
// token itself); GET /api/v1/stream, the WebSocket of live changes
// (api/stream.ts); and GET /api/v1/slivers/:id/console, a login shell in a
// sliver on a real pseudo-terminal. A browser cannot put the token in a
// WebSocket's headers, so both sockets authenticate with their first
// message, and answer a refusal with a problem and close code 4000+status.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { finished } from 'node:stream/promises';
import { HearthError } from '../../model/errors.js';
import type { SliverService } from '../../slivers/service.js';
import { checkOwnerToken, type OwnerToken } from '../auth.js';
import { closeCodeOf, createStreamHub, parseAuthMessage, wholeField, type StreamSources } from '../stream.js';

/** How often the hub polls its sources while anyone listens. */
const TICK_MS = 250;
/** How long a new socket may wait before its first message. */
const AUTH_TIMEOUT_MS = 10_000;
/** A ping this often keeps idle proxies and NATs from cutting a socket. */
const PING_MS = 20_000;
/** A listener this far behind (bytes queued) is cut; it reconnects and resynchronises. */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** A console's output is paused while this much is queued for a slow browser. */
const CONSOLE_HIGH_WATER = 256 * 1024;
const TERMINAL = { cols: { min: 1, max: 500, fallback: 80 }, rows: { min: 1, max: 200, fallback: 24 } };

export const STREAM_PATH = '/api/v1/stream';
export const CONSOLE_PATH = '/api/v1/slivers/:id/console';

function refuse(socket: WebSocket, problem: HearthError, path: string): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ type: 'error', problem: problem.toProblem(path) }));
  socket.close(closeCodeOf(problem), problem.code);
}

const asProblem = (err: unknown): HearthError =>
  err instanceof HearthError ? err : new HearthError('internal', 'the socket could not start; see the agent log', {}, { cause: err });

/** Who opened a socket: the gateway's owner, or a cloud user by their key's id (SHA256:…). */
export type Caller = { owner: true } | { owner: false; user: string };

/** Checks a user's signature of the socket's URL (GET, as the upgrade request); resolves with the user's id. */
export type VerifyUser = (req: { url: string; headers: Record<string, string> }) => Promise<string>;

type Handler = (data: Buffer, isBinary: boolean) => void;

/**
 * Wait for the socket's first message and check who sent it (the owner's
 * token, or a user's signature of GET on the socket's URL), then hand the
 * caller and the message's other fields to `open`, which returns the handler
 * of the messages after it. Messages that arrive while a signature is being
 * checked wait for it. A refusal, or `open` throwing, closes the socket with
 * the problem.
 */
function authenticate(
  socket: WebSocket, path: string, url: string, auth: { ownerToken: OwnerToken; verifyUser: VerifyUser; ownerSockets: Map<WebSocket, string> },
  open: (caller: Caller, fields: Record<string, unknown>) => Handler,
): void {
  const waiting = setTimeout(() => refuse(socket, new HearthError('unauthorized', `send {"type":"auth",…} within ${AUTH_TIMEOUT_MS / 1000} s`), path), AUTH_TIMEOUT_MS);
  const ping = setInterval(() => socket.ping(), PING_MS);
  socket.on('close', () => {
    clearTimeout(waiting);
    clearInterval(ping);
  });
  let state: 'first' | 'checking' | 'open' = 'first';
  const early: [Buffer, boolean][] = [];
  let handle: Handler = () => undefined;
  const first = async (data: Buffer, isBinary: boolean): Promise<void> => {
    if (isBinary) throw new HearthError('invalid_request', 'the first message is JSON text');
    const { credential, fields } = parseAuthMessage(String(data));
    let caller: Caller;
    if ('token' in credential) {
      checkOwnerToken(`Bearer ${credential.token}`, auth.ownerToken.current());
      caller = { owner: true };
    } else {
      const headers = { 'signature-input': credential.signature.input, signature: credential.signature.signature };
      caller = { owner: false, user: await auth.verifyUser({ url, headers }) };
    }
    if (socket.readyState !== socket.OPEN) return;
    handle = open(caller, fields);
    if (caller.owner) {
      auth.ownerSockets.set(socket, path);
      socket.on('close', () => auth.ownerSockets.delete(socket));
    }
    state = 'open';
    for (const [d, b] of early.splice(0)) handle(d, b);
  };
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (state === 'open') return handle(data, isBinary);
    if (state === 'checking') return void early.push([data, isBinary]);
    state = 'checking';
    clearTimeout(waiting);
    first(data, isBinary).catch((err: unknown) => refuse(socket, asProblem(err), path));
  });
}

const upgradeRequired = (path: string, first: string) => async (): Promise<never> => {
  throw new HearthError('upgrade_required', `${path} is a WebSocket: connect with Upgrade: websocket and send ${first} first`);
};

/** The URL a user signs for a socket: as the gateway saw the upgrade request. */
const urlOf = (req: FastifyRequest): string => `http://${req.headers.host ?? 'localhost'}${req.url}`;

export async function registerPortalRoutes(app: FastifyInstance, init: {
  sources: StreamSources; slivers: SliverService; ownerToken: OwnerToken; webRoot: string | undefined;
  verifyUser: VerifyUser;
  /** The user of the slice a sliver belongs to; undefined for a sliver of no slice, or gone. */
  sliverUser: (sliverId: string) => string | undefined;
}): Promise<void> {
  if (init.webRoot !== undefined) {
    await app.register(fastifyStatic, { root: init.webRoot, prefix: '/', index: ['index.html'], cacheControl: true, maxAge: 0 });
  }
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  // What the owner's token opened is closed when it is rotated: it no longer speaks for the owner.
  const ownerSockets = new Map<WebSocket, string>();
  init.ownerToken.onRotate(() => {
    for (const [socket, path] of ownerSockets) refuse(socket, new HearthError('unauthorized', 'the owner token was rotated; sign in with the new one'), path);
  });
  const auth = { ownerToken: init.ownerToken, verifyUser: init.verifyUser, ownerSockets };
  const hub = createStreamHub(init.sources);
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    try {
      hub.tick();
    } catch (err) {
      app.log.error({ err }, 'stream tick failed');
    }
    if (hub.clients === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  app.addHook('onClose', async () => clearInterval(timer));

  app.route({
    method: 'GET',
    url: STREAM_PATH,
    schema: { hide: true },
    handler: upgradeRequired(STREAM_PATH, '{"type":"auth","token":"…","after":N}'),
    wsHandler: (socket: WebSocket, req) => {
      authenticate(socket, STREAM_PATH, urlOf(req), auth, (caller, fields) => {
        const after = wholeField(fields, 'after', 0, Number.MAX_SAFE_INTEGER);
        const leave = hub.join({
          send: (message) => {
            if (socket.bufferedAmount > MAX_BUFFERED) socket.terminate();
            else socket.send(JSON.stringify(message));
          },
          // A user sees their slivers' events, and their slices' (a sliver moved by a healing) that name them.
          ...(caller.owner ? {} : {
            sees: (event) => (event.sliverId === null ? event.detail['user'] === caller.user : init.sliverUser(event.sliverId) === caller.user),
          }),
        }, after);
        socket.on('close', leave);
        timer ??= setInterval(tick, TICK_MS);
        // After the first message the client has nothing more to say.
        return () => refuse(socket, new HearthError('invalid_request', 'the stream takes one message, the first'), STREAM_PATH);
      });
    },
  });

  app.route<{ Params: { id: string } }>({
    method: 'GET',
    url: CONSOLE_PATH,
    schema: { hide: true },
    handler: upgradeRequired(CONSOLE_PATH, '{"type":"auth","token":"…","cols":C,"rows":R}'),
    wsHandler: (socket: WebSocket, req) => {
      const path = `/api/v1/slivers/${req.params.id}/console`;
      authenticate(socket, path, urlOf(req), auth, (caller, fields) => {
        const size = (f: Record<string, unknown>): { cols: number; rows: number } => ({
          cols: wholeField(f, 'cols', TERMINAL.cols.min, TERMINAL.cols.max, TERMINAL.cols.fallback),
          rows: wholeField(f, 'rows', TERMINAL.rows.min, TERMINAL.rows.max, TERMINAL.rows.fallback),
        });
        const sliver = init.slivers.get(req.params.id);
        if (!caller.owner && sliver.member?.user !== caller.user) {
          throw new HearthError('forbidden', "a console is for the gateway's owner and the user of the sliver's slice");
        }
        const session = init.slivers.console(sliver.id, size(fields));
        socket.send(JSON.stringify({ type: 'ready', sliver: sliver.spec.name }));
        session.stdout.on('data', (chunk: Buffer) => {
          socket.send(chunk, { binary: true });
          if (socket.bufferedAmount > CONSOLE_HIGH_WATER && !session.stdout.isPaused()) {
            session.stdout.pause();
            const resume = setInterval(() => {
              if (socket.bufferedAmount > CONSOLE_HIGH_WATER / 4 && socket.readyState === socket.OPEN) return;
              clearInterval(resume);
              session.stdout.resume();
            }, 20);
          }
        });
        session.stdin.on('error', () => undefined);
        socket.on('close', () => session.kill());
        // The exit is told once the last of the output is sent.
        Promise.all([session.exited, finished(session.stdout).catch(() => undefined)]).then(
          ([code]) => {
            if (socket.readyState !== socket.OPEN) return;
            socket.send(JSON.stringify({ type: 'exit', code }));
            socket.close(1000, 'exited');
          },
          (err: unknown) => refuse(socket, asProblem(err), path),
        );
        // Keystrokes are binary frames; a text frame is a control message.
        return (data, isBinary) => {
          if (isBinary) {
            session.stdin.write(data);
            return;
          }
          try {
            const m = JSON.parse(String(data)) as Record<string, unknown> | null;
            if (m?.['type'] !== 'resize') throw new HearthError('invalid_request', 'a console takes keystrokes as binary frames and {"type":"resize","cols":C,"rows":R}');
            const { cols, rows } = size(m);
            session.resize(cols, rows);
          } catch (err) {
            refuse(socket, err instanceof SyntaxError ? new HearthError('malformed_json', 'a control message must be JSON') : asProblem(err), path);
          }
        };
      });
    },
  });
}
