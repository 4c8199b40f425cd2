// Invite tokens: a good one reads back; malformed, tampered, re-signed and
// expired ones get a clear error.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadOrCreateIdentity, type Identity } from '../../../src/overlay/identity.js';
import { createInvite, readInvite } from '../../../src/overlay/invite.js';
import { HearthError } from '../../../src/model/errors.js';

let alice: Identity;
let mallory: Identity;
const key = randomBytes(32).toString('base64');
const now = 1_800_000_000;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-invite-'));
  alice = await loadOrCreateIdentity(join(dir, 'a'), { commonName: 'alice' });
  mallory = await loadOrCreateIdentity(join(dir, 'm'), { commonName: 'mallory' });
  rmSync(dir, { recursive: true, force: true });
});

const code = (fn: () => unknown): string => {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return err instanceof HearthError ? `${err.code}: ${err.message}` : String(err);
  }
};

test('a token reads back what was put in, with its issuer', () => {
  const token = createInvite({ community: 'sants', key, addresses: ['10.99.0.1:7946', '[fd00::1]:7946'], expires: now + 3600 }, alice);
  assert.deepEqual(readInvite(token, now), { community: 'sants', key, addresses: ['10.99.0.1:7946', '[fd00::1]:7946'], expires: now + 3600, issuer: alice.id });
  assert.equal(readInvite(`  ${token}\n`, now).issuer, alice.id, 'surrounding white space from a paste is fine');
});

test('an expired token is refused as expired', () => {
  const token = createInvite({ community: 'sants', key, addresses: ['10.99.0.1:7946'], expires: now }, alice);
  assert.match(code(() => readInvite(token, now)), /^invite_expired: the invite expired at/);
  assert.equal(readInvite(token, now - 1).community, 'sants');
});

test('malformed, tampered and re-signed tokens are refused as invalid', () => {
  const token = createInvite({ community: 'sants', key, addresses: ['10.99.0.1:7946'], expires: null }, alice);
  const [prefix, payload, sig] = token.split('.') as [string, string, string];
  const wire = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const repack = (w: Record<string, unknown>): string => Buffer.from(JSON.stringify(w)).toString('base64url');
  const forged = createInvite({ community: 'sants', key, addresses: ['6.6.6.6:7946'], expires: null }, mallory);
  const forgedParts = forged.split('.');
  const cases: [string, string, RegExp][] = [
    ['empty', '', /expected hearth1/],
    ['garbage', 'hello world', /expected hearth1/],
    ['wrong prefix', `hearth2.${payload}.${sig}`, /expected hearth1/],
    ['not base64url', `${prefix}.${payload}!.${sig}`, /not base64url/],
    ['payload not JSON', `${prefix}.${Buffer.from('{').toString('base64url')}.${sig}`, /not JSON/],
    ['huge', `${prefix}.${'A'.repeat(10_000)}.${sig}`, /too long/],
    ['address changed', `${prefix}.${repack({ ...wire, a: ['6.6.6.6:7946'] })}.${sig}`, /signature does not verify/],
    ['expiry removed', `${prefix}.${repack({ ...wire, e: null, c: 'other' })}.${sig}`, /signature does not verify/],
    ['signature cut', `${prefix}.${payload}.${sig.slice(0, 20)}`, /signature does not verify/],
    ['issuer swapped', `${prefix}.${repack({ ...wire, i: mallory.id })}.${sig}`, /issuer id does not match/],
    ['payload re-signed by another key, claiming alice', `${prefix}.${repack({ ...JSON.parse(Buffer.from(forgedParts[1] as string, 'base64url').toString()) as object, i: alice.id })}.${forgedParts[2] as string}`, /issuer id does not match/],
    ['wrong types', `${prefix}.${repack({ ...wire, a: 'x' })}.${sig}`, /wrong type/],
  ];
  for (const [name, t, expected] of cases) assert.match(code(() => readInvite(t, now)), new RegExp(`^invalid_invite: .*${expected.source}`), name);
  // A token wholly made by another gateway is valid as a token; its issuer id says who made it.
  assert.equal(readInvite(forged, now).issuer, mallory.id);
});
