// What the peer layer needs to know about trust, as narrow interfaces the
// overlay implements from the gossiped Serf tags. The peer layer pins
// certificate fingerprints; it never looks at CA chains, names or validity.
// Must never: import the overlay, or decide trust from anything but a
// fingerprint that the injected interfaces vouch for.

/** Server side: who is calling. */
export interface PeerTrust {
  /** The member name whose gossiped fingerprint equals this one and is not revoked, or undefined. */
  memberByFingerprint(fp: string): string | undefined;
}

/** Client side: whom we expect to answer. */
export interface PeerPins {
  /** The gossiped fingerprint of a member, or undefined for an unknown or revoked member. */
  fingerprintOf(member: string): string | undefined;
}

/** This gateway's TLS credentials; the overlay's `Identity` has this shape. */
export interface PeerCredentials {
  id: string;
  certPem: string;
  keyPem: string;
}

/** The certificate's fingerprint as gossiped: see model/fingerprint.ts. */
export { fingerprintOfDer as fingerprintOfCertificate } from '../model/fingerprint.js';
