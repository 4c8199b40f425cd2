// The gateway's HTTP API as a Fastify instance, built apart from listen() so
// tests drive it in-process with inject(). Owns request validation, owner
// authentication, the problem+json error mapping and the OpenAPI document.
// Must never: open a socket itself (the agent listens), or answer an error
// with anything but a catalog code.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { HearthError, type ErrorCode } from '../model/errors.js';
import type { Logger } from '../agent/logger.js';
import { checkOwnerToken } from './auth.js';
import type { ApiMetrics } from './metrics.js';
import type { SliverService } from './sliver-service.js';
import type { Store } from '../store/store.js';
import { registerSliverRoutes } from './routes/slivers.js';
import { registerNodeRoutes, type NodeInfoSource } from './routes/node.js';
import { Problem, Sliver } from './schemas.js';
import { registerCommunityRoutes, type CommunityApi } from './routes/community.js';

export interface ApiDeps {
  slivers: SliverService;
  store: Store;
  node: NodeInfoSource;
  community: CommunityApi;
  metrics: ApiMetrics;
  ownerToken: string;
  /** Serve /metrics without the owner token (for a Prometheus on the LAN). */
  metricsPublic: boolean;
  log?: Logger;
  bodyLimit?: number;
}

export type Api = FastifyInstance;

const PUBLIC_ROUTES = new Set(['/api/openapi.json']);

function problemFromFastify(err: FastifyError): HearthError {
  if (err.validation !== undefined) {
    const where = err.validationContext ?? 'request';
    return new HearthError('invalid_request', `${where}${err.message.startsWith(where) ? err.message.slice(where.length) : ` ${err.message}`}`);
  }
  const byFastifyCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  };
  const code = byFastifyCode[err.code];
  if (code !== undefined) return new HearthError(code, err.message);
  if (err instanceof SyntaxError) return new HearthError('malformed_json', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new HearthError('invalid_request', err.message);
  return new HearthError('internal', 'internal error; see the agent log', {}, { cause: err });
}

export async function buildApi(deps: ApiDeps): Promise<Api> {
  const options: FastifyServerOptions = {
    ...(deps.log === undefined ? {} : { loggerInstance: deps.log.child({ part: 'api' }) as FastifyBaseLogger }),
    // Each request is measured in the latency histogram; a log line per request would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false } },
    return503OnClosing: true,
  };
  const app: FastifyInstance = Fastify(options);
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

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0] ?? '';
    req.startedAt = process.hrtime.bigint();
    if (PUBLIC_ROUTES.has(path) || (deps.metricsPublic && path === '/metrics')) return;
    checkOwnerToken(req.headers.authorization, deps.ownerToken);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = Number(process.hrtime.bigint() - (req.startedAt ?? process.hrtime.bigint())) / 1e9;
    deps.metrics.observeRequest(req.method, route, reply.statusCode, seconds);
  });

  app.setErrorHandler(async (err: FastifyError | HearthError, req, reply) => {
    const problem = err instanceof HearthError ? err : problemFromFastify(err);
    if (problem.status >= 500) req.log.error({ err, code: problem.code }, 'request failed');
    return reply.code(problem.status).type('application/problem+json').send(problem.toProblem(req.url.split('?')[0]));
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = new HearthError('route_not_found', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    return reply.code(e.status).type('application/problem+json').send(e.toProblem());
  });

  registerNodeRoutes(app, deps.node, deps.slivers);
  registerSliverRoutes(app, deps.slivers, deps.store);
  registerCommunityRoutes(app, deps.community);

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(deps.metrics.contentType).send(await deps.metrics.render());
  });
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt?: bigint;
  }
}
