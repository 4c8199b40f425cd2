// Signs the CLI's requests with the user key, as RFC 9421 HTTP Message
// Signatures (the fields and parameters api/user-auth.ts requires), so a
// user who is not the gateway's owner can read their own slices.
// Must never: sign with anything but the user's own key.

import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { userKeyOf } from '../cloud/user-key.js';
import { USER_SIGNATURE_PARAMS, USER_SIGNED_FIELDS } from '../cloud/signed-request.js';

export type RequestSigner = (req: { method: string; url: string; headers: Record<string, string> }) => Promise<Record<string, string>>;

export function createRequestSigner(privateKey: KeyObject, validSec = 60): RequestSigner {
  const keyid = userKeyOf(privateKey).ssh;
  return async (req) => {
    const now = Date.now();
    const signed = await httpbis.signMessage({
      key: { id: keyid, alg: 'ed25519', sign: async (data) => sign(null, data, privateKey) },
      fields: [...USER_SIGNED_FIELDS],
      params: [...USER_SIGNATURE_PARAMS],
      paramValues: { created: new Date(now), expires: new Date(now + validSec * 1000), nonce: randomBytes(16).toString('base64url') },
    }, { method: req.method, url: req.url, headers: { ...req.headers } });
    return Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
  };
}
