// The configuration file of a link emulator process: what the testbed writes
// and `linkemu-main` reads.
// Must never: do anything but describe and check the file's shape.

import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { HearthError } from '../model/errors.js';
import { LinkMatrixSchema } from './linkemu-control.js';

const Endpoint = { host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) };

export const LinkEmulatorConfigSchema = Type.Object(
  {
    listen: Type.Object(Endpoint),
    /** Path of the control unix socket. */
    control: Type.String({ minLength: 1 }),
    seed: Type.Integer(),
    queueLimitMs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    links: LinkMatrixSchema,
    gateways: Type.Array(Type.Object({ gateway: Type.Integer({ minimum: 1 }), ...Endpoint })),
  },
  { additionalProperties: false },
);

export type LinkEmulatorConfig = Static<typeof LinkEmulatorConfigSchema>;

export function parseLinkEmulatorConfig(text: string): LinkEmulatorConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HearthError('malformed_json', 'the link emulator configuration is not JSON', {}, { cause: error });
  }
  if (!Value.Check(LinkEmulatorConfigSchema, value)) {
    const first = [...Value.Errors(LinkEmulatorConfigSchema, value)][0];
    throw new HearthError('invalid_request', `bad link emulator configuration at ${first?.path ?? '/'}: ${first?.message ?? 'invalid'}`);
  }
  return value;
}
