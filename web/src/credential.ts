// Who the portal acts as: the gateway's owner (the token), or a community
// user (their key, held by WebCrypto, never stored: a reload asks again).
// Requests and sockets are authorised the same way the CLI does it.

import { signRequest, type UserKey } from './signing';

export type Credential = { kind: 'owner'; token: string } | { kind: 'user'; key: UserKey };

/** The headers that authorise `method` on `url` (absolute). */
export async function authHeaders(c: Credential, method: string, url: string): Promise<Record<string, string>> {
  return c.kind === 'owner' ? { authorization: `Bearer ${c.token}` } : signRequest(c.key, method, url);
}

/**
 * A socket's first message: the token, or the user's signature of GET on
 * the socket's path as the gateway sees it (http://host/path).
 */
export async function socketAuth(c: Credential, path: string): Promise<Record<string, unknown>> {
  if (c.kind === 'owner') return { type: 'auth', token: c.token };
  const headers = await signRequest(c.key, 'GET', `http://${location.host}${path}`);
  return { type: 'auth', signature: { input: headers['Signature-Input'], signature: headers['Signature'] } };
}
