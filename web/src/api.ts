// The portal's HTTP client: every call carries the owner token or the user's
// signature, and every refusal becomes an ApiError with the problem's code,
// detail and field.
// A 401 anywhere also tells the app, which returns to the sign-in page.

import type { Problem } from './types';
import { authHeaders, type Credential } from './credential';

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** The request field the problem concerns, when the API names one. */
  readonly field: string | undefined;

  constructor(problem: Pick<Problem, 'code' | 'detail' | 'status'> & { field?: unknown }) {
    super(problem.detail);
    this.name = 'ApiError';
    this.code = problem.code;
    this.status = problem.status;
    this.field = typeof problem.field === 'string' ? problem.field : undefined;
  }
}

/** What to tell the user of a failure: the problem's detail, or the error's message. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export interface Api {
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

export interface ApiInit {
  credential: Credential;
  /** Called on any 401 before the error is thrown. */
  onUnauthorized?: (error: ApiError) => void;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const problem = JSON.parse(text) as Partial<Problem>;
    if (typeof problem.code === 'string') {
      return new ApiError({ ...problem, code: problem.code, status: res.status, detail: problem.detail ?? problem.title ?? `HTTP ${res.status}` });
    }
  } catch {
    // not a problem document: reported below with the status line
  }
  return new ApiError({ code: 'http_error', status: res.status, detail: `HTTP ${res.status} ${res.statusText}`.trim() });
}

export function createApi({ credential, onUnauthorized }: ApiInit): Api {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json', ...(await authHeaders(credential, method, new URL(path, location.href).href)) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch {
      throw new ApiError({ code: 'unreachable', status: 0, detail: 'the gateway did not answer; is its agent running?' });
    }
    if (!res.ok) {
      const error = await errorOf(res);
      if (res.status === 401) onUnauthorized?.(error);
      throw error;
    }
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  return {
    get: (path) => call('GET', path),
    send: (method, path, body) => call(method, path, body),
  };
}
