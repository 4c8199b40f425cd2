// One testbed for a test file's whole story: made before its first test
// (with a user key for the CLI) and taken down after its last, with a
// prefix the runner's sweep knows (t + 3 letters) in case a run is killed;
// and polling that says what it last saw when the wait runs out.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { within } from './until.js';
import { testbedUp } from '../../src/testbed/controller.js';
import { testbedDown } from '../../src/testbed/controller-down.js';
import { runHearth } from '../../src/testbed/gateway-process.js';
import { memberOf, type TestbedState } from '../../src/testbed/state.js';

export interface TestbedFixture {
  readonly prefix: string;
  /** A temporary folder of the file's own (mode 755: unprivileged containers traverse it). */
  readonly root: string;
  /** The testbed's dir, for the controller's operations (kill, partition, heal…). */
  readonly dir: string;
  /** An Ed25519 user key (PKCS#8 PEM, 0600) for `--key`. */
  readonly keyFile: string;
  /** The testbed as it came up; set once `before` has run. */
  readonly state: TestbedState;
  gw(n: number): TestbedState['members'][number];
  /** The hearth CLI on gateway `n`, in its namespace; its stdout. */
  hearth(n: number, args: readonly string[]): Promise<string>;
}

/** Registers the before/after hooks of a testbed of `gateways` for the calling file. */
export function useTestbed(init: { name: string; gateways: number; seed: number; underlay: string }): TestbedFixture {
  const prefix = `t${Array.from({ length: 3 }, () => 'abcdefghijklmnopqrstuvwxyz'[randomInt(26)]).join('')}`;
  const root = mkdtempSync(join(tmpdir(), `testbed-${init.name}-`));
  chmodSync(root, 0o755);
  const dir = join(root, 'tb');
  const keyFile = join(root, 'alice');
  let state: TestbedState | undefined;
  const current = (): TestbedState => {
    if (state === undefined) throw new Error('the testbed is not up (before has not run)');
    return state;
  };
  before(async () => {
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    // What up said, with when it said it: printed only if up fails, to tell which stage took the time.
    const said: string[] = [];
    try {
      const result = await testbedUp({
        gateways: init.gateways, dir, prefix, seed: init.seed, port: await freePort(),
        underlay: { network: `${init.underlay}.${randomInt(256)}.0`, prefixLength: 24 },
        progress: (line) => said.push(`${new Date().toISOString()} ${line}`),
      });
      state = result.state;
    } catch (error) {
      console.error(`testbed ${prefix}: up failed; what it said:\n${said.join('\n')}`);
      throw error;
    }
  });
  after(async () => {
    await testbedDown({ dir });
    rmSync(root, { recursive: true, force: true });
  });
  return {
    prefix, root, dir, keyFile,
    get state() {
      return current();
    },
    gw: (n) => memberOf(current(), n),
    hearth: (n, args) => runHearth(memberOf(current(), n), args),
  };
}

/**
 * Polls every second until `check` holds, saying what it last saw when it
 * never does. A probe that does not answer by the deadline counts as a
 * failed one: a page whose renderer died never answers `page.evaluate`,
 * and the test should fail saying so, not hang.
 */
export async function eventually<T>(what: string, seconds: number, probe: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  const deadline = performance.now() + seconds * 1000;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    last = await within(probe(), Math.max(1000, deadline - performance.now())).catch((err: unknown) => {
      error = err;
      return last;
    });
    if (last !== undefined && check(last)) return last;
    if (performance.now() > deadline) {
      assert.fail(`never ${what} within ${seconds} s; last seen: ${JSON.stringify(last)}${error === undefined ? '' : `; last error: ${String(error)}`}`);
    }
    await sleep(1000);
  }
}
