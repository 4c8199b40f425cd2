// The gateway's HTTP API as a Fastify instance, built apart from listen() so
// tests drive it in-process with inject(). Owns request validation, owner
// authentication, the problem+json error mapping and the OpenAPI document.
// Must never: open a socket itself (the agent listens), or answer an error
// with anything but a catalog code.

import { STATUS_CODES, maxHeaderSize, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  LogController, type ConnectionError, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest,
  type FastifyHttpOptions,
} from 'fastify';
import swagger from '@fastify/swagger';
import { HearthError, type ErrorCode } from '../model/errors.js';
import { checkOwnerToken, type OwnerToken } from './auth.js';
import type { ApiMetrics } from './metrics.js';
import type { SliverService } from '../slivers/service.js';
import type { Store } from '../store/store.js';
import { registerSliverRoutes } from './routes/slivers.js';
import { registerNodeRoutes, type NodeInfoSource } from './routes/node.js';
import { Problem, Sliver } from './schemas.js';
import { registerCommunityRoutes, type CommunityApi } from './routes/community.js';
import { DOCUMENT_ROUTES, SLICE_USER_ROUTES, registerSliceRoutes, type SliceApi } from './routes/slices.js';
import { createUserVerifier } from './user-auth.js';
import type { SliverTraffic } from '../net/shaper.js';
import { registerImageRoutes, type ImagesApi } from './routes/images.js';
import { SERVICE_STREAM_PATH, registerServiceRoutes, type ServicesApi } from './routes/services.js';
import { createServiceProxy, type ProxyLimits } from './service-proxy.js';
import { APP_USER_ROUTES, registerAppRoutes, type AppsApi } from './routes/apps.js';
import { CONSOLE_PATH, STREAM_PATH, registerPortalRoutes } from './routes/portal.js';

/** Routes a user may call with a request signed by their key instead of the owner token: each route module names its own. */
const USER_ROUTES: ReadonlySet<string> = new Set([...SLICE_USER_ROUTES, ...APP_USER_ROUTES]);

export interface ApiDeps {
  slivers: SliverService;
  store: Store;
  node: NodeInfoSource;
  community: CommunityApi;
  slices: SliceApi;
  services: ServicesApi;
  /** The app recipes this install ships; without it the routes are absent. */
  apps?: AppsApi;
  metrics: ApiMetrics;
  ownerToken: OwnerToken;
  /** Serve /metrics without the owner token (for a Prometheus on the LAN). */
  metricsPublic: boolean;
  /** A sliver's traffic as the bandwidth shaper counts it; undefined when it does not shape the sliver. */
  traffic?: (sliverId: string) => Promise<SliverTraffic | undefined>;
  /** The machine's base images (`hearth image`); without it the routes are absent. */
  images?: ImagesApi;
  log?: ApiLogger;
  bodyLimit?: number;
  /** The built portal (dist/portal), served at /; without it / is not found. */
  webRoot?: string;
  /** The stream relay's bounds (tests shorten them); PROXY_LIMITS otherwise. */
  proxyLimits?: Partial<ProxyLimits>;
}

/**
 * Fastify logs through a whole pino-like logger (fatal, trace, levels), more
 * than the parts' Logger asks for; the agent's pino logger is both.
 */
export type ApiLogger = FastifyBaseLogger;

export type Api = FastifyInstance;

// The portal's sockets authenticate by their first message (a browser cannot set their headers);
// the stream relay serves what the community network already offers anyone (api/service-proxy.ts).
const PUBLIC_ROUTES = new Set(['/api/openapi.json', STREAM_PATH, CONSOLE_PATH, SERVICE_STREAM_PATH]);
/** The portal's files: everything outside the API and the metrics. */
const isPortalPath = (path: string): boolean => !path.startsWith('/api/') && path !== '/api' && path !== '/metrics';
/** Fastify's default, named so the refusal can say it: no id, name or port is near this long. */
const MAX_PARAM_LENGTH = 100;
/** How much of a request path a problem's detail quotes. */
const DETAIL_PATH_LENGTH = 200;

function problemFromFastify(err: FastifyError): HearthError {
  if (err.validation !== undefined) {
    const where = err.validationContext ?? 'request';
    return new HearthError('invalid_request', `${where}${err.message.startsWith(where) ? err.message.slice(where.length) : ` ${err.message}`}`);
  }
  // Raised by the router before any hook or route runs (frameworkErrors below);
  // Fastify's own messages quote the whole path, which may be kilobytes long.
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new HearthError('uri_too_long', `a segment of the path is longer than ${MAX_PARAM_LENGTH} characters`);
  }
  if (err.code === 'FST_ERR_BAD_URL') return new HearthError('malformed_request', 'the path is not valid percent-encoding');
  const byFastifyCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
    // The body is shorter or longer than its Content-Length: the framing is broken, not a field.
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  };
  const code = byFastifyCode[err.code];
  if (code !== undefined) return new HearthError(code, err.message);
  if (err instanceof SyntaxError) return new HearthError('malformed_json', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new HearthError('invalid_request', err.message);
  return new HearthError('internal', 'internal error; see the agent log', {}, { cause: err });
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (a bad
 * request line, an invalid or doubled Content-Length, oversized headers,
 * headers that never finish), as a catalog problem.
 */
export function problemFromClientError(err: Pick<ConnectionError, 'code' | 'message'>): HearthError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new HearthError('request_timeout', 'the request headers did not arrive in time');
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new HearthError('headers_too_large', `the request line and headers are longer than ${maxHeaderSize} bytes`);
  }
  return new HearthError('malformed_request', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`);
}

/**
 * Fastify's clientErrorHandler, with the answer as problem+json. The socket
 * has no request or reply yet: the response is written raw, then the
 * connection is closed, as Fastify's default does.
 */
function answerClientError(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  // A reset or a gone socket has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const problem = problemFromClientError(err);
  this.log.debug({ err, code: problem.code }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(problem.toProblem());
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\n` +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

function sendProblem(problem: HearthError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(problem.status).type('application/problem+json').send(problem.toProblem(req.url.split('?')[0]));
}

function shortPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length <= DETAIL_PATH_LENGTH ? path : `${path.slice(0, DETAIL_PATH_LENGTH)}…`;
}

