// The per-pair link parameters the link emulator applies: one directed entry
// per (source, destination) gateway pair. Row and column i stand for gateway
// i + 1, so gateway numbers stay 1-based everywhere users see them.
// Must never: do I/O; it is data and its validation only.

import { HearthError } from '../model/errors.js';

/** What one directed path between two gateways does to a frame. */
export interface Link {
  delayMs: number;
  /** The delay varies uniformly within ± this much (never below zero). */
  jitterMs: number;
  /** Probability in [0, 1] that a frame is lost on this path. */
  loss: number;
  /** 0 means unlimited. */
  rateBitsPerSecond: number;
}

export interface LinkMatrix {
  delayMs: number[][];
  jitterMs: number[][];
  loss: number[][];
  rateBitsPerSecond: number[][];
}

function square(n: number, value: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: n }, () => value));
}

/** Every pair of `gateways` gateways gets the same link. */
export function uniformLinkMatrix(gateways: number, link: Link): LinkMatrix {
  return {
    delayMs: square(gateways, link.delayMs),
    jitterMs: square(gateways, link.jitterMs),
    loss: square(gateways, link.loss),
    rateBitsPerSecond: square(gateways, link.rateBitsPerSecond),
  };
}

/** Sets the link between gateways `a` and `b` (1-based) in both directions. */
export function setPairLink(matrix: LinkMatrix, a: number, b: number, link: Link): void {
  for (const [src, dst] of [[a, b], [b, a]] as const) {
    const s = src - 1;
    const d = dst - 1;
    const rows = [matrix.delayMs[s], matrix.jitterMs[s], matrix.loss[s], matrix.rateBitsPerSecond[s]];
    if (rows.some((row) => row === undefined || d < 0 || d >= row.length)) {
      throw new HearthError('invalid_request', `no gateway pair ${a}-${b} in a ${matrix.delayMs.length}-gateway matrix`);
    }
    (matrix.delayMs[s] as number[])[d] = link.delayMs;
    (matrix.jitterMs[s] as number[])[d] = link.jitterMs;
    (matrix.loss[s] as number[])[d] = link.loss;
    (matrix.rateBitsPerSecond[s] as number[])[d] = link.rateBitsPerSecond;
  }
}

/** The link from gateway `src` to gateway `dst` (1-based); undefined outside the matrix. */
export function linkOf(matrix: LinkMatrix, src: number, dst: number): Link | undefined {
  const s = src - 1;
  const d = dst - 1;
  const delayMs = matrix.delayMs[s]?.[d];
  const jitterMs = matrix.jitterMs[s]?.[d];
  const loss = matrix.loss[s]?.[d];
  const rateBitsPerSecond = matrix.rateBitsPerSecond[s]?.[d];
  if (delayMs === undefined || jitterMs === undefined || loss === undefined || rateBitsPerSecond === undefined) return undefined;
  return { delayMs, jitterMs, loss, rateBitsPerSecond };
}

/** Throws `invalid_request` unless the matrix is square, consistent and in range; returns its gateway count. */
export function checkLinkMatrix(matrix: LinkMatrix): number {
  const n = matrix.delayMs.length;
  const parts = { delayMs: matrix.delayMs, jitterMs: matrix.jitterMs, loss: matrix.loss, rateBitsPerSecond: matrix.rateBitsPerSecond };
  for (const [name, rows] of Object.entries(parts)) {
    if (!Array.isArray(rows) || rows.length !== n) throw new HearthError('invalid_request', `link matrix ${name} must have ${n} rows`);
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== n) throw new HearthError('invalid_request', `link matrix ${name} must be ${n}×${n}`);
      for (const value of row) {
        const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0 && (name !== 'loss' || value <= 1);
        if (!ok) throw new HearthError('invalid_request', `link matrix ${name} holds an invalid value ${String(value)}`);
      }
    }
  }
  return n;
}
