// The gateway's identity: an ECDSA P-256 key pair and a self-signed X.509
// certificate kept in the data dir (node.key, node.crt). The gateway's id is
// the SHA-256 fingerprint of the certificate's DER; it travels in the Serf
// tags and is what peers pin when they talk mutual TLS.
// Must never: overwrite an existing key (that would silently change the
// gateway's id), write the key readable by anyone but its owner, or log it.

import { createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { HearthError } from '../model/errors.js';
import { fingerprintOfDer } from '../model/fingerprint.js';

export interface Identity {
  /** Certificate fingerprint: SHA-256 of the DER, 64 lower-case hex digits. */
  id: string;
  /** The first 16 hex digits of the id, for display only (never for trust decisions). */
  shortId: string;
  certPem: string;
  keyPem: string;
}

export interface LoadIdentityOptions {
  /** The gateway name, written as the certificate's CN. */
  commonName: string;
  signal?: AbortSignal;
}

export const KEY_FILE = 'node.key';
export const CERT_FILE = 'node.crt';

const SHORT_ID_LENGTH = 16;
const VALIDITY_YEARS = 10;
// Gateways' clocks drift; a certificate dated in a peer's future would be
// rejected by strict TLS stacks, so it is back-dated by a day.
const BACKDATE_MS = 24 * 60 * 60 * 1000;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
// Passed explicitly rather than set as the library's global provider, so loading
// an identity changes no process-wide state.
const crypto = webcrypto;

export { fingerprintOfDer };

/** Fingerprint of a PEM certificate; throws if the PEM is not a certificate. */
export function fingerprintOfPem(pem: string): string {
  return fingerprintOfDer(new X509Certificate(pem).raw);
}

export function shortIdOf(id: string): string {
  return id.slice(0, SHORT_ID_LENGTH);
}

/**
 * Loads the identity from `dir`, creating the key and certificate on first
 * start. A key without a certificate (a crash between the two writes) gets a
 * fresh certificate: that id was never published, so nothing depends on it.
 */
export async function loadOrCreateIdentity(dir: string, opts: LoadIdentityOptions): Promise<Identity> {
  const { signal } = opts;
  signal?.throwIfAborted();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);

  let keyPem = await readIfExists(keyPath, signal);
  let certPem = await readIfExists(certPath, signal);
  if (keyPem === undefined && certPem !== undefined) {
    throw new HearthError('identity_corrupt', `identity key ${keyPath} is missing but ${certPath} exists; restore the key or remove both to start as a new gateway`);
  }
  // Both files are replaced whole and flushed: a truncated key after a power
  // cut (home gateways get unplugged) would read as a corrupt identity.
  const aborts = signal === undefined ? {} : { signal };
  if (keyPem === undefined) {
    keyPem = await generateKeyPem(signal);
    await writeFileAtomic(keyPath, keyPem, { mode: 0o600, ...aborts });
  } else {
    await tightenKeyMode(keyPath);
  }
  const key = parseKey(keyPem, keyPath);
  if (certPem === undefined) {
    certPem = await createCertificatePem(key, opts.commonName, signal);
    await writeFileAtomic(certPath, certPem, { mode: 0o644, ...aborts });
  }
  const cert = parseCertificate(certPem, certPath);
  if (!cert.checkPrivateKey(key)) {
    throw new HearthError('identity_corrupt', `identity certificate ${certPath} does not belong to the key ${keyPath}`);
  }
  const id = fingerprintOfDer(cert.raw);
  return { id, shortId: shortIdOf(id), certPem, keyPem };
}

async function readIfExists(path: string, signal: AbortSignal | undefined): Promise<string | undefined> {
  try {
    return await readFile(path, signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

// A key written by an older tool or copied by hand may be world-readable;
// the key is the gateway's whole identity, so it is narrowed rather than used as is.
async function tightenKeyMode(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) await chmod(path, 0o600);
}

async function generateKeyPem(signal: AbortSignal | undefined): Promise<string> {
  const pair = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  signal?.throwIfAborted();
  return KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function parseKey(pem: string, path: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('not an ECDSA P-256 key');
    }
    return key;
  } catch (err) {
    throw new HearthError('identity_corrupt', `identity key ${path} is corrupt or not an ECDSA P-256 private key`, {}, { cause: err });
  }
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new HearthError('identity_corrupt', `identity certificate ${path} is corrupt`, {}, { cause: err });
  }
}

async function createCertificatePem(key: KeyObject, commonName: string, signal: AbortSignal | undefined): Promise<string> {
  // Loaded only to make a certificate, once in a gateway's life: the library
  // costs about 20 MB of resident memory that a running agent need not carry.
  const x509: typeof X509 = await import('@peculiar/x509');
  const keys: webcrypto.CryptoKeyPair = {
    privateKey: await crypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), KEY_ALGORITHM, true, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), KEY_ALGORITHM, true, ['verify']),
  };
  const now = Date.now();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ];
  // Peers pin the fingerprint and ignore names, but tools such as openssl and
  // curl show the SAN; it is only added when the name is a valid DNS label.
  if (DNS_LABEL.test(commonName)) {
    extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }]));
  }
  // The top bit is cleared because a certificate serial must be a positive INTEGER.
  const serial = randomBytes(16);
  serial.writeUInt8(serial.readUInt8(0) & 0x7f, 0);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: [{ CN: [commonName] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions,
    },
    crypto,
  );
  signal?.throwIfAborted();
  return cert.toString('pem') + '\n';
}
