import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { decodeSerfFrame } from '../../../src/overlay/serf-decode.js';
import { createMsgpackFramer } from '../../../src/overlay/serf-frame.js';
import {
  parseCoordinate,
  parseKeyring,
  parseMembers,
  parseQueryRecord,
  parseResponseHeader,
  parseStats,
  parseStreamRecord,
} from '../../../src/overlay/serf-records.js';

// Bytes a serf 0.8.2 agent sent to `members` and `get-coordinate` (captured on loopback).
const CAPTURED =
  '82a54572726f72a0a353657103' +
  '81a74d656d62657273918ba441646472c4047f000001ab44656c656761746543757205ab44656c65676174654d617805ab44656c65676174654d696e02a44e616d65a27831a4506f7274cd461aab50726f746f636f6c43757202ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a6537461747573a5616c697665a45461677381a161a162' +
  '82a54572726f72a0a353657104' +
  '82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a54572726f72cb3ff8000000000000a6486569676874cb3ee4f8b588e368f1a356656398' +
  'cb0000000000000000'.repeat(8) +
  'a24f6bc3';

// Decoded the way the client does.
const roundTrip = (value: unknown): unknown => decodeSerfFrame(encode(value));

describe('serf records', () => {
  test('decodes the members and coordinate replies a real agent sent', () => {
    const objects = createMsgpackFramer()
      .push(Buffer.from(CAPTURED, 'hex'))
      .map((f) => decodeSerfFrame(f));
    assert.equal(objects.length, 4);
    assert.deepEqual(parseResponseHeader(objects[0]), { seq: 3, error: '' });
    assert.deepEqual(parseMembers(objects[1]), [
      {
        name: 'x1',
        addr: '127.0.0.1',
        port: 17946,
        tags: { a: 'b' },
        status: 'alive',
        protocol: { min: 1, max: 5, cur: 2 },
        delegate: { min: 2, max: 5, cur: 5 },
      },
    ]);
    assert.deepEqual(parseResponseHeader(objects[2]), { seq: 4, error: '' });
    const coord = parseCoordinate(objects[3]);
    assert.ok(coord);
    assert.deepEqual(coord.vec, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(coord.error, 1.5);
  });

  test('a payload is bytes whether serf sent it as bin or as str (then its UTF-8)', () => {
    const asBin = { Event: 'user', LTime: 7, Name: 'deploy', Payload: new Uint8Array([0, 0xff]), Coalesce: true };
    assert.deepEqual(parseStreamRecord(roundTrip(asBin)), {
      type: 'user',
      name: 'deploy',
      payload: new Uint8Array([0, 0xff]),
      ltime: 7,
      coalesce: true,
    });
    const asStr = { ...asBin, Payload: 'hé' };
    const event = parseStreamRecord(roundTrip(asStr));
    assert.equal(event?.type, 'user');
    assert.deepEqual(event?.type === 'user' ? [...event.payload] : [], [0x68, 0xc3, 0xa9]);
  });

  test('query events, member events and query records come out typed', () => {
    assert.deepEqual(parseStreamRecord(roundTrip({ Event: 'query', ID: 3, LTime: 2, Name: 'q', Payload: null })), {
      type: 'query',
      id: 3,
      name: 'q',
      payload: new Uint8Array(0),
      ltime: 2,
    });
    const member = {
      Name: 'n', Addr: new Uint8Array(16).fill(0, 0, 15).fill(1, 15), Port: 1, Tags: null, Status: 'failed',
      ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
    };
    const failed = parseStreamRecord(roundTrip({ Event: 'member-failed', Members: [member] }));
    assert.equal(failed?.type, 'member-failed');
    assert.deepEqual(failed?.type === 'member-failed' ? failed.members.map((m) => [m.addr, m.status, m.tags]) : [], [['::1', 'failed', {}]]);
    assert.deepEqual(parseQueryRecord(roundTrip({ Type: 'ack', From: 'b', Payload: null })), { type: 'ack', from: 'b' });
    assert.deepEqual(parseQueryRecord(roundTrip({ Type: 'response', From: 'b', Payload: new Uint8Array([1]) })), {
      type: 'response',
      from: 'b',
      payload: new Uint8Array([1]),
    });
    assert.equal(parseQueryRecord(roundTrip({ Type: 'done', From: '', Payload: null })), 'done');
    // Reads of Serf's closed query channels: zero values, nobody's answer.
    assert.equal(parseQueryRecord(roundTrip({ Type: 'response', From: '', Payload: null })), 'closed');
    assert.equal(parseQueryRecord(roundTrip({ Type: 'ack', From: '', Payload: null })), 'closed');
  });

  test('keyring, stats and a missing coordinate', () => {
    assert.deepEqual(
      parseKeyring(roundTrip({ Messages: { x1: 'Keyring is empty' }, Keys: null, NumNodes: 1, NumErr: 1, NumResp: 1 })),
      { messages: { x1: 'Keyring is empty' }, keys: {}, numNodes: 1, numErr: 1, numResp: 1 },
    );
    assert.deepEqual(parseStats(roundTrip({ agent: { name: 'x1' }, serf: { members: '1' } })), {
      agent: { name: 'x1' },
      serf: { members: '1' },
    });
    assert.equal(parseCoordinate(roundTrip({ Coord: { Vec: null, Error: 0, Adjustment: 0, Height: 0 }, Ok: false })), null);
  });

  test('shapes serf never sends are rejected, not guessed', () => {
    assert.equal(parseResponseHeader(roundTrip({ Seq: 'one', Error: '' })), undefined);
    assert.equal(parseResponseHeader(roundTrip({ Seq: 1, Error: '', Extra: 1 })), undefined);
    assert.equal(parseMembers(roundTrip({ Members: [{ Name: 'n' }] })), undefined);
    assert.equal(parseStreamRecord(roundTrip({ Event: 'member-exploded', Members: [] })), undefined);
    assert.equal(parseStreamRecord(roundTrip({ Event: 'user', Name: 'x', LTime: 1, Payload: null })), undefined);
    assert.equal(parseQueryRecord(roundTrip({ Type: 'shout', From: 'b' })), undefined);
    assert.equal(parseStats(roundTrip([1, 2])), undefined);
  });
});
