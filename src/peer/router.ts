// The peer API's routing table: `METHOD /path` (with `:param` segments) to a
// handler that takes the authenticated caller and a parsed JSON body. Pure:
// the server does the HTTP, this only matches.
// Must never: do I/O, or match a route for a caller that was not authenticated
// (the server authenticates before it asks the router).

export type PeerMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface PeerRequest {
  /** The authenticated caller: the member whose gossiped fingerprint its certificate has. */
  member: string;
  fingerprint: string;
  method: PeerMethod;
  path: string;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when the request had none. */
  body: unknown;
  /** Aborted when the caller goes away or the server stops. */
  signal: AbortSignal;
}

export interface PeerResponse {
  /** Defaults to 200, or 204 when there is no body. */
  status?: number;
  body?: unknown;
}

/** Throw a HearthError to answer with its problem document. */
export type PeerHandler = (req: PeerRequest) => Promise<PeerResponse>;

export interface PeerRoute {
  method: PeerMethod;
  /** e.g. "/peer/v1/slivers/:name" */
  path: string;
  handler: PeerHandler;
}

export type RouteMatch =
  | { kind: 'found'; route: PeerRoute; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: PeerMethod[] }
  | { kind: 'not_found' };

export interface PeerRouter {
  match(method: string, path: string): RouteMatch;
}

const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] satisfies PeerMethod[];

export function isPeerMethod(method: string): method is PeerMethod {
  return METHODS.includes(method);
}

interface CompiledRoute {
  route: PeerRoute;
  segments: string[];
}

export function createPeerRouter(routes: readonly PeerRoute[]): PeerRouter {
  const compiled: CompiledRoute[] = [];
  for (const route of routes) {
    if (!route.path.startsWith('/')) throw new Error(`peer route path must start with '/': ${route.path}`);
    const segments = route.path.split('/').slice(1);
    const shape = shapeOf(segments);
    if (compiled.some((c) => c.route.method === route.method && shapeOf(c.segments) === shape)) {
      throw new Error(`duplicate peer route ${route.method} ${route.path}`);
    }
    compiled.push({ route, segments });
  }

  return {
    match(method, path) {
      const parts = path.split('/').slice(1);
      const allow: PeerMethod[] = [];
      for (const candidate of compiled) {
        const params = matchSegments(candidate.segments, parts);
        if (params === undefined) continue;
        if (candidate.route.method === method) return { kind: 'found', route: candidate.route, params };
        allow.push(candidate.route.method);
      }
      return allow.length > 0 ? { kind: 'method_not_allowed', allow } : { kind: 'not_found' };
    },
  };
}

// Two routes clash when they match the same paths, whatever their params are called.
function shapeOf(segments: string[]): string {
  return segments.map((s) => (s.startsWith(':') ? ':' : s)).join('/');
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of pattern.entries()) {
    const part = parts[i] ?? '';
    if (seg.startsWith(':')) {
      const value = decodeSegment(part);
      if (value === undefined || value === '') return undefined;
      params[seg.slice(1)] = value;
    } else if (seg !== part) {
      return undefined;
    }
  }
  return params;
}

function decodeSegment(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
