// A cloud user's requests, signed with their key as RFC 9421 HTTP Message
// Signatures: the method, path, query and authority are covered, with a
// creation time, a nonce and the user's OpenSSH public key as the key id.
// The gateway has no user accounts: a signature that verifies against the
// key it names makes the caller that user, and that user sees their own
// slices. The owner keeps the bearer token for everything else.
// Must never: accept a signature without a creation time within the skew
// window, a nonce, or one it has seen; or more than one signature at once.

import { verify as verifyEd25519 } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { HearthError } from '../model/errors.js';
import { parseUserPublicKey, type UserPublicKey } from '../cloud/user-key.js';
import { USER_SIGNED_FIELDS } from '../cloud/signed-request.js';
import { DEFAULT_SKEW_SEC, EMPTY_REPLAY_WINDOW, admitOnce, type ReplayWindow } from '../cloud/signed-document.js';

export interface SignedRequest {
  method: string;
  /** The absolute URL the client asked for (scheme, Host header, path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface UserVerifier {
  /** The user's id (SHA256:…), or a HearthError: unauthorized for a missing or bad signature, replayed_document for a nonce seen before. */
  verify(req: SignedRequest, nowSec: number): Promise<string>;
}

export function createUserVerifier(skewSec = DEFAULT_SKEW_SEC): UserVerifier {
  let seen: ReplayWindow = EMPTY_REPLAY_WINDOW;
  const refuse = (detail: string): HearthError => new HearthError('unauthorized', detail);

  return {
    async verify(req, nowSec) {
      const input = req.headers['signature-input'];
      if (typeof input !== 'string' || typeof req.headers['signature'] !== 'string') {
        throw refuse('sign the request with your user key (RFC 9421: Signature-Input and Signature), or send the owner token');
      }
      let user: UserPublicKey | undefined;
      let params: Record<string, unknown> = {};
      let signatures = 0;
      let ok: boolean | null;
      try {
        ok = await httpbis.verifyMessage({
          requiredFields: [...USER_SIGNED_FIELDS],
          requiredParams: ['created', 'nonce', 'keyid'],
          // The library subtracts the tolerance from `created` before comparing its age with
          // maxAge (against its own Date.now()): maxAge = skewSec would refuse a signature one
          // second old. Twice the skew allows exactly skewSec of age; the check below holds it to nowSec.
          tolerance: skewSec,
          notAfter: nowSec,
          maxAge: 2 * skewSec,
          keyLookup: async (p) => {
            signatures++;
            params = p;
            user = parseUserPublicKey(String(p.keyid ?? ''));
            const key = user.key;
            return { id: user.ssh, algs: ['ed25519'], verify: async (data, sig) => verifyEd25519(null, data, key, sig) };
          },
        }, { method: req.method, url: req.url, headers: Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string | string[]] => e[1] !== undefined)) });
      } catch (err) {
        throw refuse(`the request signature was refused: ${(err as Error).message}`);
      }
      if (signatures !== 1) throw refuse('send exactly one signature');
      if (ok !== true || user === undefined) throw refuse('the request signature does not verify');
      const created = params['created'] instanceof Date ? Math.floor(params['created'].getTime() / 1000) : Number.NaN;
      const nonce = String(params['nonce']);
      if (!Number.isFinite(created) || nonce.length < 16 || nonce.length > 64) throw refuse('the signature needs a created time and a nonce of 16-64 characters');
      if (Math.abs(nowSec - created) > skewSec) throw refuse(`the signature was created ${Math.abs(nowSec - created)} s ${created <= nowSec ? 'ago' : 'ahead'}; at most ${skewSec} s either way`);
      const admitted = admitOnce(seen, { userId: user.id, doc: { nonce, at: created } }, nowSec, skewSec);
      seen = admitted.window;
      if (!admitted.fresh) throw new HearthError('replayed_document', 'this signed request was already used');
      return user.id;
    },
  };
}
