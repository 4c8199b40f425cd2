// Polling for integration tests: ask until the answer is there or the time
// is up, and say what was awaited (and the last error) when it never came;
// and a bound on a promise that might never settle.

/** Calls `probe` every `intervalMs` until it returns something other than undefined; fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting until ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** `p`, or a rejection once `ms` have passed (the timer does not keep the process alive). */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
