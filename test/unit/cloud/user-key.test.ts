import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import sshpk from 'sshpk';
import fc from 'fast-check';
import { parseUserPublicKey, userKeyOf } from '../../../src/cloud/user-key.js';
import { HearthError } from '../../../src/model/errors.js';

/** An OpenSSH public key line of a new key, as ssh-keygen writes it, and sshpk's reading of it (the oracle). */
function newLine(comment: string): { line: string; oracle: sshpk.Key } {
  const { publicKey } = generateKeyPairSync('ed25519');
  // sshpk writes "(unnamed)" where a key has no comment: the line is its first two fields.
  const bare = sshpk.parseKey(publicKey.export({ format: 'pem', type: 'spki' }), 'pem').toString('ssh').split(' ').slice(0, 2).join(' ');
  const line = comment === '' ? bare : `${bare} ${comment}`;
  return { line, oracle: sshpk.parseKey(line, 'ssh') };
}

const refused = (text: string, code: RegExp): void => {
  assert.throws(() => parseUserPublicKey(text), (err: unknown) => err instanceof HearthError && err.code === 'invalid_request' && code.test(err.message), text);
};

void describe('parseUserPublicKey', () => {
  void test('reads a line as sshpk does: the id is the SHA-256 fingerprint OpenSSH prints, and the key is the same', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z0-9@.-]{0,20}$/), (comment) => {
      const { line, oracle } = newLine(comment);
      const key = parseUserPublicKey(line);
      assert.equal(key.id, oracle.fingerprint('sha256').toString());
      assert.equal(key.ssh, oracle.toString('ssh').split(' ').slice(0, 2).join(' '));
      assert.equal(key.comment, comment);
      assert.equal(oracle.comment ?? '(unnamed)', comment === '' ? '(unnamed)' : comment);
      assert.equal(key.key.asymmetricKeyType, 'ed25519');
      assert.deepEqual(key.key.export({ format: 'jwk' }), { kty: 'OKP', crv: 'Ed25519', x: (oracle.parts.find((p) => p.name === 'A') as { data: Buffer }).data.toString('base64url') });
    }), { numRuns: 25 });
  });

  void test('takes surrounding whitespace and a comment of several words', () => {
    const { line, oracle } = newLine('');
    const key = parseUserPublicKey(`  ${line} my laptop key\n`);
    assert.equal(key.id, oracle.fingerprint('sha256').toString());
    assert.equal(key.comment, 'my laptop key');
  });

  void test('is what userKeyOf gives for the same key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const made = userKeyOf(privateKey, 'me');
    const read = parseUserPublicKey(`${made.ssh} me`);
    assert.equal(read.id, made.id);
    assert.equal(read.ssh, made.ssh);
  });

  void test('refuses keys of another type, naming it', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    refused(sshpk.parseKey(publicKey.export({ format: 'pem', type: 'spki' }), 'pem').toString('ssh'), /must be ed25519, not ssh-rsa/);
    const ecdsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    refused(sshpk.parseKey(ecdsa.export({ format: 'pem', type: 'spki' }), 'pem').toString('ssh'), /must be ed25519, not ecdsa-sha2-nistp256/);
  });

  void test('refuses what is not an OpenSSH public key line', () => {
    const { line } = newLine('');
    const [type, data] = line.split(' ') as [string, string];
    const blob = Buffer.from(data, 'base64');
    const reencoded = (b: Buffer): string => `${type} ${b.toString('base64')}`;
    refused('', /not an OpenSSH public key/);
    refused('ssh-ed25519', /not an OpenSSH public key/);
    refused(`${type} not*base64`, /not an OpenSSH public key/);
    refused(`ssh-rsa ${data}`, /the line names ssh-rsa, its key ssh-ed25519/);
    refused(reencoded(blob.subarray(0, blob.length - 1)), /not an OpenSSH public key/);
    refused(reencoded(Buffer.concat([blob, Buffer.from([0])])), /not an OpenSSH public key/);
    // A well-formed blob with a key of 31 bytes, and one with a third string.
    const wire = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    refused(reencoded(Buffer.concat([wire(Buffer.from(type)), wire(Buffer.alloc(31, 1))])), /has 32 bytes/);
    refused(reencoded(Buffer.concat([blob, wire(Buffer.from('more'))])), /has 32 bytes/);
    refused(`${line} ${'x'.repeat(1024)}`, /at most 1024 characters/);
  });
});
