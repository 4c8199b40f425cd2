// TypeBox schemas of the HTTP API. They validate requests (unknown fields are
// refused, types are never coerced) and are the source of /api/openapi.json;
// their Static types are the wire shapes, the one definition the routes
// build and the CLI reads (it may import these types, nothing else of api/).

import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { MAX_IMAGE_PACKAGES } from '../model/image.js';
import { OBSERVED_STATES } from '../model/sliver.js';

// A reply's schema is also how fast-json-stringify writes it. A type list
// (`type: ['string', 'null']`) and an enum it writes by itself; for anyOf it
// has ajv compile a validator of each branch when the route sends its first
// reply, in the agents' --lite-mode interpreter: 30-60 ms of CPU, which a
// joiner's reply to `POST /api/v1/community/join` spent just as it should
// read its members (on a saturated machine, seconds; BENCHMARKS.md, session
// 41). So replies say "or null" and "one of" with these two, never anyOf.

/** `t` or null, as a type list: `t` must have a single `type` (a string, a number, an object, an array). */
export function Nullable<T extends TSchema>(t: T): TUnsafe<Static<T> | null> {
  if (typeof t['type'] !== 'string') throw new TypeError('Nullable needs a schema with one type');
  return Type.Unsafe<Static<T> | null>({ ...t, type: [t['type'], 'null'] });
}

/** One of these strings, as an enum. */
export function OneOf<const V extends readonly string[]>(values: V, options: { description?: string } = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, type: 'string', enum: [...values] });
}

export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  detail: Type.String(),
  instance: Type.Optional(Type.String()),
}, { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details with a stable `code`' });

export const Resources = Type.Object({
  cpu: Type.Number({ description: 'cores, fractions allowed' }),
  memoryMb: Type.Integer(),
  diskMb: Type.Integer(),
  pids: Type.Integer(),
  upMbit: Type.Number({ description: 'upload rate guaranteed, Mbit/s; 0 for a fair share of what is left' }),
  downMbit: Type.Number({ description: 'download rate guaranteed, Mbit/s; 0 for a fair share of what is left' }),
}, { additionalProperties: false });

export const ResourcesRequest = Type.Partial(Resources, { additionalProperties: false });

export const CreateSliverBody = Type.Object({
  name: Type.String({ description: '1-63 lower-case letters, digits or inner hyphens' }),
  template: Type.Optional(Type.String({ description: 'busybox (default) or debian' })),
  // Names are checked by the model (invalid_packages, with its reason); the schema only bounds sizes.
  packages: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), {
    maxItems: 1000, description: `Debian packages beyond the base image (debian only), at most ${MAX_IMAGE_PACKAGES}; the image of that set is built once per machine`,
  })),
  resources: Type.Optional(ResourcesRequest),
  slice: Type.Optional(Type.String({ description: 'slivers of one slice may reach each other; defaults to the sliver name' })),
  start: Type.Optional(Type.Boolean({ description: 'start once created (default true)' })),
  services: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 64, description: 'services the sliver offers: {name, type, port, protocol?, hostPort?, check?}' })),
}, { additionalProperties: false });
export type CreateSliverBody = Static<typeof CreateSliverBody>;

export const SliverState = OneOf(OBSERVED_STATES);

export const Sliver = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slice: Type.String(),
  template: Type.String(),
  packages: Type.Array(Type.String(), { description: 'Debian packages beyond the base image; empty for the base image' }),
  resources: Resources,
  desired: OneOf(['running', 'stopped', 'gone']),
  observed: SliverState,
  reason: Nullable(Type.String()),
  address: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
}, { $id: 'Sliver' });
/** A sliver as the API shows it. */
export type Sliver = Static<typeof Sliver>;

export const SliverList = Type.Object({ items: Type.Array(Type.Ref(Sliver)) });

export const SliverParams = Type.Object({ id: Type.String({ maxLength: 512 }) });

export const ExecBody = Type.Object({
  command: Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 1024 }),
  stdin: Type.Optional(Type.String({ maxLength: 512 * 1024 })),
  timeoutSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
}, { additionalProperties: false });

export const ExecResult = Type.Object({
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
  truncated: Type.Boolean(),
});

/** One direction of a sliver's shaped traffic, counted by the gateway's shaper since the agent started. */
const ShapedCounters = Type.Object({ bytes: Type.Number(), drops: Type.Number() });

export const Stats = Type.Object({
  cpuNs: Type.Number(), memoryBytes: Type.Number(), memoryLimitBytes: Type.Number(),
  pids: Type.Number(), rxBytes: Type.Number(), txBytes: Type.Number(),
  diskBytes: Type.Number({ description: "bytes in use on the sliver's own filesystem, as df inside shows it" }),
  diskLimitBytes: Type.Number({ description: 'that filesystem\'s size as df shows it (diskMb less ext4 metadata)' }),
  shaped: Type.Optional(Type.Object({
    up: Type.Optional(ShapedCounters), down: Type.Optional(ShapedCounters),
  }, { description: 'bytes sent (up) and received (down) through the shaper, and its drops; absent where the owner gives no bandwidth' })),
});
/** A running sliver's resource use as the API shows it. */
export type SliverStats = Static<typeof Stats>;

export const Forward = Type.Object({
  proto: OneOf(['tcp', 'udp']),
  hostPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
}, { additionalProperties: false });
export type Forward = Static<typeof Forward>;

export const ForwardParams = Type.Object({
  id: Type.String({ maxLength: 512 }),
  proto: OneOf(['tcp', 'udp']),
  hostPort: Type.String({ pattern: '^[0-9]{1,5}$' }),
});

/** model/resources.ts's ResourceVector on the wire: contributed, used, free. */
export const ResourceVector = Type.Object({
  cpu: Type.Number(), memoryMb: Type.Number(), diskMb: Type.Number(), slivers: Type.Number(),
});

/** The bandwidth the owner gives, Mbit/s each way; null where not given (that direction is not shaped). */
export const BandwidthContribution = Type.Object({
  upMbit: Nullable(Type.Number()),
  downMbit: Nullable(Type.Number()),
}, { additionalProperties: false });
export type BandwidthContribution = Static<typeof BandwidthContribution>;

export const NodeInfo = Type.Object({
  name: Type.String(),
  id: Type.String(),
  version: Type.String(),
  virt: Type.Object({
    driver: OneOf(['lxc', 'none'], { description: 'none: containers are simulated, slivers admitted and recorded but nothing runs' }),
    note: Nullable(Type.String()),
  }),
  inventory: Type.Object({
    cpu: Type.Number(), memoryMb: Type.Number(), memoryFreeMb: Type.Number(), diskMb: Type.Number(), diskFreeMb: Type.Number(),
  }),
  contribution: ResourceVector,
  usage: ResourceVector,
  free: ResourceVector,
  bandwidth: Type.Object({
    contributed: BandwidthContribution,
    guaranteed: Type.Object({ upMbit: Type.Number(), downMbit: Type.Number() }, { description: "the sum of the slivers' guarantees" }),
  }),
  slivers: Type.Record(Type.String(), Type.Integer()),
  community: Nullable(Type.Object({ name: Type.String(), state: Type.String(), reason: Nullable(Type.String()), warning: Nullable(Type.String()) })),
});

export const EventsQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
  sliver: Type.Optional(Type.String({ maxLength: 512 })),
}, { additionalProperties: false });

export const EventList = Type.Object({
  items: Type.Array(Type.Object({
    seq: Type.Integer(), at: Type.String(), sliverId: Nullable(Type.String()), type: Type.String(),
    detail: Type.Record(Type.String(), Type.Unknown()),
  })),
});
