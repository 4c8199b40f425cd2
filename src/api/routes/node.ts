// GET /api/v1/node: what this gateway has, contributes, and has in use.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Contribution } from '../../host/contribution.js';
import type { Inventory } from '../../host/inventory.js';
import { NodeInfo } from '../schemas.js';
import type { SliverService } from '../../slivers/service.js';

export interface NodeInfoSource {
  name: string;
  id: string;
  version: string;
  inventory: () => Promise<Inventory>;
  contribution: () => Contribution;
  /** The community side in brief; null when not in one. */
  community: () => { name: string; state: string; reason: string | null; warning: string | null } | null;
}

export function registerNodeRoutes(app: FastifyInstance, node: NodeInfoSource, slivers: SliverService): void {
  app.get('/api/v1/node', {
    schema: { summary: 'This gateway: inventory, contribution, usage', tags: ['node'], response: { 200: NodeInfo, '4xx': Type.Ref('Problem') } },
  }, async () => {
    const counts: Record<string, number> = {};
    for (const s of slivers.list()) counts[s.observed] = (counts[s.observed] ?? 0) + 1;
    return {
      name: node.name,
      id: node.id,
      version: node.version,
      inventory: await node.inventory(),
      contribution: node.contribution(),
      usage: slivers.usage(),
      free: slivers.free(),
      slivers: counts,
      community: node.community(),
    };
  });
}
