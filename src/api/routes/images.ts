// /api/v1/images: the machine's base images (owner only): list, build, remove.
// A build takes minutes (debootstrap), so POST answers 202 at once and the
// caller follows it in GET, whose `progress` is the build's last stage line.
// Handlers only translate HTTP to the image store and back.

import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MAX_IMAGE_PACKAGES } from '../../model/image.js';
import { TEMPLATES, type TemplateName } from '../../model/sliver.js';
import { HearthError } from '../../model/errors.js';
import type { ImageInfo, ImageStore } from '../../virt/images.js';
import { Nullable, OneOf } from '../schemas.js';

export type ImagesApi = Pick<ImageStore, 'nameOf' | 'ensure' | 'list' | 'remove'>;

const NullableString = Nullable(Type.String());

export const Image = Type.Object({
  name: Type.String(),
  template: Type.String(),
  state: OneOf(['ready', 'building', 'failed']),
  packages: Type.Array(Type.String()),
  suite: NullableString,
  arch: NullableString,
  builtAt: NullableString,
  buildMs: Nullable(Type.Integer()),
  usedBy: Type.Integer({ description: 'slivers of any gateway on this machine that are snapshots of it' }),
  progress: NullableString,
  error: NullableString,
});

// Names are checked by the store (their own codes); the schema only bounds sizes.
const BuildBody = Type.Object({
  template: Type.String({ maxLength: 32, description: TEMPLATES.join(' or ') }),
  packages: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 1000, description: `Debian packages beyond the base (debian only), at most ${MAX_IMAGE_PACKAGES}` })),
}, { additionalProperties: false });

const ImageParams = Type.Object({ name: Type.String({ maxLength: 100 }) });

const problem = Type.Ref('Problem');
const errors = { '4xx': problem, '5xx': problem };

export function registerImageRoutes(untyped: FastifyInstance, images: ImagesApi): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['images'];

  app.get('/api/v1/images', { schema: { summary: "This machine's base images, and this gateway's builds under way or failed", tags, response: { 200: Type.Object({ items: Type.Array(Image) }), ...errors } } },
    async () => ({ items: await images.list() }));

  app.post('/api/v1/images', {
    schema: { summary: 'Build an image (202: building; 200: it exists)', tags, body: BuildBody, response: { 200: Image, 202: Image, ...errors } },
  }, async (req, reply) => {
    const body: Static<typeof BuildBody> = req.body;
    if (!(TEMPLATES as readonly string[]).includes(body.template)) {
      throw new HearthError('unknown_template', `unknown template ${JSON.stringify(body.template)}; known: ${TEMPLATES.join(', ')}`, { field: 'template' });
    }
    const template = body.template as TemplateName;
    const name = images.nameOf(template, body.packages); // refuses bad packages before anything starts
    const find = async (): Promise<ImageInfo | undefined> => (await images.list()).find((i) => i.name === name);
    const before = await find();
    if (before?.state === 'ready') return reply.code(200).send(before);
    // The build outlives the request; its outcome shows in GET (and the agent log).
    images.ensure(template, body.packages === undefined ? {} : { packages: body.packages }).catch(() => undefined);
    const started: ImageInfo = before ?? {
      name, template, state: 'building', packages: [], suite: null, arch: null, builtAt: null, buildMs: null, usedBy: 0, progress: null, error: null,
    };
    return reply.code(202).send((await find()) ?? started);
  });

  app.delete('/api/v1/images/:name', { schema: { summary: 'Remove an image no sliver uses', tags, params: ImageParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await images.remove(req.params.name);
      return reply.code(204).send(null);
    });
}
