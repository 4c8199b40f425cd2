// The timer seam: parts that wait or time out take a `Timers` so a test or
// the simulator can drive time itself; everything else gets `realTimers`.
// Must never: hold state of its own; a handle means something only to the
// `Timers` that made it.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
