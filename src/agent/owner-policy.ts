// <data dir>/policy.json: the owner's mode and who may use the gateway, kept
// across restarts and changed through the API (`hearth node mode|policy`).
// A missing file is the default: production, any user, no quota.
// Must never: start with a policy it cannot read as if it were the default
// (a corrupt file is an error the owner must see), or leave half a file.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../kit/atomic-write.js';
import { HearthError } from '../model/errors.js';
import { DEFAULT_POLICY, parsePolicy, type OwnerPolicy } from '../model/policy.js';

export interface OwnerPolicyStore {
  get(): OwnerPolicy;
  /** Validates, writes, then takes effect; returns the policy as stored. */
  set(policy: unknown): Promise<OwnerPolicy>;
}

export async function loadOwnerPolicy(dataDir: string, onChange: (p: OwnerPolicy) => void = () => undefined): Promise<OwnerPolicyStore> {
  const file = join(dataDir, 'policy.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let current: OwnerPolicy = DEFAULT_POLICY;
  if (text !== undefined) {
    try {
      current = parsePolicy(JSON.parse(text));
    } catch (err) {
      throw new HearthError('invalid_request', `${file} is not a policy hearth can read (${(err as Error).message}); fix or remove it`, { file });
    }
  }
  return {
    get: () => current,
    async set(input) {
      const next = parsePolicy(input);
      await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o644 });
      current = next;
      onChange(next);
      return next;
    },
  };
}
