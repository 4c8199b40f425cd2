// What a user's signed HTTP request (RFC 9421) must cover, shared by the
// CLI that signs and the gateway that verifies. Pure constants.

/** The derived components a user's request signature covers. */
export const USER_SIGNED_FIELDS = ['@method', '@authority', '@path', '@query'] as const;
/** The signature parameters it carries: keyid is the user's OpenSSH public key. */
export const USER_SIGNATURE_PARAMS = ['created', 'expires', 'nonce', 'keyid', 'alg'] as const;
