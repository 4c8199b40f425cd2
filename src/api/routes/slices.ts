// /api/v1/slices: a user's slices, on any gateway of the community.
// Creating, renewing, resizing and deleting carry the user's signed
// document, which is their whole authority (no owner token needed: the
// document says who asks, and every host checks it again). Listing, showing
// and a slice's events (what this gateway logged of it: its healing history)
// take the owner token (every slice) or a request the user signed (RFC 9421,
// api/user-auth.ts: their own). Handlers translate HTTP to the slice service
// and the store and back.
// Must never: show a user the slice or the events of another user's slice.

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HearthError } from '../../model/errors.js';
import type { SliceView } from '../../model/slice.js';
import type { Store } from '../../store/store.js';
import { EventList, Nullable, OneOf, Resources } from '../schemas.js';

/** What the slice routes need; the agent's slice service provides it. */
export interface SliceApi {
  create(document: unknown): Promise<SliceView>;
  list(): Promise<SliceView[]>;
  get(name: string, user?: string): Promise<SliceView>;
  remove(name: string, document: unknown): Promise<SliceView>;
  renew(name: string, document: unknown): Promise<SliceView>;
  resize(name: string, document: unknown): Promise<SliceView>;
}

/** Routes a user's signed document authorizes, by method and route pattern. */
export const DOCUMENT_ROUTES: ReadonlySet<string> = new Set([
  'POST /api/v1/slices', 'DELETE /api/v1/slices/:name', 'POST /api/v1/slices/:name/renew', 'POST /api/v1/slices/:name/resize',
]);
/** Routes a user may call with a signed request instead of the owner token. */
export const SLICE_USER_ROUTES: ReadonlySet<string> = new Set(['GET /api/v1/slices', 'GET /api/v1/slices/:name', 'GET /api/v1/slices/:name/events']);

/** Where a slice's events come from: this gateway's store. */
export type SliceEventSource = Pick<Store, 'listSliceEvents' | 'sliceUsers'>;

/** The most events one page of GET /api/v1/slices/:name/events holds. */
export const SLICE_EVENTS_MAX = 500;

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

const Document = Type.Object({
  v: Type.Literal(1), kind: Type.String({ maxLength: 64 }), body: Type.Unknown(), user: Type.String({ maxLength: 1024 }),
  at: Type.Integer(), nonce: Type.String({ maxLength: 64 }), sig: Type.String({ maxLength: 128 }),
}, { additionalProperties: false, description: 'a document signed with the user key (hearth user keygen); RFC 8785 canonical JSON + Ed25519' });

const SliceSpecSchema = Type.Object({
  name: Type.String(), slivers: Type.Integer(), template: Type.String(), packages: Type.Array(Type.String()), resources: Resources,
  spread: Type.String(), near: Nullable(Type.String()), sshKeys: Type.Array(Type.String()), lifetimeSec: Type.Integer(),
  services: Type.Array(Type.Unknown(), { description: 'services every sliver offers (an app\'s are its roles\')' }),
  app: Type.Unknown({ description: 'the app recipe the slice runs (docs/apps.md), or null' }),
});

const Slice = Type.Object({
  name: Type.String(),
  user: Type.String({ description: 'the user key id, SHA256:…' }),
  state: OneOf(['running', 'starting', 'degraded', 'deleted']),
  spec: SliceSpecSchema,
  signedAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  version: Type.Integer(),
  slivers: Type.Array(Type.Object({
    index: Type.Integer(), gateway: Nullable(Type.String()), name: Nullable(Type.String()), observed: Type.String(),
    address: Nullable(Type.String()), reason: Nullable(Type.String()),
  })),
  unreachable: Type.Array(Type.String(), { description: 'members that did not answer while the slice was gathered' }),
});

const Params = Type.Object({ name: Type.String({ maxLength: 63 }) });

const SliceEvents = Type.Object({
  slice: Type.String(),
  user: Type.String({ description: 'the user key id, SHA256:…' }),
  items: EventList.properties.items,
  next: Nullable(Type.Integer({ description: 'the `after` of the next page; null when this page is the last' })),
});

/**
 * Whose slice `name` the request means: the one user of that name this
 * gateway logged, else the one the community knows (as GET
 * /api/v1/slices/:name finds it: slice_not_found for a slice of nobody, or
 * of another user than the signer; invalid_request when several users have
 * one and the owner named none).
 */
