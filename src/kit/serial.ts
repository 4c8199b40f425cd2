// One operation at a time: each waits for the one before it to end, whether
// that one succeeded or failed. For parts whose operations read state and
// then write it (a ruleset, a tunnel's peers, a shaper's classes), where two
// running at once would see each other half done.
// Must never: let a failure stop the operations queued after it.

/** Runs `work` once every operation queued before it has ended; resolves or rejects as `work` does. */
export type Serial = <T>(work: () => Promise<T>) => Promise<T>;

export function createSerial(): Serial {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };
}
