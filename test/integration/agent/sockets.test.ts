// The portal's sockets on a real gateway: a real agent process, a real
// busybox sliver in LXC, a real WebSocket client. The stream carries the
// sliver's life as it happens; the console is a login shell on a real
// pseudo-terminal that runs what is typed, takes a new size, and ends with
// the shell's exit code; and each socket refuses what it must.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { createTestGateway, type TestGateway } from '../../support/gateway.js';
import { until } from '../../support/until.js';
import type { Sliver } from '../../../src/api/schemas.js';

let gw: TestGateway;
let base: string;

before(async () => {
  gw = await createTestGateway();
  await gw.start();
  base = `ws://127.0.0.1:${gw.config.api.port}`;
});
after(async () => {
  await gw.destroy();
});

interface Socket {
  text: Record<string, unknown>[];
  output(): string;
  raw: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  waitFor(what: string, ok: () => boolean): Promise<void>;
}

async function open(path: string, first: Record<string, unknown>): Promise<Socket> {
  const raw = new WebSocket(`${base}${path}`);
  const text: Record<string, unknown>[] = [];
  let output = '';
  const waiters = new Set<() => void>();
  raw.on('message', (data, isBinary) => {
    if (isBinary) output += String(data);
    else text.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => raw.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => raw.once('open', resolve).once('error', reject));
  raw.send(JSON.stringify(first));
  return {
    text, raw, closed,
    output: () => output,
    waitFor: (what, ok) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 20 s; output so far:\n${output.slice(-1000)}\n${JSON.stringify(text)}`)), 20_000);
      const check = (): void => {
        if (!ok()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    }),
  };
}

const eventTypes = (s: Socket): string[] => s.text.flatMap((m) => (m['type'] === 'event' ? [String((m['event'] as { type: string }).type)] : []));

describe('the live stream and a console on a real gateway', () => {
  test('the stream shows a new sliver being made and started, as it happens', async () => {
    const stream = await open('/api/v1/stream', { type: 'auth', token: gw.token });
    await stream.waitFor('ready', () => stream.text.some((m) => m['type'] === 'ready'));
    await gw.api.request('POST', '/api/v1/slivers', { name: 'shell', resources: { memoryMb: 64, cpu: 0.2 } });
    await stream.waitFor('sliver.started', () => eventTypes(stream).includes('sliver.started'));
    assert.deepEqual(eventTypes(stream).filter((t) => t.startsWith('sliver.')), ['sliver.requested', 'sliver.created', 'sliver.started']);
    stream.raw.close();
    await stream.closed;
  });

  test('the console runs what is typed on a pseudo-terminal of the asked size, resizes, and ends with the exit code', async () => {
    await until('shell running', async () => ((await gw.api.request<Sliver>('GET', '/api/v1/slivers/shell')).observed === 'running' ? true : undefined));
    const c = await open('/api/v1/slivers/shell/console', { type: 'auth', token: gw.token, cols: 91, rows: 23 });
    await c.waitFor('ready', () => c.text.some((m) => m['type'] === 'ready'));
    c.raw.send(Buffer.from('echo "sum $((6*7))"; tty; stty size\n'));
    await c.waitFor('the answer', () => /sum 42/.test(c.output()) && /23 91/.test(c.output()));
    assert.match(c.output(), /\/dev\/pts\/\d+/);
    c.raw.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    // The resize lands asynchronously: ask until the new size shows.
    for (let i = 0; i < 20 && !/40 120/.test(c.output()); i++) {
      c.raw.send(Buffer.from('stty size\n'));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(c.output(), /40 120/, 'the terminal took the new size');
    c.raw.send(Buffer.from('exit 3\n'));
    const closed = await c.closed;
    assert.equal(closed.code, 1000);
    assert.deepEqual(c.text.at(-1), { type: 'exit', code: 3 });
  });

  test('a console is refused with a wrong token, for an unknown or stopped sliver, and a bad size', async () => {
    const refusal = async (path: string, first: Record<string, unknown>): Promise<[number, string]> => {
      const s = await open(path, first);
      const { code } = await s.closed;
      return [code, String((s.text[0]?.['problem'] as { code?: string } | undefined)?.code)];
    };
    assert.deepEqual(await refusal('/api/v1/slivers/shell/console', { type: 'auth', token: 'wrong' }), [4401, 'unauthorized']);
    assert.deepEqual(await refusal('/api/v1/slivers/nope/console', { type: 'auth', token: gw.token }), [4404, 'sliver_not_found']);
    assert.deepEqual(await refusal('/api/v1/slivers/shell/console', { type: 'auth', token: gw.token, cols: 0 }), [4400, 'invalid_request']);
    await gw.api.request('POST', '/api/v1/slivers/shell/stop');
    await until('shell stopped', async () => ((await gw.api.request<Sliver>('GET', '/api/v1/slivers/shell')).observed === 'stopped' ? true : undefined));
    assert.deepEqual(await refusal('/api/v1/slivers/shell/console', { type: 'auth', token: gw.token }), [4409, 'invalid_state']);
  });

  test('closing the console ends the shell in the sliver', async () => {
    await gw.api.request('POST', '/api/v1/slivers/shell/start');
    await until('shell running', async () => ((await gw.api.request<Sliver>('GET', '/api/v1/slivers/shell')).observed === 'running' ? true : undefined));
    const c = await open('/api/v1/slivers/shell/console', { type: 'auth', token: gw.token });
    await c.waitFor('ready', () => c.text.some((m) => m['type'] === 'ready'));
    c.raw.send(Buffer.from('sleep 303\n'));
    const ps = async (): Promise<string> => (await gw.api.request<{ stdout: string }>('POST', '/api/v1/slivers/shell/exec', { command: ['ps'] })).stdout;
    await until('sleep 303 running', async () => (/sleep 303/.test(await ps()) ? true : undefined));
    c.raw.close();
    await c.closed;
    await until('sleep 303 gone', async () => (/sleep 303/.test(await ps()) ? undefined : true));
  });
});
