// The testbed's state file, `<dir>/state.json`: what `hearth testbed up`
// built (prefix, addresses, data dirs, the emulator's and agents' pids), so
// later verbs from any shell can find it and `down` can remove exactly that.
// It is written before anything is built and after every change, so even an
// interrupted `up` leaves a record of what exists.
// Must never: describe anything the testbed did not make.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { writeFileAtomicSync } from '../kit/atomic-write.js';
import { HearthError } from '../model/errors.js';

const Subnet = Type.Object({ network: Type.String(), prefixLength: Type.Integer() });

const GatewayState = Type.Object({
  gateway: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  namespace: Type.String(),
  dataDir: Type.String(),
  communityAddress: Type.String(),
  underlayAddress: Type.String(),
  apiPort: Type.Integer(),
  /** The agent's pid while it runs, null once stopped or killed. */
  pid: Type.Union([Type.Integer(), Type.Null()]),
});

export const TestbedStateSchema = Type.Object({
  version: Type.Literal(1),
  dir: Type.String(),
  prefix: Type.String(),
  gateways: Type.Integer({ minimum: 1 }),
  profile: Type.String(),
  seed: Type.Integer(),
  underlay: Subnet,
  community: Subnet,
  port: Type.Integer(),
  emulator: Type.Object({
    pid: Type.Union([Type.Integer(), Type.Null()]),
    control: Type.String(),
    configPath: Type.String(),
    logPath: Type.String(),
  }),
  /** The community's name once formed, null before (or without the community step). */
  communityName: Type.Union([Type.String(), Type.Null()]),
  members: Type.Array(GatewayState),
});

export type TestbedState = Static<typeof TestbedStateSchema>;
export type TestbedGatewayState = Static<typeof GatewayState>;

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

/** The state of the testbed in `dir`, or undefined when there is none. */
export function readTestbedState(dir: string): TestbedState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(dir), 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HearthError('malformed_json', `${statePath(dir)} is not JSON; remove it if no testbed runs`, {}, { cause: error });
  }
  if (!Value.Check(TestbedStateSchema, value)) {
    throw new HearthError('invalid_request', `${statePath(dir)} is not a testbed state file of this version; remove it if no testbed runs`);
  }
  return value;
}

/** The state of the testbed in `dir`; a clear error when nothing is up there. */
export function requireTestbedState(dir: string): TestbedState {
  const state = readTestbedState(dir);
  if (state === undefined) throw new HearthError('not_found', `no testbed is up in ${dir} (no ${statePath(dir)}); start one with "hearth testbed up"`);
  return state;
}

// Replaced whole, so a reader never sees half a state.
export function writeTestbedState(state: TestbedState): void {
  writeFileAtomicSync(statePath(state.dir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export function removeTestbedState(dir: string): void {
  rmSync(statePath(dir), { force: true });
}

export function memberOf(state: TestbedState, gateway: number): TestbedGatewayState {
  const member = state.members.find((m) => m.gateway === gateway);
  if (member === undefined) throw new HearthError('not_found', `the testbed in ${state.dir} has no gateway ${gateway}`);
  return member;
}
