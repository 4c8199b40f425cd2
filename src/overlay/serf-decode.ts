// Decodes one whole msgpack object of a Serf RPC stream (serf-frame.ts has
// already found where it ends) into plain values: maps as objects with
// string keys, str as strings (bad UTF-8 becomes U+FFFD), bin as a view of
// the frame's bytes, integers and floats as numbers. Serf's codec writes
// byte slices (member addresses, payloads) as bin and text as str
// (hashicorp/serf client and agent: MsgpackHandle with WriteExt), so a
// payload never goes through a UTF-8 round trip.
// Written for the agents' flags at size: under V8's lite mode every line of
// JavaScript is interpreted, and @msgpack/msgpack's general decoder (a state
// stack, a cache of map keys searched byte by byte) made a 100-member list
// cost about 4 ms, the largest part of an agent's CPU at 100 gateways
// (BENCHMARKS.md, session 24). Here the walk is one recursive function, map
// strings are made by the runtime's own UTF-8 decoder, and bytes are views
// of the frame, not copies.
// Must never: return a value for bytes that are not one whole msgpack object
// (it throws, and the caller skips the message), accept `__proto__` as a key,
// or recurse deeper than MAX_DEPTH.

/** Deeper nesting than this is no Serf message; it throws rather than risk the stack. */
export const MAX_DEPTH = 32;

export class SerfDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SerfDecodeError';
  }
}

/**
 * Node's Buffer decodes UTF-8 in native code with `utf8Slice`, which
 * `toString('utf8', …)` calls after argument checks in JavaScript that cost
 * three times the decoding of a short key when interpreted.
 */
type Utf8Slicer = Buffer & { utf8Slice(start: number, end: number): string };

interface Reader {
  /** The frame as a plain Uint8Array: its `subarray` makes no Buffer (whose constructor is JavaScript). */
  bytes: Uint8Array;
  /** The same bytes as a Buffer, for the runtime's UTF-8 decoder. */
  text: Utf8Slicer;
  view: DataView;
  pos: number;
}

function need(r: Reader, n: number): number {
  const at = r.pos;
  if (at + n > r.bytes.length) throw new SerfDecodeError('msgpack object cut short');
  r.pos = at + n;
  return at;
}

function slice(r: Reader, n: number): Uint8Array {
  const at = need(r, n);
  return r.bytes.subarray(at, at + n);
}

function text(r: Reader, n: number): string {
  const at = need(r, n);
  return r.text.utf8Slice(at, at + n);
}

/**
 * A map key: Serf's are short strings (fixstr or str8), read here without
 * `value`'s dispatch, which made a member list 4% slower interpreted.
 */
function key(r: Reader): string {
  const b = r.bytes[r.pos];
  let k: string;
  if (b !== undefined && b >= 0xa0 && b <= 0xbf) {
    r.pos++;
    k = text(r, b & 0x1f);
  } else if (b === 0xd9) {
    k = text(r, r.bytes[need(r, 2) + 1] as number);
  } else {
    // Serf's keys are short strings; anything else (a number, a map) is no message of Serf's.
    throw new SerfDecodeError(`msgpack map key is not a short string (type 0x${(b ?? 0).toString(16)})`);
  }
  if (k === '__proto__') throw new SerfDecodeError('msgpack map key __proto__');
  return k;
}

function map(r: Reader, n: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = key(r);
    out[k] = value(r, depth);
  }
  return out;
}

function array(r: Reader, n: number, depth: number): unknown[] {
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = value(r, depth);
  return out;
}

function value(r: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new SerfDecodeError(`msgpack nested deeper than ${MAX_DEPTH}`);
  const b = r.bytes[need(r, 1)] as number;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b <= 0x8f) return map(r, b & 0x0f, depth + 1);
  if (b <= 0x9f) return array(r, b & 0x0f, depth + 1);
  if (b <= 0xbf) return text(r, b & 0x1f);
  const { view } = r;
  switch (b) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return slice(r, view.getUint8(need(r, 1)));
    case 0xc5: return slice(r, view.getUint16(need(r, 2)));
    case 0xc6: return slice(r, view.getUint32(need(r, 4)));
    case 0xd9: return text(r, view.getUint8(need(r, 1)));
    case 0xda: return text(r, view.getUint16(need(r, 2)));
    case 0xdb: return text(r, view.getUint32(need(r, 4)));
    case 0xca: return view.getFloat32(need(r, 4));
    case 0xcb: return view.getFloat64(need(r, 8));
    case 0xcc: return view.getUint8(need(r, 1));
    case 0xcd: return view.getUint16(need(r, 2));
    case 0xce: return view.getUint32(need(r, 4));
    case 0xcf: {
      const at = need(r, 8);
      return view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
    }
    case 0xd0: return view.getInt8(need(r, 1));
    case 0xd1: return view.getInt16(need(r, 2));
    case 0xd2: return view.getInt32(need(r, 4));
    case 0xd3: {
      const at = need(r, 8);
      return view.getInt32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
    }
    case 0xdc: return array(r, view.getUint16(need(r, 2)), depth + 1);
    case 0xdd: return array(r, view.getUint32(need(r, 4)), depth + 1);
    case 0xde: return map(r, view.getUint16(need(r, 2)), depth + 1);
    case 0xdf: return map(r, view.getUint32(need(r, 4)), depth + 1);
    default:
      // 0xc1 is never used; the ext types (0xc7-0xc9, 0xd4-0xd8) Serf does not send.
      throw new SerfDecodeError(`msgpack type 0x${b.toString(16)} is not one Serf sends`);
  }
}

/** The value of the one msgpack object that `frame` holds, with nothing after it. */
export function decodeSerfFrame(frame: Uint8Array): unknown {
  const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength) as Utf8Slicer;
  const r: Reader = { bytes, text, view: new DataView(frame.buffer, frame.byteOffset, frame.byteLength), pos: 0 };
  const out = value(r, 0);
  if (r.pos !== bytes.length) throw new SerfDecodeError(`${bytes.length - r.pos} bytes after the msgpack object`);
  return out;
}
