// Runs an async step over many gateways with a bound on how many run at once:
// every step starts a Node process, and a small machine has few cores.
// Must never: start more than `limit` steps at a time, or hide a failure.

/** Maps `items` through `step`, at most `limit` at a time, keeping order; rejects with the first failure once running steps settle. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, step: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await step(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
