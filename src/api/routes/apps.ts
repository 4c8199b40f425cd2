// /api/v1/apps: the app recipes this gateway ships, for a user (or the
// portal) to deploy. Deploying is creating a slice whose signed spec holds
// the recipe (POST /api/v1/slices), so there is no deploy route here.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { recipeSize, type AppRecipe } from '../../model/app.js';

/** Routes a user may call with a signed request: the recipes are what users deploy, so they read them without the owner token. */
export const APP_USER_ROUTES: ReadonlySet<string> = new Set(['GET /api/v1/apps', 'GET /api/v1/apps/:name']);

export interface AppsApi {
  list(): AppRecipe[];
  get(name: string): AppRecipe;
}

const Summary = Type.Object({
  name: Type.String(),
  description: Type.String(),
  packages: Type.Array(Type.String()),
  slivers: Type.Integer({ description: 'slivers the recipe asks, before scaling' }),
  roles: Type.Array(Type.Object({ name: Type.String(), slivers: Type.Integer(), scalable: Type.Boolean(), services: Type.Array(Type.String()) })),
});

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

export function registerAppRoutes(untyped: FastifyInstance, apps: AppsApi): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['apps'];
  app.get('/api/v1/apps', { schema: { summary: 'The app recipes this gateway ships', tags, response: { 200: Type.Object({ items: Type.Array(Summary) }), ...errors } } },
    async () => ({
      items: apps.list().map((r) => ({
        name: r.name, description: r.description, packages: r.packages, slivers: recipeSize(r),
        roles: r.roles.map((x) => ({ name: x.name, slivers: x.slivers, scalable: x.scalable, services: x.services.map((s) => `${s.name} (${s.type})`) })),
      })),
    }));
  app.get('/api/v1/apps/:name', {
    schema: { summary: 'One shipped recipe, whole', tags, params: Type.Object({ name: Type.String({ maxLength: 64 }) }), response: { 200: Type.Unknown(), ...errors } },
  }, async (req) => apps.get(req.params.name));
}
