// A pause that an AbortSignal cuts short, rejecting with the signal's reason
// (node:timers/promises rejects with a generic AbortError instead, which
// would hide why a step stopped).
// Must never: outlive its signal.

import { setTimeout as sleep } from 'node:timers/promises';

export async function delay(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
}
