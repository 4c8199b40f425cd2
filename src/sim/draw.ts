// Random draws the simulator needs beyond kit/rng's uniform: exponential and
// Weibull samples, a weighted choice, and a stateless hash to a uniform, so a
// member's learn time of a rumor is a pure function of (seed, rumor, member)
// and costs nothing to store. Pure.
// Must never: read Math.random or the clock.

/** One exponential sample of the given mean. */
export function exponential(rng: () => number, mean: number): number {
  return -mean * Math.log(1 - rng());
}

export interface Weibull {
  shape: number;
  /** In the unit of the samples (ms in the simulator). */
  scale: number;
}

/** One Weibull sample (inverse CDF). */
export function weibull(rng: () => number, w: Weibull): number {
  return w.scale * Math.pow(-Math.log(1 - rng()), 1 / w.shape);
}

/** Γ(x) for x > 0 by the Lanczos approximation (g = 7), enough digits for a mean. */
function gamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * a;
}

export function weibullMean(w: Weibull): number {
  return w.scale * gamma(1 + 1 / w.shape);
}

/** An item of `choices` drawn with probability proportional to its weight. */
export function weighted<T>(rng: () => number, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((s, [, w]) => s + w, 0);
  let x = rng() * total;
  for (const [item, w] of choices) {
    x -= w;
    if (x < 0) return item;
  }
  return (choices[choices.length - 1] as readonly [T, number])[0];
}

/** A 32-bit integer mix (the murmur3 finaliser). */
function mix(h0: number): number {
  let h = h0 >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A uniform in [0, 1) that depends only on its three integer arguments. */
export function hashUniform(a: number, b: number, c: number): number {
  return mix(a ^ mix((b + 0x9e3779b9) ^ mix(c + 0x7f4a7c15))) / 4294967296;
}

/** The q-quantile (0..1) of `values` by the nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}
