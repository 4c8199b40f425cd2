// A gateway's id: the SHA-256 of its certificate's DER encoding, lower-case
// hex without colons. One definition for the identity that makes it, the
// gossip that carries it and the peer layer that checks it. Pure.

import { createHash } from 'node:crypto';

export function fingerprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
