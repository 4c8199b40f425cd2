// Gossiped tags: every field at its largest stays under Serf's 512 bytes,
// they round-trip, and anything malformed is reported, never thrown.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  changedTags,
  DIGEST_LENGTH, MAX_API_LENGTH, MAX_DIGESTS, MAX_RESOURCE, MAX_VERSION_LENGTH, MAX_ZONE_LENGTH, SERF_TAG_LIMIT,
  OPTIONAL_TAG_KEYS, decodeTags, encodeTags, encodedSize, type GatewayTags,
} from '../../../src/overlay/tags.js';

const biggest: GatewayTags = {
  id: 'f'.repeat(64),
  api: `[${'ffff:'.repeat(7)}ffff]:65535`.padEnd(MAX_API_LENGTH, '0').slice(0, MAX_API_LENGTH),
  contributed: { cpu: MAX_RESOURCE / 1000, memoryMb: MAX_RESOURCE, diskMb: MAX_RESOURCE, slivers: MAX_RESOURCE },
  free: { cpu: MAX_RESOURCE / 1000, memoryMb: MAX_RESOURCE, diskMb: MAX_RESOURCE, slivers: MAX_RESOURCE },
  mode: 'production',
  version: '9'.repeat(MAX_VERSION_LENGTH),
  digests: Object.fromEntries(['svca', 'slcb', 'appc', 'keyd'].slice(0, MAX_DIGESTS).map((k) => [k, 'A'.repeat(DIGEST_LENGTH)])),
  zone: 'z'.repeat(MAX_ZONE_LENGTH),
  access: { quota: MAX_RESOURCE, allowlist: true },
};

test('every field at its largest stays within Serf’s tag limit', () => {
  const size = encodedSize(encodeTags(biggest));
  assert.ok(size <= SERF_TAG_LIMIT, `${size} bytes`);
});

test('tags round-trip', () => {
  const t: GatewayTags = {
    id: 'ab'.repeat(32), api: '10.99.0.7:7471',
    contributed: { cpu: 1.5, memoryMb: 2048, diskMb: 20000, slivers: 16 },
    free: { cpu: 0.25, memoryMb: 100, diskMb: 0, slivers: 3 },
    mode: 'drain', version: '0.1.0', digests: { svc: 'abcdefghijk' }, zone: null, access: { quota: null, allowlist: false },
  };
  assert.deepEqual(decodeTags(encodeTags(t)), { ok: true, tags: t });
  assert.deepEqual(decodeTags(encodeTags(biggest)), { ok: true, tags: biggest });
  const zoned = { ...t, zone: 'north-side-2' };
  assert.deepEqual(decodeTags(encodeTags(zoned)), { ok: true, tags: zoned });
});

test('a zone is gossiped only when set, and is an optional tag a publish may delete', () => {
  assert.equal('z' in encodeTags({ ...biggest, zone: null, access: { quota: null, allowlist: false } }), false);
  assert.equal(encodeTags({ ...biggest, zone: 'riverside' })['z'], 'riverside');
  assert.ok(OPTIONAL_TAG_KEYS.includes('z'));
  assert.deepEqual(decodeTags({ ...encodeTags(biggest), z: 'Riverside' }), { ok: false, reason: 'bad zone' });
});

test('access is gossiped only when it restricts anyone: an allowlist flag and a per-user quota', () => {
  const open = { quota: null, allowlist: false };
  assert.equal('p' in encodeTags({ ...biggest, access: open }), false);
  assert.ok(OPTIONAL_TAG_KEYS.includes('p'));
  for (const access of [{ quota: 3, allowlist: false }, { quota: null, allowlist: true }, { quota: 0, allowlist: true }, open]) {
    const decoded = decodeTags(encodeTags({ ...biggest, access }));
    assert.deepEqual(decoded.ok ? decoded.tags.access : undefined, access);
  }
  for (const p of ['', 'x', 'q!', 'aa', 'q', 'q1234567']) assert.deepEqual(decodeTags({ ...encodeTags(biggest), p }), { ok: false, reason: 'bad access policy' }, p);
});

test('malformed tags are reported with a reason, never thrown', () => {
  const good = encodeTags(biggest);
  const bad: Record<string, string>[] = [
    {},
    { ...good, h: '2' },
    { ...good, id: 'short' },
    { ...good, id: '!'.repeat(43) },
    { ...good, api: '' },
    { ...good, api: 'x'.repeat(200) },
    { ...good, rc: '1.2.3' },
    { ...good, rf: 'a.b.c.ZZ' },
    { ...good, m: 'x' },
    { ...good, v: 'a b' },
    { ...good, d: 'svc=short' },
    { ...good, d: 'a=AAAAAAAAAAA,b=AAAAAAAAAAA,c=AAAAAAAAAAA,d=AAAAAAAAAAA,e=AAAAAAAAAAA' },
    { ...good, d: '=,=' },
    { ...good, z: '' },
    { ...good, z: 'Upper-Case' },
    { ...good, z: 'z'.repeat(MAX_ZONE_LENGTH + 1) },
  ];
  for (const raw of bad) {
    const r = decodeTags(raw);
    assert.equal(r.ok, false, JSON.stringify(raw).slice(0, 80));
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
});

test('encoding refuses out-of-shape fields', () => {
  assert.throws(() => encodeTags({ ...biggest, id: 'xyz' }));
  assert.throws(() => encodeTags({ ...biggest, digests: { toolong: 'A'.repeat(DIGEST_LENGTH) } }));
  for (const zone of ['', 'a b', 'Riverside', 'z'.repeat(MAX_ZONE_LENGTH + 1)]) {
    assert.throws(() => encodeTags({ ...biggest, zone }), /bad zone/, JSON.stringify(zone));
  }
});

test('changedTags names what an update changed, a digest by its name', () => {
  const was = { h: '1', rf: '1,2', d: 'sl=AAAA,sv=BBBB', z: 'north' };
  assert.deepEqual(changedTags(was, was), []);
  assert.deepEqual(changedTags(was, { h: '1', rf: '1,1', d: 'sl=AAAA,sv=CCCC', z: 'north' }), ['d.sv', 'rf']);
  // A digest added or dropped, and an optional tag deleted.
  assert.deepEqual(changedTags(was, { h: '1', rf: '1,2', d: 'sl=AAAA,sv=BBBB,rv=DDDD' }), ['d.rv', 'z']);
  assert.deepEqual(changedTags(was, { h: '1', rf: '1,2', z: 'north' }), ['d.sl', 'd.sv']);
});
