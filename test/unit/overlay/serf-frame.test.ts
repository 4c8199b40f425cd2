import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { SerfFrameError, createMsgpackFramer, measureMsgpack } from '../../../src/overlay/serf-frame.js';

const samples: unknown[] = [
  0,
  127,
  -1,
  -33,
  255,
  65_535,
  2 ** 32 + 5,
  -(2 ** 40),
  1.5,
  null,
  true,
  '',
  'x'.repeat(31),
  'y'.repeat(200),
  'z'.repeat(70_000),
  new Uint8Array(3),
  new Uint8Array(300),
  [],
  [1, [2, [3, { a: 'b' }]]],
  Array.from({ length: 20 }, (_, i) => i),
  { Seq: 1, Error: '' },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { v: [i] }])),
];

describe('msgpack framing', () => {
  test('measures every msgpack type without decoding it', () => {
    for (const value of samples) {
      const bytes = encode(value);
      assert.deepEqual(measureMsgpack(bytes, 0, 1 << 20), { kind: 'complete', length: bytes.length }, JSON.stringify(value)?.slice(0, 40));
      if (bytes.length > 1) {
        assert.deepEqual(measureMsgpack(bytes.subarray(0, bytes.length - 1), 0, 1 << 20), { kind: 'need-more' });
      }
    }
  });

  test('reassembles objects split across arbitrary chunk boundaries', () => {
    const stream = Buffer.concat(samples.map((v) => encode(v)));
    const framer = createMsgpackFramer();
    const frames: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 7) frames.push(...framer.push(stream.subarray(i, i + 7)));
    assert.equal(frames.length, samples.length);
    assert.deepEqual(frames.map((f) => decode(f)), samples.map((v) => decode(encode(v))));
  });

  test('any split of any stream: every object once, in order, and a frame kept from an earlier push still holds its bytes', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: samples.length - 1 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }),
      (picks, cuts) => {
        const values = picks.map((i) => samples[i]);
        const stream = Buffer.concat(values.map((v) => encode(v)));
        const framer = createMsgpackFramer();
        const frames: Uint8Array[] = [];
        for (let at = 0, c = 0; at < stream.length; c++) {
          const size = cuts[c % cuts.length] as number;
          frames.push(...framer.push(stream.subarray(at, at + size)));
          at += size;
        }
        assert.deepEqual(frames.map((f) => decode(f)), values.map((v) => decode(encode(v))));
      },
    ), { numRuns: 200 });
  });

  test('one byte at a time: a header cut anywhere is read again whole when its bytes come', () => {
    const stream = Buffer.concat(samples.map((v) => encode(v)));
    const framer = createMsgpackFramer();
    const frames: Uint8Array[] = [];
    for (const byte of stream) frames.push(...framer.push(Uint8Array.of(byte)));
    assert.deepEqual(frames.map((f) => decode(f)), samples.map((v) => decode(encode(v))));
  });

  test('a byte msgpack never uses loses the framing', () => {
    const framer = createMsgpackFramer();
    assert.throws(() => framer.push(Buffer.from([0x81, 0xa1, 0x61, 0xc1])), SerfFrameError);
  });

  test('a declared length beyond the limit is refused instead of buffered', () => {
    const framer = createMsgpackFramer({ maxMessageBytes: 1024 });
    // bin32 claiming 1 GiB.
    assert.throws(() => framer.push(Buffer.from([0xc6, 0x40, 0, 0, 0])), /larger than 1024/);
    // array32 claiming 4 billion items.
    assert.throws(() => createMsgpackFramer({ maxMessageBytes: 1024 }).push(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])), /larger/);
  });
});
