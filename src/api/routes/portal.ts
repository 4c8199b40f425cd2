// The portal's two ways in: its built files at / (public: the page asks for
// the token itself), and GET /api/v1/stream, the WebSocket of live changes
// (api/stream.ts), authenticated by its first message.

import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { HearthError } from '../../model/errors.js';
import { checkOwnerToken } from '../auth.js';
import { closeCodeOf, createStreamHub, parseAuthMessage, type StreamSources } from '../stream.js';

/** How often the hub polls its sources while anyone listens. */
const TICK_MS = 250;
/** How long a new stream may wait before its first message. */
const AUTH_TIMEOUT_MS = 10_000;
/** A ping this often keeps idle proxies and NATs from cutting the stream. */
const PING_MS = 20_000;
/** A listener this far behind (bytes queued) is cut; it reconnects and resynchronises. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export const STREAM_PATH = '/api/v1/stream';

export async function registerPortalRoutes(app: FastifyInstance, init: { sources: StreamSources; ownerToken: string; webRoot: string | undefined }): Promise<void> {
  if (init.webRoot !== undefined) {
    await app.register(fastifyStatic, { root: init.webRoot, prefix: '/', index: ['index.html'], cacheControl: true, maxAge: 0 });
  }
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
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

  const refuse = (socket: WebSocket, problem: HearthError): void => {
    socket.send(JSON.stringify({ type: 'error', problem: problem.toProblem(STREAM_PATH) }));
    socket.close(closeCodeOf(problem), problem.code);
  };

  app.route({
    method: 'GET',
    url: STREAM_PATH,
    schema: { hide: true },
    handler: async () => {
      throw new HearthError('upgrade_required', `${STREAM_PATH} is a WebSocket: connect with Upgrade: websocket and send {"type":"auth","token":"…"} first`);
    },
    wsHandler: (socket: WebSocket) => {
      let leave: (() => void) | undefined;
      const waiting = setTimeout(() => refuse(socket, new HearthError('unauthorized', `send {"type":"auth","token":"<owner token>"} within ${AUTH_TIMEOUT_MS / 1000} s`)), AUTH_TIMEOUT_MS);
      const ping = setInterval(() => socket.ping(), PING_MS);
      socket.on('close', () => {
        clearTimeout(waiting);
        clearInterval(ping);
        leave?.();
      });
      socket.once('message', (data, isBinary) => {
        clearTimeout(waiting);
        try {
          if (isBinary) throw new HearthError('invalid_request', 'messages are JSON text');
          const auth = parseAuthMessage(String(data));
          checkOwnerToken(`Bearer ${auth.token}`, init.ownerToken);
          leave = hub.join({
            send: (message) => {
              if (socket.bufferedAmount > MAX_BUFFERED) socket.terminate();
              else socket.send(JSON.stringify(message));
            },
          }, auth.after);
          timer ??= setInterval(tick, TICK_MS);
        } catch (err) {
          refuse(socket, err instanceof HearthError ? err : new HearthError('internal', 'the stream could not start; see the agent log', {}, { cause: err }));
        }
        // After the first message the client has nothing more to say.
        socket.on('message', () => refuse(socket, new HearthError('invalid_request', 'the stream takes one message, the first')));
      });
    },
  });
}
