// The CLI's HTTP client for one gateway's API. Problems come back as
// ApiProblem carrying the server's problem document.

import type { ProblemDetails } from '../model/errors.js';
import type { RequestSigner } from './request-signer.js';

export class ApiProblem extends Error {
  readonly problem: ProblemDetails;
  constructor(problem: ProblemDetails) {
    super(problem.detail);
    this.name = 'ApiProblem';
    this.problem = problem;
  }
}

export interface ApiClientInit {
  baseUrl: string;
  /** The owner token; without it only routes a user's signed document authorizes answer. */
  token?: string | undefined;
  /** Without a token, requests are signed with the user key instead. */
  signer?: RequestSigner | undefined;
}

export interface ApiClient {
  request<T>(method: string, path: string, body?: unknown, opts?: { signal?: AbortSignal }): Promise<T>;
}

export function createApiClient({ baseUrl, token, signer }: ApiClientInit): ApiClient {
  return {
    async request<T>(method: string, path: string, body?: unknown, opts: { signal?: AbortSignal } = {}): Promise<T> {
      let headers: Record<string, string> = { accept: 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const url = new URL(path, baseUrl);
      if (token === undefined && signer !== undefined) headers = await signer({ method, url: url.toString(), headers });
      let res: Response;
      try {
        res = await fetch(url, {
          method, headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new Error(`cannot reach the hearth agent at ${baseUrl} (${cause}); is "hearth agent" running?`);
      }
      const text = await res.text();
      if (!res.ok) {
        let problem: ProblemDetails | undefined;
        try {
          problem = JSON.parse(text) as ProblemDetails;
        } catch {
          // not a problem document; reported below with the raw text
        }
        if (problem?.code !== undefined) throw new ApiProblem(problem);
        throw new Error(`HTTP ${res.status} from ${method} ${path}: ${text.slice(0, 200)}`);
      }
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
  };
}
