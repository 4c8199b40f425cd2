// A small seeded PRNG (mulberry32): whatever draws from it (the testbed's
// layout and link emulation, tests, the simulator) is reproducible from its seed.
// Must never: read Math.random or the clock.

/** Returns a generator of floats in [0, 1), deterministic for a 32-bit seed. */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
