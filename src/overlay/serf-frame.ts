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

/** One msgpack header: its bytes with the payload they declare, and how many nested items follow it. */
interface Header { size: number; items: number }

/** A declared length of `width` bytes after the type byte at `pos` (big-endian), or -1 when not all of it is in `buf[..end)`. */
function lengthAt(buf: Uint8Array, end: number, pos: number, width: 1 | 2 | 4): number {
  if (end < pos + 1 + width) return -1;
  let n = 0;
  for (let i = 1; i <= width; i++) n = n * 0x100 + (buf[pos + i] as number);
  return n;
}

function set(out: Header, size: number, items: number): 'ok' {
  out.size = size;
  out.items = items;
  return 'ok';
}

/** A header with `width` length bytes: a payload of that length (plus `extra`), or that many items (`perItem` values each). */
function sized(buf: Uint8Array, end: number, pos: number, out: Header, width: 1 | 2 | 4, extra: number, perItem: 0 | 1 | 2): 'ok' | 'need-more' {
  const n = lengthAt(buf, end, pos, width);
  if (n < 0) return 'need-more';
  return perItem === 0 ? set(out, 1 + width + extra + n, 0) : set(out, 1 + width, n * perItem);
}

/**
 * Reads the header at `pos` into `out`: 'ok', 'need-more' when `buf[..end)`
 * does not hold all of it, or 'invalid'. Allocates nothing: it runs for
 * every value of every Serf reply (a member list at 100 members is some
 * 10,000 of them).
 */
function headerOf(buf: Uint8Array, end: number, pos: number, out: Header): 'ok' | 'need-more' | 'invalid' {
  if (pos >= end) return 'need-more';
  const b = buf[pos] as number;
  if (b <= 0x7f || b >= 0xe0) return set(out, 1, 0);
  if (b <= 0x8f) return set(out, 1, (b & 0x0f) * 2);
  if (b <= 0x9f) return set(out, 1, b & 0x0f);
  if (b <= 0xbf) return set(out, 1 + (b & 0x1f), 0);
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return set(out, 1, 0);
    case 0xc4: case 0xd9: return sized(buf, end, pos, out, 1, 0, 0);
    case 0xc5: case 0xda: return sized(buf, end, pos, out, 2, 0, 0);
    case 0xc6: case 0xdb: return sized(buf, end, pos, out, 4, 0, 0);
    case 0xc7: return sized(buf, end, pos, out, 1, 1, 0);
    case 0xc8: return sized(buf, end, pos, out, 2, 1, 0);
    case 0xc9: return sized(buf, end, pos, out, 4, 1, 0);
    case 0xca: return set(out, 5, 0);
    case 0xcb: return set(out, 9, 0);
    case 0xcc: case 0xd0: return set(out, 2, 0);
    case 0xcd: case 0xd1: return set(out, 3, 0);
    case 0xce: case 0xd2: return set(out, 5, 0);
    case 0xcf: case 0xd3: return set(out, 9, 0);
    case 0xd4: return set(out, 3, 0);
    case 0xd5: return set(out, 4, 0);
    case 0xd6: return set(out, 6, 0);
    case 0xd7: return set(out, 10, 0);
    case 0xd8: return set(out, 18, 0);
    case 0xdc: return sized(buf, end, pos, out, 2, 0, 1);
    case 0xdd: return sized(buf, end, pos, out, 4, 0, 1);
    case 0xde: return sized(buf, end, pos, out, 2, 0, 2);
    case 0xdf: return sized(buf, end, pos, out, 4, 0, 2);
    default: return 'invalid'; // 0xc1 is never used by msgpack
  }
}

/** How far the measuring of one object has got: it starts at `start`, its next header is at `pos`, with `pending` items still to read. */
interface Progress { start: number; pos: number; pending: number }

/** Measures on from `p` over `buf[..end)`, moving `p` along; where a header is cut short it stops before it, to go on when more bytes come. */
function measureOn(buf: Uint8Array, end: number, p: Progress, maxBytes: number, out: Header): MeasureResult {
  for (;;) {
    if (p.pos > end) return { kind: 'need-more' };
    if (p.pending === 0) return { kind: 'complete', length: p.pos - p.start };
    const h = headerOf(buf, end, p.pos, out);
    if (h === 'invalid') return { kind: 'invalid', reason: `invalid msgpack type byte 0x${(buf[p.pos] ?? 0).toString(16)}` };
    if (h === 'need-more') return { kind: 'need-more' };
    p.pos += out.size;
    p.pending += out.items - 1;
    if (p.pos - p.start > maxBytes || p.pending > maxBytes) {
      return { kind: 'invalid', reason: `message larger than ${maxBytes} bytes` };
    }
  }
}

/** Length of the msgpack object starting at `offset`, without decoding it. */
export function measureMsgpack(buf: Uint8Array, offset: number, maxBytes: number): MeasureResult {
  return measureOn(buf, buf.length, { start: offset, pos: offset, pending: 1 }, maxBytes, { size: 0, items: 0 });
}

export interface MsgpackFramer {
  /** Adds received bytes; returns the objects completed by them. Throws SerfFrameError when framing is lost. */
  push(chunk: Uint8Array): Uint8Array[];
}

/**
 * Serf writes its replies through a 4 KiB buffer, so a member list at 100
 * members (some 70 KB) comes in a score of chunks. The framer keeps how far
 * it measured the object under way and goes on from there, in a buffer that
 * grows by doubling: each byte is copied and measured about once. (It used
 * to join and measure from the object's start at every chunk, and that
 * framing was a sixth of a loaded agent's time, BENCHMARKS.md run Q.)
 */
export function createMsgpackFramer(init: { maxMessageBytes?: number } = {}): MsgpackFramer {
  const maxBytes = init.maxMessageBytes ?? 16 * 1024 * 1024;
  let buffer = new Uint8Array(64 * 1024);
  /** Bytes held: buffer[0..end); the object under way starts at progress.start. */
  let end = 0;
  const progress: Progress = { start: 0, pos: 0, pending: 0 };
  const header: Header = { size: 0, items: 0 };
  const room = (more: number): void => {
    if (end + more <= buffer.length) return;
    // Drop what was framed already, then grow if that is not enough.
    const { start } = progress;
    const needed = end - start + more;
    const target = needed <= buffer.length ? buffer : new Uint8Array(Math.max(buffer.length * 2, needed));
    target.set(buffer.subarray(start, end), 0);
    buffer = target;
    end -= start;
    progress.pos -= start;
    progress.start = 0;
  };
  return {
    push(chunk) {
      room(chunk.length);
      buffer.set(chunk, end);
      end += chunk.length;
      const frames: Uint8Array[] = [];
      while (progress.start < end) {
        if (progress.pending === 0) {
          progress.pos = progress.start;
          progress.pending = 1;
        }
        const m = measureOn(buffer, end, progress, maxBytes, header);
        if (m.kind === 'invalid') throw new SerfFrameError(m.reason);
        if (m.kind === 'need-more') break;
        // A copy: the buffer's bytes move when it makes room.
        frames.push(buffer.slice(progress.start, progress.pos));
        progress.start = progress.pos;
        progress.pending = 0;
      }
      if (progress.start === end && progress.pending === 0) {
        end = 0;
        progress.start = 0;
        progress.pos = 0;
      }
      return frames;
    },
  };
}
