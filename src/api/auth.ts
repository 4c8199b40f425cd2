// Owner authentication: a bearer token compared in constant time with the
// token kept in <data dir>/owner.token (mode 0600). The owner can rotate it
// (`hearth node token rotate`): the old one stops working at once, for
// requests and for the portal's open sockets alike.

import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { HearthError } from '../model/errors.js';

/** The owner token as the running agent holds it. */
export interface OwnerToken {
  current(): string;
  /** Makes a new token, kept by `persist` before it replaces the old one; resolves with it. */
  rotate(): Promise<string>;
  /** Called after every rotation (the portal closes the sockets the old token opened). */
  onRotate(listener: () => void): void;
}

export function newOwnerToken(): string {
  return randomBytes(32).toString('base64url');
}

export function createOwnerToken(initial: string, persist: (token: string) => Promise<void>): OwnerToken {
  let token = initial;
  const listeners: (() => void)[] = [];
  return {
    current: () => token,
    async rotate() {
      const next = newOwnerToken();
      // Kept first: an agent that dies here restarts with the token the file holds.
      await persist(next);
      token = next;
      for (const listener of listeners) listener();
      return next;
    },
    onRotate(listener) {
      listeners.push(listener);
    },
  };
}

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
