// Owner authentication: a bearer token compared in constant time with the
// token kept in <data dir>/owner.token (mode 0600).

import { timingSafeEqual, createHash } from 'node:crypto';
import { HearthError } from '../model/errors.js';

export function checkOwnerToken(header: string | undefined, ownerToken: string): void {
  if (header === undefined || header === '') {
    throw new HearthError('unauthorized', 'send the owner token as "Authorization: Bearer <token>" (see <data dir>/owner.token)');
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const given = createHash('sha256').update(match?.[1] ?? '').digest();
  const expected = createHash('sha256').update(ownerToken).digest();
  if (match === null || !timingSafeEqual(given, expected)) {
    throw new HearthError('unauthorized', 'the owner token is not valid');
  }
}
