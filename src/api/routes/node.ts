// GET /api/v1/node: what this gateway has, contributes, and has in use;
// GET/PUT /api/v1/node/policy: the owner's mode and who may use the gateway;
// POST /api/v1/node/token: a new owner token.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { validateBandwidth, type BandwidthGiven, type Contribution } from '../../host/contribution.js';
import type { Inventory } from '../../host/inventory.js';
import { BandwidthContribution, NodeInfo, Nullable, OneOf, ResourceVector } from '../schemas.js';
import type { SliverService } from '../../slivers/service.js';
import type { OwnerToken } from '../auth.js';
import { OWNER_MODES, type OwnerPolicy } from '../../model/policy.js';
import type { Sample, SampleList } from '../../model/sample.js';

export type { Sample };

const SampleSchema = Type.Object({
  at: Type.String({ format: 'date-time' }),
  cpuBusy: Type.Number({ description: 'fraction (0..1) of all the box\'s cores busy since the sample before' }),
  memoryUsedMb: Type.Integer(), diskUsedMb: Type.Integer(),
  reserved: ResourceVector,
  running: Type.Integer({ description: 'slivers running' }),
});

export interface NodeInfoSource {
  name: string;
  id: string;
  version: string;
  /** How slivers run: `note` says, for a gateway without containers, that none does. */
  virt: { driver: 'lxc' | 'none'; note: string | null };
  inventory: () => Promise<Inventory>;
  /** The gateway's recent samples, oldest first, and how far apart. */
  samples: () => SampleList;
  contribution: () => Contribution;
  /** The community side in brief; null when not in one. */
  community: () => { name: string; state: string; reason: string | null; warning: string | null } | null;
  policy: { get(): OwnerPolicy; set(policy: unknown): Promise<OwnerPolicy> };
  /** Keeps the bandwidth the owner gives (in the config) once it is valid. */
  setBandwidth(b: BandwidthGiven): Promise<void>;
}

/** The bandwidth part of a contribution on the wire: a direction not given is null. */
function bandwidthOf(c: Contribution): BandwidthContribution {
  return { upMbit: c.upMbit ?? null, downMbit: c.downMbit ?? null };
}

const Policy = Type.Object({
  mode: OneOf(OWNER_MODES, { description: 'production takes new slivers; safe keeps what runs, takes nothing new; drain moves its slice slivers elsewhere, then takes nothing' }),
  users: Type.Object({
    quota: Nullable(Type.Integer({ minimum: 0, description: 'most slivers one user may have here; null for no limit' })),
    allow: Nullable(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000, description: 'only these user ids (SHA256:…); null for any user' })),
  }, { additionalProperties: false }),
  zone: Type.Optional(Nullable(Type.String({ maxLength: 24, description: 'where the gateway stands; slices spread over zones put one sliver a zone' }))),
}, { additionalProperties: false });

export function registerNodeRoutes(app: FastifyInstance, node: NodeInfoSource, slivers: SliverService, ownerToken: OwnerToken): void {
  app.post('/api/v1/node/token', {
    schema: {
      summary: 'Rotate the owner token: a new one is written to <data dir>/owner.token and returned; the old one stops working at once, and the sockets it opened are closed',
      tags: ['node'], response: { 200: Type.Object({ token: Type.String() }), '4xx': Type.Ref('Problem') },
    },
  }, async () => ({ token: await ownerToken.rotate() }));

  app.get('/api/v1/node', {
    schema: { summary: 'This gateway: inventory, contribution, usage', tags: ['node'], response: { 200: NodeInfo, '4xx': Type.Ref('Problem') } },
  }, async () => {
    const counts: Record<string, number> = {};
    for (const s of slivers.list()) counts[s.observed] = (counts[s.observed] ?? 0) + 1;
    return {
      name: node.name,
      id: node.id,
      version: node.version,
      virt: node.virt,
      inventory: await node.inventory(),
      contribution: node.contribution(),
      usage: slivers.usage(),
      free: slivers.free(),
      bandwidth: {
        contributed: bandwidthOf(node.contribution()),
        guaranteed: { upMbit: slivers.usage().upMbit, downMbit: slivers.usage().downMbit },
      },
      slivers: counts,
      community: node.community(),
    };
  });

  app.get('/api/v1/node/samples', {
    schema: {
      summary: 'This gateway\'s use over the last hour, oldest first', tags: ['node'],
      response: { 200: Type.Object({ intervalSec: Type.Integer(), items: Type.Array(SampleSchema) }), '4xx': Type.Ref('Problem') },
    },
  }, async () => node.samples());

  app.get('/api/v1/node/policy', { schema: { summary: "The owner's mode and user policy", tags: ['node'], response: { 200: Policy, '4xx': Type.Ref('Problem') } } },
    async () => node.policy.get());

  app.put('/api/v1/node/policy', {
    schema: { summary: "Set the owner's mode and user policy; it travels in this gateway's tags", tags: ['node'], body: Policy, response: { 200: Policy, '4xx': Type.Ref('Problem') } },
  }, async (req) => node.policy.set(req.body));

  app.get('/api/v1/node/bandwidth', {
    schema: { summary: 'The bandwidth the owner gives, Mbit/s each way', tags: ['node'], response: { 200: BandwidthContribution, '4xx': Type.Ref('Problem') } },
  }, async () => bandwidthOf(node.contribution()));

  app.put('/api/v1/node/bandwidth', {
    schema: {
      summary: 'Set the bandwidth the owner gives (null: that direction is not shaped); the shaper follows within seconds',
      tags: ['node'], body: BandwidthContribution, response: { 200: BandwidthContribution, '4xx': Type.Ref('Problem') },
    },
  }, async (req) => {
    const { upMbit, downMbit } = req.body as BandwidthContribution;
    const given: BandwidthGiven = { ...(upMbit === null ? {} : { upMbit }), ...(downMbit === null ? {} : { downMbit }) };
    validateBandwidth(given);
    await node.setBandwidth(given);
    return bandwidthOf(node.contribution());
  });
}
