// What a sliver may declare as a service, and how a service's health moves:
// defaults filled in, every bad declaration refused with invalid_services
// naming its field, and a service announced after one passing check and
// withdrawn after two failures in a row.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../../src/model/errors.js';
import {
  FAILURES_TO_WITHDRAW, MAX_SERVICES, SERVICE_PORT_RANGE, UNCHECKED, parseServices, pickServicePort, stepHealth, type HealthState,
} from '../../../src/model/service.js';

function refused(input: unknown, field: RegExp | string): void {
  try {
    parseServices(input);
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    assert.equal(err.code, 'invalid_services');
    const named = String(err.extra['field']);
    if (typeof field === 'string') assert.equal(named, field, err.message);
    else assert.match(named, field, err.message);
    return;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

test('a declaration gets tcp, a tcp check and a gateway-picked port by default; udp gets no check', () => {
  assert.deepEqual(parseServices([{ name: 'web', type: 'http', port: 80 }]), [
    { name: 'web', type: 'http', port: 80, protocol: 'tcp', hostPort: null, check: { kind: 'tcp', intervalSec: 5, timeoutSec: 2 } },
  ]);
  assert.deepEqual(parseServices([{ name: 'dht', type: 'bittorrent', port: 6881, protocol: 'udp', hostPort: 6881 }])[0]?.check, { kind: 'none' });
  assert.deepEqual(parseServices([{ name: 'web', type: 'http', port: 80, check: { kind: 'http', path: '/health', intervalSec: 3, timeoutSec: 1 } }])[0]?.check,
    { kind: 'http', path: '/health', intervalSec: 3, timeoutSec: 1 });
  assert.deepEqual(parseServices([{ name: 'web', type: 'http', port: 80, check: { kind: 'http' } }])[0]?.check, { kind: 'http', path: '/', intervalSec: 5, timeoutSec: 2 });
  assert.deepEqual(parseServices(undefined), []);
  assert.deepEqual(parseServices([]), []);
});

test('every bad declaration is refused, naming the field', () => {
  const ok = { name: 'web', type: 'http', port: 80 };
  refused('web', 'services');
  refused(Array.from({ length: MAX_SERVICES + 1 }, (_, i) => ({ ...ok, name: `s${i}`, port: 80 + i })), 'services');
  refused([7], 'services[0]');
  refused([{ ...ok, colour: 'red' }], 'services[0].colour');
  refused([{ ...ok, name: 'Web' }], 'services[0].name');
  refused([{ ...ok, name: '../x' }], 'services[0].name');
  refused([{ ...ok, type: 'gopher' }], 'services[0].type');
  refused([{ ...ok, port: 0 }], 'services[0].port');
  refused([{ ...ok, port: 65536 }], 'services[0].port');
  refused([{ ...ok, port: 80.5 }], 'services[0].port');
  refused([{ ...ok, port: '80' }], 'services[0].port');
  refused([{ ...ok, protocol: 'sctp' }], 'services[0].protocol');
  refused([{ ...ok, hostPort: 80 }], 'services[0].hostPort');
  refused([{ ...ok, check: 'tcp' }], 'services[0].check');
  refused([{ ...ok, check: { kind: 'icmp' } }], 'services[0].check.kind');
  refused([{ ...ok, check: { kind: 'tcp', path: '/' } }], 'services[0].check.path');
  refused([{ ...ok, check: { kind: 'http', path: 'health' } }], 'services[0].check.path');
  refused([{ ...ok, check: { kind: 'http', path: '/a b' } }], 'services[0].check.path');
  refused([{ ...ok, check: { kind: 'tcp', intervalSec: 0 } }], 'services[0].check.intervalSec');
  refused([{ ...ok, check: { kind: 'tcp', timeoutSec: 61 } }], 'services[0].check.timeoutSec');
  refused([{ ...ok, check: { kind: 'tcp', intervalSec: 2, timeoutSec: 3 } }], 'services[0].check.timeoutSec');
  refused([{ ...ok, check: { kind: 'none', timeoutSec: 3 } }], 'services[0].check');
  refused([{ ...ok, protocol: 'udp', check: { kind: 'tcp' } }], 'services[0].check.kind');
});

test('a name, a port or a gateway port used twice is refused; the same number on tcp and udp is not', () => {
  const a = { name: 'a', type: 'http', port: 80 };
  refused([a, { ...a, port: 81 }], 'services[1]');
  refused([a, { ...a, name: 'b' }], 'services[1]');
  refused([{ ...a, hostPort: 8080 }, { name: 'b', type: 'http', port: 81, hostPort: 8080 }], 'services[1]');
  assert.equal(parseServices([{ ...a, hostPort: 6881 }, { name: 'b', type: 'bittorrent', port: 80, protocol: 'udp', hostPort: 6881 }]).length, 2);
});

test('the gateway picks the lowest free port of its service range, and says when none is left', () => {
  assert.equal(pickServicePort(new Set()), SERVICE_PORT_RANGE.first);
  assert.equal(pickServicePort(new Set([SERVICE_PORT_RANGE.first, SERVICE_PORT_RANGE.first + 1])), SERVICE_PORT_RANGE.first + 2);
  const all = new Set(Array.from({ length: SERVICE_PORT_RANGE.last - SERVICE_PORT_RANGE.first + 1 }, (_, i) => SERVICE_PORT_RANGE.first + i));
  assert.equal(pickServicePort(all), undefined);
});

test('a service is announced after one passing check and withdrawn after two failures in a row', () => {
  assert.equal(UNCHECKED.up, false);
  const down = stepHealth(UNCHECKED, { ok: false, reason: 'refused' });
  assert.deepEqual(down, { up: false, failures: 1, reason: 'refused' });
  const up = stepHealth(down, { ok: true });
  assert.deepEqual(up, { up: true, failures: 0, reason: null });
  let s: HealthState = up;
  for (let i = 1; i < FAILURES_TO_WITHDRAW; i++) {
    s = stepHealth(s, { ok: false, reason: 'timeout' });
    assert.equal(s.up, true, `still up after ${i} failure`);
  }
  s = stepHealth(s, { ok: false, reason: 'timeout' });
  assert.deepEqual(s, { up: false, failures: FAILURES_TO_WITHDRAW, reason: 'timeout' });
  assert.equal(stepHealth(s, { ok: true }).up, true, 'one success brings it back');
});