async function sliceUser(slices: SliceApi, events: SliceEventSource, name: string, asked: string | undefined): Promise<string> {
  const known = events.sliceUsers(name).filter((u) => asked === undefined || u === asked);
  if (known.length > 1) {
    throw new HearthError('invalid_request', `${known.length} users have a slice named ${name}; name the user (?user=SHA256:…)`, { users: known });
  }
  return known[0] ?? (await slices.get(name, asked)).user;
}

export function registerSliceRoutes(untyped: FastifyInstance, slices: SliceApi, events: SliceEventSource): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['slices'];
  const userSigned = [{}];

  app.post('/api/v1/slices', {
    schema: {
      summary: 'Create a slice from a signed slice.create document; the community places it', tags, security: userSigned,
      body: Type.Object({ document: Document }, { additionalProperties: false }), response: { 201: Slice, ...errors },
    },
  }, async (req, reply) => reply.code(201).send(await slices.create(req.body.document)));

  app.get('/api/v1/slices', { schema: { summary: 'Every slice the community hosts, gathered from the hosts', tags, response: { 200: Type.Object({ items: Type.Array(Slice) }), ...errors } } },
    async (req) => ({ items: (await slices.list()).filter((s) => req.user === undefined || s.user === req.user) }));

  app.get('/api/v1/slices/:name', {
    schema: { summary: 'One slice and each of its slivers, gathered from the hosts', tags, params: Params,
      querystring: Type.Object({ user: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false }), response: { 200: Slice, ...errors } },
  }, async (req) => {
    if (req.user !== undefined && req.query.user !== undefined && req.query.user !== req.user) {
      throw new HearthError('forbidden', 'a user sees only their own slices');
    }
    return slices.get(req.params.name, req.user ?? req.query.user);
  });

  app.get('/api/v1/slices/:name/events', {
    schema: {
      summary: "What this gateway logged of a slice, oldest first: its slice events (a sliver hosted, moved by a healing, removed as extra, resized, deleted) and its slivers' own; page with after=next",
      tags, params: Params,
      querystring: Type.Object({
        user: Type.Optional(Type.String({ maxLength: 128 })),
        after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'only events with a greater seq' })),
        limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `1-${SLICE_EVENTS_MAX}, default 100` })),
        type: Type.Optional(Type.String({ pattern: '^[a-z]+(\\.[a-z-]+)+$', maxLength: 64, description: 'only events of this type, e.g. slice.sliver-moved' })),
      }, { additionalProperties: false }),
      response: { 200: SliceEvents, ...errors },
    },
  }, async (req) => {
    const q = req.query;
    if (req.user !== undefined && q.user !== undefined && q.user !== req.user) throw new HearthError('forbidden', 'a user sees only their own slices');
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (limit < 1 || limit > SLICE_EVENTS_MAX) throw new HearthError('invalid_request', `limit is from 1 to ${SLICE_EVENTS_MAX}`, { field: 'limit' });
    const user = await sliceUser(slices, events, req.params.name, req.user ?? q.user);
    const items = events.listSliceEvents({
      user, name: req.params.name, after: q.after === undefined ? 0 : Number(q.after), limit, ...(q.type === undefined ? {} : { type: q.type }),
    });
    return { slice: req.params.name, user, items, next: items.length === limit ? (items[items.length - 1]?.seq ?? null) : null };
  });

  app.post('/api/v1/slices/:name/renew', {
    schema: {
      summary: 'Renew a slice with a signed slice.renew document: it expires lifetimeSec after the renewal was signed', tags, security: userSigned, params: Params,
      body: Type.Object({ document: Document }, { additionalProperties: false }), response: { 200: Slice, ...errors },
    },
  }, async (req) => slices.renew(req.params.name, req.body.document));

  app.post('/api/v1/slices/:name/resize', {
    schema: {
      summary: 'Resize a slice with a signed slice.resize document: new slivers are placed (all or none: no_placement), or those above the new number removed',
      tags, security: userSigned, params: Params,
      body: Type.Object({ document: Document }, { additionalProperties: false }), response: { 200: Slice, ...errors },
    },
  }, async (req) => slices.resize(req.params.name, req.body.document));

  app.delete('/api/v1/slices/:name', {
    schema: {
      summary: 'Delete a slice with a signed slice.delete document; every host removes its slivers', tags, security: userSigned, params: Params,
      body: Type.Object({ document: Document }, { additionalProperties: false }), response: { 202: Slice, ...errors },
    },
  }, async (req, reply) => reply.code(202).send(await slices.remove(req.params.name, req.body.document)));
}
