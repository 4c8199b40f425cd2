import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { MAX_DEPTH, SerfDecodeError, decodeSerfFrame } from '../../../src/overlay/serf-decode.js';

const viaReference = (bytes: Uint8Array): unknown => decode(bytes, { mapKeyConverter: (k) => String(k) });

describe('serf msgpack decoding', () => {
  test('decodes every type Serf sends as the reference decoder does', () => {
    const samples: unknown[] = [
      0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32 + 5, 2 ** 53 - 1,
      -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40),
      1.5, -0.25, 1e300, null, true, false,
      '', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(256), 'w'.repeat(70_000), 'hé ✓',
      new Uint8Array(0), new Uint8Array([0, 0xff, 0x80]), new Uint8Array(300), new Uint8Array(70_000),
      [], Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 70_000 }, () => 1),
      { Seq: 1, Error: '' },
      Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, { v: [i] }])),
      Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
      { ['a'.repeat(40)]: 1 },
    ];
    for (const value of samples) {
      const bytes = encode(value);
      assert.deepEqual(decodeSerfFrame(bytes), viaReference(bytes), JSON.stringify(value)?.slice(0, 40));
    }
  });

  test('agrees with the reference decoder on arbitrary values', () => {
    const leaf = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.constant(null));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 5 }), fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('node'), { maxKeys: 5 })),
    })).node;
    fc.assert(fc.property(value, (v) => {
      const bytes = encode(v);
      assert.deepEqual(decodeSerfFrame(bytes), viaReference(bytes));
    }));
  });

  test('bytes are views of the frame and strings are text, even where the UTF-8 is bad', () => {
    const frame = encode({ Payload: new Uint8Array([1, 2, 3]), Name: 'n' });
    const out = decodeSerfFrame(frame) as { Payload: Uint8Array; Name: string };
    assert.equal(out.Payload.buffer, frame.buffer);
    assert.ok(!Buffer.isBuffer(out.Payload));
    assert.equal(out.Name, 'n');
    // A str of 0xff: replaced, as a non-fatal TextDecoder would.
    assert.equal(decodeSerfFrame(Uint8Array.from([0xa1, 0xff])), '\ufffd');
    // Inside a larger buffer, at an offset.
    const inner = new Uint8Array(10);
    const a7 = encode({ a: 7 });
    inner.set(a7, 3);
    assert.deepEqual(decodeSerfFrame(inner.subarray(3, 3 + a7.length)), { a: 7 });
  });

  test('throws on what is not one whole Serf message', () => {
    const bad: [string, Uint8Array][] = [
      ['cut short', encode({ a: 'bcd' }).subarray(0, 4)],
      ['trailing bytes', Uint8Array.from([...encode(1), 0xc0])],
      ['a number as a map key', Uint8Array.from([0x81, 0x01, 0x02])],
      ['the unused type byte', Uint8Array.from([0xc1])],
      ['an ext type', Uint8Array.from([0xd4, 0x01, 0x00])],
      ['a __proto__ key', encode(JSON.parse('{"__proto__": {"polluted": true}}'))],
      ['too deep', encode(Array.from({ length: MAX_DEPTH + 2 }).reduce<unknown>((inner) => [inner], 0))],
      ['empty', new Uint8Array(0)],
    ];
    for (const [what, bytes] of bad) assert.throws(() => decodeSerfFrame(bytes), SerfDecodeError, what);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    // Nested to MAX_DEPTH is still a message.
    assert.doesNotThrow(() => decodeSerfFrame(encode(Array.from({ length: MAX_DEPTH }).reduce<unknown>((inner) => [inner], 0))));
  });
});
