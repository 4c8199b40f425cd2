// /api/v1/services and /api/v1/slivers/:id/services: the community's
// service directory as this gateway sees it, and the services a sliver of
// this gateway declares with their health. Handlers only translate HTTP to
// the sliver service and the directory and back.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HearthError } from '../../model/errors.js';
import { MAX_SERVICES, SERVICE_TYPES, type ServiceType } from '../../model/service.js';
import type { DirectoryEntry, DirectoryQuery } from '../../cloud/services.js';
import type { SliverService } from '../../slivers/service.js';
import type { ServiceRecord } from '../../store/store.js';
import { SliverParams } from '../schemas.js';

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
  rttMs: Type.Union([Type.Number(), Type.Null()], { description: 'estimated RTT from this gateway (Vivaldi); 0 for its own' }),
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
  reason: Type.Union([Type.String(), Type.Null()]),
});

const DirectoryQuerySchema = Type.Object({
  type: Type.Optional(Type.String({ maxLength: 32, description: SERVICE_TYPES.join(', ') })),
  near: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'true: nearest first by RTT' })),
}, { additionalProperties: false });

// The declarations are checked by model/service.ts, whose errors name the field.
const SetBody = Type.Object({ services: Type.Array(Type.Unknown(), { maxItems: MAX_SERVICES * 8 }) }, { additionalProperties: false });

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

const declaredOf = (s: ServiceStatus): Record<string, unknown> => ({
  name: s.name, type: s.type, port: s.port, protocol: s.protocol, hostPort: s.hostPort, fixed: s.fixed, check: s.check, up: s.up, reason: s.reason,
});

export function registerServiceRoutes(untyped: FastifyInstance, slivers: SliverService, services: ServicesApi): void {
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
}
