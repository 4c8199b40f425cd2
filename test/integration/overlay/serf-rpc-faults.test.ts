// Our RPC client against a scripted fake of Serf's RPC on loopback: the
// faults a real agent rarely produces on demand — malformed or orphaned
// messages, a corrupt stream, a connection cut mid-request — must neither
// crash the client nor stop it from serving (and re-subscribing) afterwards.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';
import { HearthError } from '../../../src/model/errors.js';
import { createMsgpackFramer } from '../../../src/overlay/serf-frame.js';
import type { SerfEvent } from '../../../src/overlay/serf-records.js';
import { createSerfRpc } from '../../../src/overlay/serf-rpc.js';
import { waitFor, type Cleanup } from './serf-harness.js';

const WITH_BODY = new Set(['handshake', 'auth', 'stream', 'stop', 'event', 'query', 'respond', 'tags', 'join']);

interface Request {
  command: string;
  seq: number;
  body: Record<string, unknown> | undefined;
  conn: number;
  reply(...objects: unknown[]): void;
  raw(bytes: Uint8Array): void;
  socket: Socket;
}

/** A fake agent: handshake and auth succeed, everything else goes to `script`. */
async function fakeSerf(t: Cleanup, script: (req: Request) => void): Promise<{ address: string; server: Server }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn = ++connections;
    const framer = createMsgpackFramer();
    let pending: { command: string; seq: number } | undefined;
    socket.on('data', (chunk) => {
      for (const frame of framer.push(chunk)) {
        const obj = decode(frame) as Record<string, unknown>;
        let req: { command: string; seq: number; body: Record<string, unknown> | undefined };
        if (pending !== undefined) {
          req = { ...pending, body: obj };
          pending = undefined;
        } else {
          const command = String(obj['Command']);
          const seq = Number(obj['Seq']);
          if (WITH_BODY.has(command)) {
            pending = { command, seq };
            continue;
          }
          req = { command, seq, body: undefined };
        }
        const reply = (...objects: unknown[]): void => {
          socket.write(Buffer.concat(objects.map((o) => encode(o))));
        };
        if (req.command === 'handshake' || req.command === 'auth') {
          reply({ Seq: req.seq, Error: '' });
          continue;
        }
        script({ ...req, conn, reply, raw: (b) => socket.write(b), socket });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  return { address: `127.0.0.1:${address.port}`, server };
}

const MEMBER = {
  Name: 'x1', Addr: new Uint8Array([10, 0, 0, 1]), Port: 7946, Tags: { a: 'b' }, Status: 'alive',
  ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
};

function reasonOf(err: unknown): unknown {
  return err instanceof HearthError ? err.extra['reason'] : undefined;
}

describe('serf rpc client under faults', () => {
  test('malformed and orphaned messages are skipped and counted; the connection keeps serving', async (t) => {
    let calls = 0;
    const fake = await fakeSerf(t, (req) => {
      if (req.command !== 'members') return;
      calls++;
      if (calls === 1) {
        // A header of the wrong shape, a reply for a Seq nobody asked with its body,
        // a message that frames but does not decode (timestamp ext of 1 byte), then a body of the wrong shape.
        req.reply({ Seq: 'x', Error: 7 }, { Junk: true });
        req.reply({ Seq: 999_999, Error: '' }, { Members: [] });
        req.raw(Uint8Array.from([0xd4, 0xff, 0x00]));
        req.reply({ Seq: req.seq, Error: '' }, { Members: 'nope' });
      } else {
        req.reply({ Seq: req.seq, Error: '' }, { Members: [MEMBER] });
      }
    });
    const rpc = createSerfRpc({ address: fake.address });
    t.after(() => rpc.close());
    await rpc.connect();
    await assert.rejects(rpc.members(), (err) => reasonOf(err) === 'malformed');
    assert.equal(rpc.decodeErrors, 3);
    const members = await rpc.members();
    assert.deepEqual(members.map((m) => [m.name, m.addr, m.tags]), [['x1', '10.0.0.1', { a: 'b' }]]);
    assert.ok(rpc.isConnected);
  });

  test('the empty acks and responses Serf streams after closing a query are dropped, not reported', async (t) => {
    const fake = await fakeSerf(t, (req) => {
      if (req.command !== 'query') return;
      // What a real agent sends when its query channels close before the
      // stream's own deadline: one real answer, then zero values until `done`.
      const closed = Array.from({ length: 50 }, (_, i) => [
        { Seq: req.seq, Error: '' },
        { Type: i % 2 === 0 ? 'response' : 'ack', From: '', Payload: null },
      ]).flat();
      req.reply(
        { Seq: req.seq, Error: '' },
        { Seq: req.seq, Error: '' }, { Type: 'ack', From: 'b', Payload: null },
        { Seq: req.seq, Error: '' }, { Type: 'response', From: 'b', Payload: new Uint8Array([104, 105]) },
        ...closed,
        { Seq: req.seq, Error: '' }, { Type: 'done', From: '', Payload: null },
      );
    });
    const rpc = createSerfRpc({ address: fake.address });
    t.after(() => rpc.close());
    await rpc.connect();
    const result = await rpc.query({ name: 'whoami', requestAck: true, timeoutMs: 500 });
    assert.deepEqual(result.acks, ['b']);
    assert.deepEqual(result.responses.map((r) => [r.from, Buffer.from(r.payload).toString()]), [['b', 'hi']]);
    assert.equal(rpc.decodeErrors, 0);
  });

  test('a dropped connection rejects the request in flight, then the client reconnects and re-subscribes', async (t) => {
    const streams: { conn: number; type: unknown }[] = [];
    let streamOnSecond: Request | undefined;
    const fake = await fakeSerf(t, (req) => {
      if (req.command === 'stream') {
        streams.push({ conn: req.conn, type: req.body?.['Type'] });
        req.reply({ Seq: req.seq, Error: '' });
        if (req.conn === 2) streamOnSecond = req;
      } else if (req.command === 'members' && req.conn === 1) {
        req.socket.destroy();
      }
    });
    const rpc = createSerfRpc({ address: fake.address, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    t.after(() => rpc.close());
    const transitions: string[] = [];
    rpc.events.on('connected', () => transitions.push('connected'));
    rpc.events.on('disconnected', () => transitions.push('disconnected'));
    await rpc.connect();
    const events = waitFor<SerfEvent, string>(5_000);
    await rpc.stream('user:deploy', events.sink);

    const reconnected = new Promise<void>((resolve) => rpc.events.once('connected', () => resolve()));
    await assert.rejects(rpc.members(), (err) => reasonOf(err) === 'disconnected');
    await reconnected;
    assert.deepEqual(transitions, ['connected', 'disconnected', 'connected']);
    assert.deepEqual(streams, [
      { conn: 1, type: 'user:deploy' },
      { conn: 2, type: 'user:deploy' },
    ]);

    const sub = streamOnSecond;
    assert.ok(sub !== undefined);
    sub.reply({ Seq: sub.seq, Error: '' }, { Event: 'user', LTime: 9, Name: 'deploy', Payload: new Uint8Array([1]), Coalesce: false });
    assert.equal(await events.until((e) => (e.type === 'user' ? e.name : undefined)), 'deploy');
  });

  test('a stream that cannot be framed is dropped, counted, and the client reconnects', async (t) => {
    const fake = await fakeSerf(t, (req) => {
      if (req.command === 'members' && req.conn === 1) req.raw(Uint8Array.from([0xc1]));
      else if (req.command === 'members') req.reply({ Seq: req.seq, Error: '' }, { Members: [] });
    });
    const rpc = createSerfRpc({ address: fake.address, reconnect: { initialDelayMs: 10 } });
    t.after(() => rpc.close());
    await rpc.connect();
    const reconnected = new Promise<void>((resolve) => rpc.events.once('connected', () => resolve()));
    await assert.rejects(rpc.members(), (err) => reasonOf(err) === 'disconnected');
    assert.equal(rpc.decodeErrors, 1);
    await reconnected;
    assert.deepEqual(await rpc.members(), []);
  });

  test('requests while disconnected fail at once; close() ends reconnecting and pending work', async (t) => {
    const fake = await fakeSerf(t, () => undefined);
    const rpc = createSerfRpc({ address: fake.address });
    await assert.rejects(rpc.members(), (err) => reasonOf(err) === 'disconnected');
    await rpc.connect();
    const pending = rpc.stats();
    await rpc.close();
    await assert.rejects(pending, (err) => reasonOf(err) === 'disconnected');
    await assert.rejects(rpc.members(), (err) => reasonOf(err) === 'closed');
    await assert.rejects(rpc.connect(), (err) => reasonOf(err) === 'closed');
  });

  test('an agent that is not there is reported unreachable, and an aborted call rejects with the signal reason', async (t) => {
    const fake = await fakeSerf(t, () => undefined);
    const port = Number(fake.address.split(':')[1]);
    await new Promise<void>((resolve) => fake.server.close(() => resolve()));
    const rpc = createSerfRpc({ address: `127.0.0.1:${port}` });
    await assert.rejects(rpc.connect(), (err) => reasonOf(err) === 'unreachable');
    await rpc.close();

    const live = await fakeSerf(t, () => undefined);
    const client = createSerfRpc({ address: live.address });
    t.after(() => client.close());
    await client.connect();
    const controller = new AbortController();
    const call = client.stats({ signal: controller.signal });
    controller.abort(new Error('user gave up'));
    await assert.rejects(call, /user gave up/);
  });
});
