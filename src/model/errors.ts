// The error catalog: every error hearth reports to a user has one stable code
// here, with its HTTP status and a title. API responses, CLI messages and the
// docs (docs/errors.md, kept in sync by a test) all come from this table.
// Must never: grow a code anywhere else, or change a code's meaning.

export const ERROR_CATALOG = {
  // request shape
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_request: { status: 400, title: 'The request does not match the schema' },
  invalid_name: { status: 400, title: 'The name is not allowed' },
  invalid_resources: { status: 400, title: 'The requested resources are not allowed' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  malformed_request: { status: 400, title: 'The request is not valid HTTP' },
  uri_too_long: { status: 414, title: 'The request path is too long' },
  headers_too_large: { status: 431, title: 'The request headers are too large' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  upgrade_required: { status: 426, title: 'This route is a WebSocket' },
  // auth
  unauthorized: { status: 401, title: 'A valid owner token is required' },
  forbidden: { status: 403, title: 'This caller may not do that' },
  // resources
  not_found: { status: 404, title: 'No such resource' },
  route_not_found: { status: 404, title: 'No such route' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  sliver_not_found: { status: 404, title: 'No such sliver' },
  name_taken: { status: 409, title: 'The name is already in use' },
  subnet_taken: { status: 409, title: 'The subnet overlaps one already in use' },
  invalid_state: { status: 409, title: 'The sliver is not in a state that allows this' },
  port_taken: { status: 409, title: 'The host port is already forwarded' },
  file_exists: { status: 409, title: 'The file already exists' },
  insufficient_resources: { status: 409, title: 'The gateway cannot fit this request' },
  malformed_document: { status: 400, title: 'The signed document is not well formed' },
  invalid_signature: { status: 401, title: 'The signature does not verify' },
  stale_document: { status: 401, title: 'The document was signed too long ago or in the future' },
  replayed_document: { status: 409, title: 'The document was already used' },
  slice_not_found: { status: 404, title: 'No such slice' },
  slice_exists: { status: 409, title: 'The user already has a slice of that name' },
  no_placement: { status: 409, title: 'The community cannot place the slice' },
  lease_not_found: { status: 409, title: 'The reservation lapsed or never existed' },
  not_accepting: { status: 409, title: 'The gateway takes no new slivers' },
  quota_exceeded: { status: 409, title: 'The user has as many slivers here as the owner allows' },
  address_pool_exhausted: { status: 409, title: 'No free address in the sliver subnet' },
  unknown_template: { status: 400, title: 'Unknown template' },
  invalid_packages: { status: 400, title: 'The package list is not allowed' },
  invalid_services: { status: 400, title: 'The service declarations are not allowed' },
  invalid_recipe: { status: 400, title: 'The app recipe is not valid' },
  image_not_found: { status: 404, title: 'No such image' },
  recipe_not_found: { status: 404, title: 'No such app recipe' },
  service_not_found: { status: 404, title: 'No such service in the directory' },
  not_a_stream: { status: 403, title: 'The gateway relays only hls services' },
  image_in_use: { status: 409, title: 'The image is in use by a sliver' },
  not_in_community: { status: 409, title: 'This gateway is not in a community' },
  already_in_community: { status: 409, title: 'This gateway is already in a community' },
  gateway_revoked: { status: 403, title: 'This gateway was revoked by its community' },
  node_not_found: { status: 404, title: 'No such member of the community' },
  join_failed: { status: 502, title: 'No member of the community could be reached' },
  invalid_invite: { status: 400, title: 'The invite token is not valid' },
  invite_expired: { status: 400, title: 'The invite token has expired' },
  // operations
  exec_failed: { status: 502, title: 'The command could not be run in the sliver' },
  exec_timeout: { status: 504, title: 'The command did not finish in time' },
  upstream_unreachable: { status: 502, title: 'The service could not be reached' },
  upstream_timeout: { status: 504, title: 'The service did not answer in time' },
  upstream_too_large: { status: 502, title: 'The service answered more than the gateway relays' },
  proxy_busy: { status: 503, title: 'The gateway relays as many requests as it may' },
  driver_error: { status: 500, title: 'The container driver failed' },
  image_build_failed: { status: 500, title: 'The image could not be built' },
  network_error: { status: 500, title: 'Sliver networking failed' },
  shutting_down: { status: 503, title: 'The gateway is shutting down' },
  overlay_unavailable: { status: 503, title: 'The gossip agent (Serf) is not reachable' },
  overlay_rejected: { status: 502, title: 'The gossip agent (Serf) refused the request' },
  identity_corrupt: { status: 500, title: 'The gateway identity files are corrupt' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  [extra: string]: unknown;
}

/** A fault of this gateway or of the caller's request, reported with a catalog code. */
export class HearthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail?: string, extra: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(detail ?? ERROR_CATALOG[code].title, options);
    this.name = 'HearthError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.extra = extra;
  }

  toProblem(instance?: string): ProblemDetails {
    const problem: ProblemDetails = {
      ...this.extra,
      type: `https://hearth.community/errors/${this.code}`,
      title: ERROR_CATALOG[this.code].title,
      status: this.status,
      code: this.code,
      detail: this.message,
    };
    if (instance !== undefined) problem['instance'] = instance;
    return problem;
  }
}

/** A fault reported by another gateway (its problem document), kept apart from local faults. */
export class PeerError extends Error {
  readonly peer: string;
  readonly problem: ProblemDetails | undefined;

  constructor(peer: string, message: string, problem?: ProblemDetails, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PeerError';
    this.peer = peer;
    this.problem = problem;
  }
}

/**
 * A peer that did not answer within the caller's time: unlike a refused
 * connection, the request may have reached it and done its work, and only
 * the answer came too late.
 */
export class PeerTimeout extends PeerError {
  constructor(peer: string, message: string, options?: ErrorOptions) {
    super(peer, message, undefined, options);
    this.name = 'PeerTimeout';
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}