export async function buildApi(deps: ApiDeps): Promise<Api> {
  // Set when the API starts closing: requests still arriving on open
  // connections are refused as problems (Fastify's own 503 is not one).
  let closing = false;
  const options: FastifyHttpOptions<Server> = {
    ...(deps.log === undefined ? {} : { loggerInstance: deps.log.child({ part: 'api' }) }),
    // Each request is measured in the latency histogram; a log line per request would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false } },
    // Refused by the first onRequest hook instead, as shutting_down.
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The router's refusals (a bad %-sequence, an over-long path segment)
    // come here, not to the error handler.
    frameworkErrors: (err, req, reply) => {
      void sendProblem(problemFromFastify(err), req, reply);
    },
    clientErrorHandler: answerClientError,
    // Node answers a missing Host itself, with an empty 400; the hook below
    // refuses it as a problem instead.
    http: { requireHostHeader: false },
  };
  const app: FastifyInstance = Fastify(options);
  const users = createUserVerifier();
  // JSON only: a text body must be refused as 415, not parsed into a string.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'hearth gateway API', version: '1', description: 'One gateway of a hearth community cloud. Errors are application/problem+json with a stable code.' },
      components: { securitySchemes: { owner: { type: 'http', scheme: 'bearer', description: 'the owner token in <data dir>/owner.token' } } },
      security: [{ owner: [] }],
    },
  });
  app.addSchema(Problem);
  app.addSchema(Sliver);

  app.addHook('preClose', async () => {
    closing = true;
  });
  // First of all hooks: a request the server cannot serve learns why, token or not.
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      void reply.header('connection', 'close');
      throw new HearthError('shutting_down', 'the gateway is shutting down; retry when it is back');
    }
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      throw new HearthError('malformed_request', 'an HTTP/1.1 request must have a Host header');
    }
  });
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0] ?? '';
    req.startedAt = process.hrtime.bigint();
    if (PUBLIC_ROUTES.has(req.routeOptions.url ?? '') || isPortalPath(path) || (deps.metricsPublic && path === '/metrics')) return;
    const route = `${req.method} ${req.routeOptions.url ?? ''}`;
    // The user's signed document in the body is the authority here; the slice service checks it.
    if (DOCUMENT_ROUTES.has(route)) return;
    // A user who signs the request (RFC 9421) with their key may read their own slices, and the recipes.
    if (USER_ROUTES.has(route) && req.headers.authorization === undefined) {
      req.user = await users.verify({ method: req.method, url: `http://${req.headers.host ?? 'localhost'}${req.url}`, headers: req.headers }, Math.floor(Date.now() / 1000));
      return;
    }
    checkOwnerToken(req.headers.authorization, deps.ownerToken.current());
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = Number(process.hrtime.bigint() - (req.startedAt ?? process.hrtime.bigint())) / 1e9;
    deps.metrics.observeRequest(req.method, route, reply.statusCode, seconds);
  });

  app.setErrorHandler(async (err: FastifyError | HearthError, req, reply) => {
    const problem = err instanceof HearthError ? err : problemFromFastify(err);
    if (problem.status >= 500 && problem.code !== 'shutting_down') {
      // A client that went away (a player closed while the relay waited) has caused it, and hears nothing.
      if (reply.raw.destroyed) req.log.debug({ err, code: problem.code }, 'request abandoned by its client');
      else req.log.error({ err, code: problem.code }, 'request failed');
    }
    return sendProblem(problem, req, reply);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = new HearthError('route_not_found', `no route ${req.method} ${shortPath(req.url)}`);
    return reply.code(e.status).type('application/problem+json').send(e.toProblem());
  });

  registerNodeRoutes(app, deps.node, deps.slivers, deps.ownerToken);
  registerSliverRoutes(app, deps.slivers, deps.store, deps.traffic);
  registerCommunityRoutes(app, deps.community);
  registerSliceRoutes(app, deps.slices, deps.store);
  const proxy = createServiceProxy(deps.proxyLimits);
  app.addHook('onClose', async () => proxy.close());
  registerServiceRoutes(app, deps.slivers, deps.services, proxy);
  if (deps.apps !== undefined) registerAppRoutes(app, deps.apps);
  if (deps.images !== undefined) registerImageRoutes(app, deps.images);
  await registerPortalRoutes(app, {
    slivers: deps.slivers,
    ownerToken: deps.ownerToken,
    verifyUser: (req) => users.verify({ method: 'GET', ...req }, Math.floor(Date.now() / 1000)),
    sliverUser: (id) => deps.store.getSliver(id)?.member?.user,
    webRoot: deps.webRoot,
    sources: {
      self: deps.node.name,
      nodes: () => {
        try {
          return deps.community.nodes();
        } catch (err) {
          if (err instanceof HearthError && err.code === 'not_in_community') return undefined;
          throw err;
        }
      },
      community: () => deps.community.status(),
      services: () => deps.services.directory({ near: false }),
      events: (after, limit) => deps.store.listEvents({ after, limit }),
      latestSeq: () => deps.store.latestEventSeq(),
    },
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(deps.metrics.contentType).send(await deps.metrics.render());
  });
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt?: bigint;
    /** The user (SHA256:…) whose signature authorized the request; unset for the owner. */
    user?: string;
  }
}
