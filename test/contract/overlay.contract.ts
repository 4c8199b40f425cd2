// One contract for every implementation of the overlay port: the Serf-backed
// one (test/integration/overlay/serf-overlay.test.ts) and, with the
// simulator, the model one. Each case is a small story over a community of
// three members that the implementation under test builds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../src/model/errors.js';
import type { OverlayPort } from '../../src/overlay/port.js';

export interface OverlayCommunity {
  ports: OverlayPort[];
}

/** Polls `probe` until it returns a value other than undefined; a timeout says `what`, and what `seen` says was there instead. */
async function eventually<T>(what: string, probe: () => T | undefined, seen?: () => string, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}${seen === undefined ? '' : `; it saw ${seen()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function overlayContract(kind: string, community: () => OverlayCommunity): void {
  const ports = (): OverlayPort[] => community().ports;
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
  const text = (b: Uint8Array): string => new TextDecoder().decode(b);

  test(`${kind}: every member sees every member alive, itself included`, async () => {
    const names = ports().map((p) => p.self).sort();
    for (const port of ports()) {
      await eventually(`${port.self} sees all alive (${names.join(', ')})`, () => {
        const alive = [...port.view().members.values()].filter((m) => m.status === 'alive').map((m) => m.name).sort();
        return JSON.stringify(alive) === JSON.stringify(names) ? true : undefined;
      }, () => [...port.view().members.values()].map((m) => `${m.name} ${m.status}`).join(', ') || 'no member');
    }
  });

  test(`${kind}: a published digest shows in every other member's view, and dropping it removes it`, async () => {
    const [a, b, c] = ports() as [OverlayPort, OverlayPort, OverlayPort];
    const changes: number[] = [];
    const off = b.onView(() => changes.push(1));
    a.publishDigest('zz', 'd1gest-abcd');
    assert.equal(a.digests()['zz'], 'd1gest-abcd');
    for (const other of [b, c]) {
      await eventually(`${other.self} sees a's digest`, () => (other.view().members.get(a.self)?.tags?.digests['zz'] === 'd1gest-abcd' ? true : undefined));
    }
    assert.ok(changes.length > 0, 'view listeners heard of the change');
    off();
    assert.throws(() => a.publishDigest('zz', 'short'), HearthError, 'a digest that does not fit a tag is a bug, refused');
    assert.throws(() => a.publishDigest('Bad!', 'd1gest-abcd'), HearthError);
    a.publishDigest('zz', undefined);
    assert.equal(a.digests()['zz'], undefined);
    await eventually(`${b.self} sees the digest gone`, () => (b.view().members.get(a.self)?.tags?.digests['zz'] === undefined ? true : undefined));
  });

  test(`${kind}: a user event reaches every member; an unsubscribed or throwing listener stops nobody else`, async () => {
    const [a, b, c] = ports() as [OverlayPort, OverlayPort, OverlayPort];
    const heard = new Map<string, string[]>();
    const offs = [a, b, c].map((p) => p.onUserEvent('contract-ev', (payload) => {
      heard.set(p.self, [...(heard.get(p.self) ?? []), text(payload)]);
    }));
    const offThrow = b.onUserEvent('contract-ev', () => {
      throw new Error('a listener that throws');
    });
    let silenced = 0;
    const offSilenced = c.onUserEvent('contract-ev', () => void silenced++);
    offSilenced();
    await a.userEvent('contract-ev', bytes('hello'));
    for (const p of [a, b, c]) await eventually(`${p.self} heard the event`, () => (heard.get(p.self)?.includes('hello') === true ? true : undefined));
    assert.equal(silenced, 0);
    for (const off of [...offs, offThrow]) off();
  });

  test(`${kind}: a query is answered by the members asked; oversized payloads are refused`, async () => {
    const [a, b, c] = ports() as [OverlayPort, OverlayPort, OverlayPort];
    const offB = b.onQuery('contract-q', (payload) => bytes(`b:${text(payload)}`));
    const offC = c.onQuery('contract-q', () => undefined);
    const answers = await a.query('contract-q', bytes('ping'), { members: [b.self, c.self], timeoutMs: 2000 });
    assert.deepEqual(answers.map((r) => [r.from, text(r.payload)]), [[b.self, 'b:ping']]);
    assert.throws(() => b.onQuery('contract-q', () => undefined), HearthError, 'one handler a name');
    offB();
    offC();
    await assert.rejects(a.query('contract-q', new Uint8Array(5000)), (err: unknown) => err instanceof HearthError && err.code === 'payload_too_large');
  });
}
