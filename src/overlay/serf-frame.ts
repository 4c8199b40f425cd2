// Splits the byte stream of a Serf RPC connection into whole msgpack objects.
// Serf sends headers and bodies back to back with no length prefix, so the
// only way to find where one object ends is to walk its msgpack structure.
// Measuring without decoding lets a malformed *value* (bad UTF-8, an odd
// shape) be skipped as one message while the framing stays intact.
// Must never: decode values, or buffer more than `maxMessageBytes` waiting
// for one object (a hostile length would otherwise grow memory unbounded).

export type MeasureResult =
  | { kind: 'complete'; length: number }
  | { kind: 'need-more' }
  | { kind: 'invalid'; reason: string };

/** Thrown when the stream cannot be framed any more; the connection must be dropped. */
export class SerfFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SerfFrameError';
  }
}

/** Bytes of header and payload for one msgpack type byte, and how many nested items follow it. */
function headerOf(buf: Uint8Array, pos: number): { size: number; items: number } | 'need-more' | 'invalid' {
  const avail = buf.length - pos;
  const b = buf[pos];
  if (b === undefined) return 'need-more';
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = (width: 1 | 2 | 4): number | undefined => {
    if (avail < 1 + width) return undefined;
    if (width === 1) return view.getUint8(pos + 1);
    if (width === 2) return view.getUint16(pos + 1);
    return view.getUint32(pos + 1);
  };
  const withLength = (width: 1 | 2 | 4, extra: number, perItem: 0 | 1 | 2) => {
    const n = len(width);
    if (n === undefined) return 'need-more' as const;
    return perItem === 0 ? { size: 1 + width + extra + n, items: 0 } : { size: 1 + width, items: n * perItem };
  };
  if (b <= 0x7f || b >= 0xe0) return { size: 1, items: 0 };
  if (b <= 0x8f) return { size: 1, items: (b & 0x0f) * 2 };
  if (b <= 0x9f) return { size: 1, items: b & 0x0f };
  if (b <= 0xbf) return { size: 1 + (b & 0x1f), items: 0 };
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return { size: 1, items: 0 };
    case 0xc4: case 0xd9: return withLength(1, 0, 0);
    case 0xc5: case 0xda: return withLength(2, 0, 0);
    case 0xc6: case 0xdb: return withLength(4, 0, 0);
    case 0xc7: return withLength(1, 1, 0);
    case 0xc8: return withLength(2, 1, 0);
    case 0xc9: return withLength(4, 1, 0);
    case 0xca: return { size: 5, items: 0 };
    case 0xcb: return { size: 9, items: 0 };
    case 0xcc: case 0xd0: return { size: 2, items: 0 };
    case 0xcd: case 0xd1: return { size: 3, items: 0 };
    case 0xce: case 0xd2: return { size: 5, items: 0 };
    case 0xcf: case 0xd3: return { size: 9, items: 0 };
    case 0xd4: return { size: 3, items: 0 };
    case 0xd5: return { size: 4, items: 0 };
    case 0xd6: return { size: 6, items: 0 };
    case 0xd7: return { size: 10, items: 0 };
    case 0xd8: return { size: 18, items: 0 };
    case 0xdc: return withLength(2, 0, 1);
    case 0xdd: return withLength(4, 0, 1);
    case 0xde: return withLength(2, 0, 2);
    case 0xdf: return withLength(4, 0, 2);
    default: return 'invalid'; // 0xc1 is never used by msgpack
  }
}

/** Length of the msgpack object starting at `offset`, without decoding it. */
export function measureMsgpack(buf: Uint8Array, offset: number, maxBytes: number): MeasureResult {
  let pos = offset;
  let pending = 1;
  while (pending > 0) {
    const h = headerOf(buf, pos);
    if (h === 'invalid') return { kind: 'invalid', reason: `invalid msgpack type byte 0x${(buf[pos] ?? 0).toString(16)}` };
    if (h === 'need-more') return { kind: 'need-more' };
    pos += h.size;
    pending += h.items - 1;
    if (pos - offset > maxBytes || pending > maxBytes) {
      return { kind: 'invalid', reason: `message larger than ${maxBytes} bytes` };
    }
    if (pos > buf.length) return { kind: 'need-more' };
  }
  return { kind: 'complete', length: pos - offset };
}

export interface MsgpackFramer {
  /** Adds received bytes; returns the objects completed by them. Throws SerfFrameError when framing is lost. */
  push(chunk: Uint8Array): Uint8Array[];
}

export function createMsgpackFramer(init: { maxMessageBytes?: number } = {}): MsgpackFramer {
  const maxBytes = init.maxMessageBytes ?? 16 * 1024 * 1024;
  let buffer: Uint8Array = new Uint8Array(0);
  return {
    push(chunk) {
      const joined = new Uint8Array(buffer.length + chunk.length);
      joined.set(buffer, 0);
      joined.set(chunk, buffer.length);
      const frames: Uint8Array[] = [];
      let offset = 0;
      for (;;) {
        if (offset >= joined.length) break;
        const m = measureMsgpack(joined, offset, maxBytes);
        if (m.kind === 'invalid') throw new SerfFrameError(m.reason);
        if (m.kind === 'need-more') break;
        frames.push(joined.subarray(offset, offset + m.length));
        offset += m.length;
      }
      buffer = joined.slice(offset);
      return frames;
    },
  };
}
