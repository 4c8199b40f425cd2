// /api/v1/services and /api/v1/slivers/:id/services: the community's
// service directory as this gateway sees it, the services a sliver of
// this gateway declares with their health, and the relay of an hls
// service's stream (public; api/service-proxy.ts says why). Handlers only
// translate HTTP to the sliver service, the directory and the relay and back.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HearthError } from '../../model/errors.js';
import { MAX_SERVICES, SERVICE_TYPES, type ServiceType } from '../../model/service.js';
import type { DirectoryEntry, DirectoryQuery } from '../../cloud/services.js';
import type { SliverService } from '../../slivers/service.js';
import type { ServiceRecord } from '../../store/store.js';
import { Nullable, OneOf, SliverParams } from '../schemas.js';
import { streamPathOf, type ServiceProxy } from '../service-proxy.js';

/** The stream relay; public (app.ts), since a player cannot sign its requests. */
export const SERVICE_STREAM_PATH = '/api/v1/services/:gateway/:sliver/:name/stream/*';
/** Segments of the relay's path before the path on the service: '', api, v1, services, gateway, sliver, name, stream. */
const STREAM_PREFIX_SEGMENTS = 8;

/** A declared service and what its gateway knows of its health now. */
export interface ServiceStatus extends ServiceRecord {
  up: boolean;
  /** Why it is not up (a failed check, a stopped sliver), or null. */
  reason: string | null;
}

export interface ServicesApi {
  directory(query?: DirectoryQuery): DirectoryEntry[];
  statusOf(sliverId: string): ServiceStatus[];
}

const Entry = Type.Object({
  name: Type.String(),
  type: Type.String(),
  protocol: Type.String(),
  hostPort: Type.Integer(),
  sliver: Type.String(),
  slice: Type.String(),
  gateway: Type.String(),
  address: Type.String({ description: "host:port on the gateway's community address" }),
  rttMs: Nullable(Type.Number({ description: 'estimated RTT from this gateway (Vivaldi); 0 for its own' })),
});

const Declared = Type.Object({
  name: Type.String(),
  type: Type.String(),
  port: Type.Integer(),
  protocol: Type.String(),
  hostPort: Type.Integer(),
  fixed: Type.Boolean({ description: 'the gateway port was asked for, not picked' }),
  check: Type.Unknown(),
  up: Type.Boolean({ description: 'announced to the community now' }),
  reason: Nullable(Type.String()),
});

const Label = Type.String({ minLength: 1, maxLength: 63 });
const StreamParams = Type.Object({ gateway: Label, sliver: Label, name: Label, '*': Type.String({ description: 'the path on the service, such as hls/live.m3u8' }) });

const DirectoryQuerySchema = Type.Object({
  type: Type.Optional(Type.String({ maxLength: 32, description: SERVICE_TYPES.join(', ') })),
  near: Type.Optional(OneOf(['true', 'false'], { description: 'true: nearest first by RTT' })),
}, { additionalProperties: false });

// The declarations are checked by model/service.ts, whose errors name the field.
const SetBody = Type.Object({ services: Type.Array(Type.Unknown(), { maxItems: MAX_SERVICES * 8 }) }, { additionalProperties: false });

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

const declaredOf = (s: ServiceStatus): Record<string, unknown> => ({
  name: s.name, type: s.type, port: s.port, protocol: s.protocol, hostPort: s.hostPort, fixed: s.fixed, check: s.check, up: s.up, reason: s.reason,
});

export function registerServiceRoutes(untyped: FastifyInstance, slivers: SliverService, services: ServicesApi, proxy: ServiceProxy): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['services'];

  app.get('/api/v1/services', {
    schema: { summary: "The community's healthy services, as this gateway sees them", tags, querystring: DirectoryQuerySchema, response: { 200: Type.Object({ items: Type.Array(Entry) }), ...errors } },
  }, async (req) => {
    const { type, near } = req.query;
    if (type !== undefined && !(SERVICE_TYPES as readonly string[]).includes(type)) {
      throw new HearthError('invalid_request', `type ${JSON.stringify(type)} is not a service type; known: ${SERVICE_TYPES.join(', ')}`, { field: 'type' });
    }
    return { items: services.directory({ ...(type === undefined ? {} : { type: type as ServiceType }), near: near === 'true' }) };
  });

  app.get('/api/v1/slivers/:id/services', {
    schema: { summary: "A sliver's declared services and their health", tags, params: SliverParams, response: { 200: Type.Object({ items: Type.Array(Declared) }), ...errors } },
  }, async (req) => ({ items: services.statusOf(slivers.get(req.params.id).id).map(declaredOf) }));

  app.put('/api/v1/slivers/:id/services', {
    schema: { summary: "Replace a sliver's services: each is forwarded from a gateway port, checked, and announced while healthy", tags, params: SliverParams, body: SetBody, response: { 200: Type.Object({ items: Type.Array(Declared) }), ...errors } },
  }, async (req) => {
    const s = slivers.get(req.params.id);
    slivers.setServices(s.id, req.body.services);
    return { items: services.statusOf(s.id).map(declaredOf) };
  });

  app.get(SERVICE_STREAM_PATH, {
    // A HEAD would cost the service a whole GET.
    exposeHeadRoute: false,
    schema: {
      summary: "A file of an hls service's stream (playlist or segment), relayed from the service's community address",
      description: 'For players that cannot reach the community network. Public: it relays only announced hls services, which anyone on the community '
        + 'network may GET directly. The status, Content-Type (a stream type, else application/octet-stream), Content-Length and Cache-Control are '
        + "the service's; the path after /stream/ is the path on the service, plain segments ending in .m3u8, .ts, .m4s, .mp4, .aac, .vtt or the like.",
      tags, security: [], params: StreamParams, response: { '4xx': problem, '5xx': problem },
    },
  }, async (req, reply) => {
    const rawPath = (req.url.split('?')[0] ?? '').split('/').slice(STREAM_PREFIX_SEGMENTS).join('/');
    const path = streamPathOf(rawPath);
    const { gateway, sliver, name } = req.params;
    const entry = services.directory().find((e) => e.gateway === gateway && e.sliver === sliver && e.name === name);
    if (entry === undefined) {
      throw new HearthError('service_not_found', `the directory lists no service ${name} of sliver ${sliver} on ${gateway} now`);
    }
    if (entry.type !== 'hls') {
      throw new HearthError('not_a_stream', `${name} of sliver ${sliver} on ${gateway} is a ${entry.type} service; this gateway relays hls services only: reach it at ${entry.address}`);
    }
    const upstream = await proxy.open(entry.address, path, reply.raw);
    return reply.code(upstream.status).headers(upstream.headers).send(upstream.body);
  });
}
