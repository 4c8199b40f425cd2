// A pause that an AbortSignal cuts short, rejecting with the signal's reason
// (node:timers/promises rejects with a generic AbortError instead, which
// would hide why a step stopped). It runs on injected timers where a part
// has them (the Serf supervisor's tests drive its clock), else on real ones.
// Must never: outlive its signal, or leave its timer running once aborted.

import { realTimers, type Timers } from './timers.js';

export interface DelayOptions {
  signal?: AbortSignal;
  timers?: Timers;
}

export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, timers = realTimers } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
