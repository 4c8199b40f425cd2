import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import { LINK_PROFILES, getLinkProfile } from '../../../src/testbed/profiles.js';

void describe('link profiles', () => {
  void test('worse profiles are slower, lossier and narrower per hop', () => {
    const { lan, wifi, poor } = LINK_PROFILES;
    assert.ok(lan.perHopDelayMs < wifi.perHopDelayMs && wifi.perHopDelayMs < poor.perHopDelayMs);
    assert.ok(lan.perHopLoss < wifi.perHopLoss && wifi.perHopLoss < poor.perHopLoss);
    assert.ok(lan.rateBitsPerSecond > wifi.rateBitsPerSecond && wifi.rateBitsPerSecond > poor.rateBitsPerSecond);
  });

  void test('a profile is found by the name a user types; an unknown name is an invalid request', () => {
    assert.equal(getLinkProfile('wifi'), LINK_PROFILES.wifi);
    assert.throws(() => getLinkProfile('fibre'), (e: unknown) => e instanceof HearthError && e.code === 'invalid_request');
  });
});
