// /api/v1/slivers: create, list, show, start, stop, delete, exec, stats,
// port forwards, and the event log. Handlers only translate HTTP to the
// sliver service and back.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { StoredSliver, Store } from '../../store/store.js';
import {
  CreateSliverBody, EventList, EventsQuery, ExecBody, ExecResult, Forward, ForwardParams, Nullable, SliverList, SliverParams, Stats, type Sliver,
} from '../schemas.js';
import type { SliverService } from '../../slivers/service.js';
import type { SliverTraffic } from '../../net/shaper.js';

/** The one place a stored sliver becomes its wire shape. */
export function viewOf(s: StoredSliver): Sliver {
  return {
    id: s.id, name: s.spec.name, slice: s.spec.slice, template: s.spec.template, packages: s.spec.packages, resources: s.spec.resources,
    desired: s.desired, observed: s.observed, reason: s.reason, address: s.address, createdAt: s.createdAt, updatedAt: s.updatedAt,
  };
}

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };
const one = { 200: Type.Ref('Sliver'), ...errors };
const accepted = { 202: Type.Ref('Sliver'), ...errors };

export function registerSliverRoutes(
  untyped: FastifyInstance, slivers: SliverService, store: Store, traffic?: (sliverId: string) => Promise<SliverTraffic | undefined>,
): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['slivers'];

  app.post('/api/v1/slivers', { schema: { summary: 'Create a sliver (202: the reconciler builds it)', tags, body: CreateSliverBody, response: accepted } },
    async (req, reply) => reply.code(202).send(viewOf(slivers.create(req.body))));

  app.get('/api/v1/slivers', { schema: { summary: 'List slivers', tags, response: { 200: SliverList, ...errors } } },
    async () => ({ items: slivers.list().map(viewOf) }));

  app.get('/api/v1/slivers/:id', { schema: { summary: 'Show a sliver by id or name', tags, params: SliverParams, response: one } },
    async (req) => viewOf(slivers.get(req.params.id)));

  app.post('/api/v1/slivers/:id/start', { schema: { summary: 'Set desired state running', tags, params: SliverParams, response: accepted } },
    async (req, reply) => reply.code(202).send(viewOf(slivers.start(req.params.id))));

  app.post('/api/v1/slivers/:id/stop', { schema: { summary: 'Set desired state stopped', tags, params: SliverParams, response: accepted } },
    async (req, reply) => reply.code(202).send(viewOf(slivers.stop(req.params.id))));

  app.delete('/api/v1/slivers/:id', { schema: { summary: 'Delete a sliver (202: the reconciler removes it)', tags, params: SliverParams, response: accepted } },
    async (req, reply) => reply.code(202).send(viewOf(slivers.remove(req.params.id))));

  app.post('/api/v1/slivers/:id/exec', {
    schema: { summary: 'Run a command in a running sliver', tags, params: SliverParams, body: ExecBody, response: { 200: ExecResult, ...errors } },
  }, async (req) => {
    const controller = new AbortController();
    req.raw.on('close', () => {
      if (!req.raw.complete) controller.abort(new Error('client went away'));
    });
    const result = await slivers.exec(req.params.id, req.body, { signal: controller.signal });
    return { exitCode: result.exitCode, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8'), truncated: result.truncated };
  });

  app.get('/api/v1/slivers/:id/stats', {
    schema: { summary: 'Resource use of a running sliver', tags, params: SliverParams, response: { 200: Nullable(Stats), ...errors } },
  }, async (req) => {
    const stats = await slivers.stats(req.params.id);
    const shaped = stats === null ? undefined : await traffic?.(slivers.get(req.params.id).id);
    return shaped === undefined ? stats : { ...stats, shaped };
  });

  app.get('/api/v1/slivers/:id/forwards', {
    schema: { summary: 'Port forwards to a sliver', tags, params: SliverParams, response: { 200: Type.Object({ items: Type.Array(Forward) }), ...errors } },
  }, async (req) => ({ items: slivers.forwards(req.params.id).map(({ proto, hostPort, port }) => ({ proto, hostPort, port })) }));

  app.post('/api/v1/slivers/:id/forwards', {
    schema: { summary: "Forward a port of the gateway's addresses to a sliver port", tags, params: SliverParams, body: Forward, response: { 201: Forward, ...errors } },
  }, async (req, reply) => {
    const f = slivers.addForward(req.params.id, req.body);
    return reply.code(201).send({ proto: f.proto, hostPort: f.hostPort, port: f.port });
  });

  app.delete('/api/v1/slivers/:id/forwards/:proto/:hostPort', {
    schema: { summary: 'Remove a port forward', tags, params: ForwardParams, response: errors },
  }, async (req, reply) => {
    slivers.removeForward(req.params.id, req.params.proto, Number(req.params.hostPort));
    return reply.code(204).send();
  });

  app.get('/api/v1/events', {
    schema: { summary: 'The event log, oldest first, after a sequence number', tags: ['events'], querystring: EventsQuery, response: { 200: EventList, ...errors } },
  }, async (req) => {
    const q = req.query;
    const sliverId = q.sliver === undefined ? undefined : slivers.get(q.sliver).id;
    return {
      items: store.listEvents({
        after: q.after === undefined ? 0 : Number(q.after),
        limit: q.limit === undefined ? 100 : Number(q.limit),
        ...(sliverId === undefined ? {} : { sliverId }),
      }),
    };
  });
}
