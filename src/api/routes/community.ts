// /api/v1/community and /api/v1/nodes: the community this gateway is in,
// and what it knows of every member. Handlers translate HTTP to the
// community service and back.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HearthError } from '../../model/errors.js';
import type { CommunityStatus } from '../../model/community.js';
import type { NodeRow as NodeRowData } from '../../overlay/view.js';
import { Nullable, OneOf, ResourceVector } from '../schemas.js';

/** What the community routes need of the community side; the agent's community provides it. */
export interface CommunityApi {
  status(): CommunityStatus | null;
  nodes(): { self: string; community: string; items: NodeRowData[] };
  create(name: string): Promise<CommunityStatus>;
  join(token: string): Promise<CommunityStatus & { issuerSeen: boolean; contacted: number }>;
  invite(expiresInSec: number | null): Promise<{ token: string; expires: number | null; addresses: string[] }>;
  leave(): Promise<void>;
  rotateKey(): Promise<{ nodes: number; errors: Record<string, string> }>;
  revoke(ref: string): Promise<{ id: string; name: string | null }>;
}

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

const Status = Type.Object({
  name: Type.String(), self: Type.String(), id: Type.String(),
  state: OneOf(['starting', 'joined', 'retrying', 'revoked'], {
    description: 'joined; or why not: starting, retrying (reason, retryAt), revoked (by the community; leave clears it)',
  }),
  reason: Nullable(Type.String()), fix: Nullable(Type.String()), since: Type.String({ format: 'date-time' }),
  attempts: Type.Integer(), retryAt: Nullable(Type.String({ format: 'date-time' })), warning: Nullable(Type.String()),
  members: Type.Object({ alive: Type.Integer(), failed: Type.Integer(), left: Type.Integer(), total: Type.Integer() }),
  serfRestarts: Type.Integer(), badTags: Type.Integer(),
});

const NodeRow = Type.Object({
  name: Type.String(), id: Nullable(Type.String()), status: Type.String(), serfAddr: Type.String(), peerAddr: Nullable(Type.String()),
  mode: Nullable(Type.String()), zone: Nullable(Type.String()), version: Nullable(Type.String()), contributed: Nullable(ResourceVector), free: Nullable(ResourceVector),
  rttMs: Nullable(Type.Number()), self: Type.Boolean(), revoked: Type.Boolean(),
});

export function registerCommunityRoutes(untyped: FastifyInstance, community: CommunityApi): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['community'];

  app.get('/api/v1/nodes', {
    schema: { summary: 'Every member of the community as this gateway sees it', tags, response: {
      200: Type.Object({ self: Type.String(), community: Type.String(), items: Type.Array(NodeRow) }), ...errors,
    } },
  }, async () => community.nodes());

  app.get('/api/v1/community', { schema: { summary: 'The community this gateway is in', tags, response: { 200: Status, ...errors } } }, async () => {
    const s = community.status();
    if (s === null) throw new HearthError('not_in_community', 'this gateway is not in a community; create one or join with an invite');
    return s;
  });

  app.post('/api/v1/community', {
    schema: { summary: 'Create a community with this gateway as its first member', tags,
      body: Type.Object({ name: Type.String({ maxLength: 256 }) }, { additionalProperties: false }), response: { 201: Status, ...errors } },
  }, async (req, reply) => reply.code(201).send(await community.create(req.body.name)));

  app.post('/api/v1/community/join', {
    schema: { summary: 'Join a community with an invite token', tags,
      body: Type.Object({ token: Type.String({ maxLength: 16384 }) }, { additionalProperties: false }),
      response: { 200: Type.Composite([Status, Type.Object({ issuerSeen: Type.Boolean(), contacted: Type.Integer() })]), ...errors } },
  }, async (req) => community.join(req.body.token));

  app.post('/api/v1/community/invites', {
    schema: { summary: 'Make an invite token', tags,
      body: Type.Object({ expiresInSec: Type.Optional(Nullable(Type.Integer({ minimum: 60, maximum: 365 * 86400 }))) }, { additionalProperties: false }),
      response: { 201: Type.Object({ token: Type.String(), expires: Nullable(Type.Integer()), addresses: Type.Array(Type.String()) }), ...errors } },
  }, async (req, reply) => reply.code(201).send(await community.invite(req.body.expiresInSec === undefined ? 86400 : req.body.expiresInSec)));

  app.post('/api/v1/community/leave', { schema: { summary: 'Leave the community gracefully', tags, response: errors } },
    async (_req, reply) => {
      await community.leave();
      return reply.code(204).send();
    });

  app.post('/api/v1/community/rotate-key', {
    schema: { summary: 'Replace the gossip key on every member without a pause', tags,
      response: { 200: Type.Object({ nodes: Type.Integer(), errors: Type.Record(Type.String(), Type.String()) }), ...errors } },
  }, async () => community.rotateKey());

  app.post('/api/v1/community/revocations', {
    schema: { summary: 'Revoke a member: its peer calls are refused everywhere', tags,
      body: Type.Object({ node: Type.String({ maxLength: 256 }) }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), name: Nullable(Type.String()) }), ...errors } },
  }, async (req, reply) => reply.code(201).send(await community.revoke(req.body.node)));
}
