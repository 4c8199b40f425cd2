// Every reply's schema is one fast-json-stringify writes by itself: no
// anyOf, oneOf, allOf, not or if anywhere in it. For those it has ajv
// compile a validator when the route sends its first reply, 30-60 ms of an
// agent's CPU at the worst moment (the comment above schemas.ts's Nullable
// says why). Read from the app's own OpenAPI document, so a route added
// later is checked too.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Type } from '@sinclair/typebox';
import { Nullable, OneOf } from '../../../src/api/schemas.js';
import { apiHarness, type ApiHarness } from '../../support/api-harness.js';

let h: ApiHarness;
before(async () => {
  h = await apiHarness();
});
after(async () => h.close());

const COMPILED = new Set(['anyOf', 'oneOf', 'allOf', 'not', 'if']);

/** Where in `schema` a keyword sits that fast-json-stringify hands to ajv. */
function compiledAt(schema: unknown, path: string): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  if (Array.isArray(schema)) return schema.flatMap((s, i) => compiledAt(s, `${path}[${i}]`));
  return Object.entries(schema).flatMap(([k, v]) => (COMPILED.has(k) ? [`${path}.${k}`] : compiledAt(v, `${path}.${k}`)));
}

test("no route's reply schema needs ajv to be written", async () => {
  const res = await h.api.inject({ method: 'GET', url: '/api/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json<{ paths: Record<string, Record<string, { responses?: unknown }>>; components?: unknown }>();
  const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, responses: op.responses })));
  assert.ok(routes.length >= 30, `the document lists ${routes.length} routes`);
  const found = routes.flatMap((r) => compiledAt(r.responses, r.at)).concat(compiledAt(doc.components, 'components'));
  assert.deepEqual(found, []);
});

test('Nullable and OneOf replies carry every value, null included', async () => {
  const reply = Type.Object({
    reason: Nullable(Type.String()), rtt: Nullable(Type.Number()), quota: Nullable(Type.Integer()),
    allow: Nullable(Type.Array(Type.String())), community: Nullable(Type.Object({ name: Type.String() })),
    state: OneOf(['joined', 'retrying']),
  });
  const values = [
    { reason: null, rtt: null, quota: null, allow: null, community: null, state: 'joined' },
    { reason: 'a "quoted" one', rtt: 1.5, quota: 3, allow: ['SHA256:x'], community: { name: 'c' }, state: 'retrying' },
  ];
  const app = Fastify();
  app.get('/v/:i', { schema: { response: { 200: reply } } }, async (req) => values[Number((req.params as { i: string }).i)]);
  try {
    for (const [i, value] of values.entries()) assert.deepEqual((await app.inject({ method: 'GET', url: `/v/${i}` })).json(), value);
  } finally {
    await app.close();
  }
  assert.throws(() => Nullable(Type.Unknown()), TypeError);
});
