// Durations as the CLI's --lifetime and the portal's renew field take them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../../src/model/duration.js';

test('a duration is whole seconds, minutes, hours or days, with spaces around it allowed', () => {
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration('30s'), 30);
  assert.equal(parseDuration('30m'), 1800);
  assert.equal(parseDuration(' 12h '), 43_200);
  assert.equal(parseDuration('7d'), 604_800);
});

test('anything else is refused, saying how to write one', () => {
  for (const bad of ['', '7 d', '1.5h', '-1d', '7w', 'd', '7dd']) {
    assert.throws(() => parseDuration(bad), /a duration is a number with s, m, h or d/, bad);
  }
});
