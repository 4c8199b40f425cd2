// Work done in rounds: every `intervalMs` and whenever asked (a change seen
// elsewhere), one round at a time; asking during a round makes one more
// right after it, not one per ask. A failed round is reported and the next
// one runs as usual.
// Must never: run two rounds at once, or keep the process alive by itself.

export interface Rounds {
  /** A round now, or one more after the current; resolves when the round under way ends. */
  tick(): Promise<void>;
  start(): void;
  /** No more rounds; resolves once the one under way has ended. */
  stop(): Promise<void>;
}

export interface RoundsInit {
  round: () => Promise<void>;
  onError: (err: unknown) => void;
  intervalMs: number;
  /** Subscribes `tick` to the changes that call for a round at once; returns the unsubscribe. */
  wake?: (tick: () => void) => () => void;
}

export function createRounds(init: RoundsInit): Rounds {
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let current: Promise<void> | undefined;
  let again = false;

  const tick = (): Promise<void> => {
    if (current !== undefined) {
      again = true;
      return current;
    }
    current = init.round().catch(init.onError).finally(() => {
      current = undefined;
      if (again && timer !== undefined) {
        again = false;
        void tick();
      }
    });
    return current;
  };

  return {
    tick,
    start() {
      timer = setInterval(() => void tick(), init.intervalMs);
      timer.unref();
      unsubscribe = init.wake?.(() => void tick());
    },
    async stop() {
      unsubscribe?.();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await current;
    },
  };
}
