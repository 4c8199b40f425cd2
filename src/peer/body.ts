// Reading a bounded HTTP body, for requests (server) and replies (client).
// Must never: buffer more than the limit, or destroy the stream itself: the
// caller decides whether the connection can still be reused.

import type { Readable } from 'node:stream';

export type BodyRead = { kind: 'ok'; bytes: Buffer } | { kind: 'too_large' };

/**
 * Collects the body up to `limit` bytes. Past the limit it stops collecting and
 * resolves `too_large`; the stream keeps flowing, so the rest is discarded.
 */
export function readBody(stream: Readable, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        resolve({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ kind: 'ok', bytes: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('the connection closed before the body ended'));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/** Whether a Content-Type header names JSON (problem+json included). */
export function isJsonContentType(header: string | undefined): boolean {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' || type === 'application/problem+json';
}
