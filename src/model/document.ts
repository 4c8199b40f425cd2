// The shape of a user's signed document (cloud/signed-document.ts signs and
// verifies it; the portal signs it in the browser). Types only, so the
// portal can share it without Node's crypto.

export interface SignedDocument {
  v: 1;
  /** What the document asks, e.g. "slice.create". */
  kind: string;
  body: unknown;
  /** The signer's public key, one OpenSSH line. */
  user: string;
  /** When it was signed, seconds since the epoch. */
  at: number;
  /** 16 random bytes, base64url: with `user`, makes the document unique. */
  nonce: string;
  /** Ed25519 over the canonical JSON of the other fields, base64url. */
  sig: string;
}
