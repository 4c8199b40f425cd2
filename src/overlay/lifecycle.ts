// The life of this gateway's membership, as a pure state machine: whether
// the overlay (Serf, its RPC, the membership view, the peer server) should
// run, is running, is waiting to try again, or must stay down because the
// community revoked this gateway. The agent's shell feeds it what happened
// and carries out the commands it returns.
// Pure. Must never: read a clock, start a timer, or touch Serf itself; time
// comes in as `now` (monotonic ms), timers go out as commands with a token,
// and a timer whose token is stale is ignored.

import type { CommunityPhase } from '../model/community.js';

/** What kind of trouble took the overlay down: it decides the fix an owner is told. */
export type FailureKind = 'serf-missing' | 'address-in-use' | 'keyring' | 'left' | 'crashed' | 'revoked' | 'other';

export interface Failure {
  kind: FailureKind;
  message: string;
}

export interface LifecycleState {
  phase: CommunityPhase;
  /** Why the phase is what it is, for anything but none/joined. */
  failure: Failure | null;
  /** When the phase began (monotonic ms). */
  since: number;
  /** Failed attempts in a row, reset once joined. */
  attempts: number;
  /** When the next attempt is due (monotonic ms), while retrying. */
  retryAt: number | null;
  /** Who makes the next attempt: our timer, or Serf's own supervisor (after a crash). */
  retryBy: 'timer' | 'supervisor' | null;
  /** The token of the live retry timer; a timer with any other token is stale. */
  timer: number;
}

export type LifecycleInput =
  /** The agent starts: is there a community file, and is this gateway's own id revoked? */
  | { type: 'boot'; inCommunity: boolean; selfRevoked: boolean }
  /** A create or join brought the overlay up by the owner's request. */
  | { type: 'entered' }
  | { type: 'started' }
  | { type: 'start-failed'; failure: Failure }
  /** Serf died; its supervisor restarts it after `delayMs`. */
  | { type: 'serf-crashed'; failure: Failure; delayMs: number }
  | { type: 'serf-ready' }
  /** Serf ended for good (it left on its own); the overlay must be rebuilt. */
  | { type: 'serf-exited'; failure: Failure }
  | { type: 'timer'; token: number }
  /** This gateway learned its own id is on the community's revocation list. */
  | { type: 'self-revoked' }
  | { type: 'left' }
  | { type: 'shutdown' };

export type LifecycleCommand =
  | { type: 'start-overlay' }
  | { type: 'stop-overlay' }
  | { type: 'set-timer'; token: number; delayMs: number }
  | { type: 'cancel-timer' }
  /** A change worth an event log line and a log line. */
  | { type: 'record'; phase: CommunityPhase; failure: Failure | null };

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000 };

export const INITIAL_LIFECYCLE: LifecycleState = { phase: 'none', failure: null, since: 0, attempts: 0, retryAt: null, retryBy: null, timer: 0 };

/** The wait before attempt `attempts + 1`: doubling from initialMs, capped at maxMs. */
export function retryDelay(attempts: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempts - 1));
}

export interface Step {
  state: LifecycleState;
  commands: LifecycleCommand[];
}

function enter(state: LifecycleState, phase: CommunityPhase, failure: Failure | null, now: number, extra: Partial<LifecycleState> = {}): LifecycleState {
  return { ...state, phase, failure, since: now, retryAt: null, retryBy: null, ...extra };
}

function record(s: LifecycleState): LifecycleCommand {
  return { type: 'record', phase: s.phase, failure: s.failure };
}

/** After a failure: wait, then start again; the wait doubles with every failure in a row. */
function retry(state: LifecycleState, failure: Failure, now: number, backoff: Backoff, stop: boolean): Step {
  const attempts = state.attempts + 1;
  const delayMs = retryDelay(attempts, backoff);
  const timer = state.timer + 1;
  const next = enter(state, 'retrying', failure, now, { attempts, retryAt: now + delayMs, retryBy: 'timer', timer });
  return {
    state: next,
    commands: [...(stop ? [{ type: 'stop-overlay' } as const] : []), { type: 'set-timer', token: timer, delayMs }, record(next)],
  };
}

function revoked(state: LifecycleState, now: number, stop: boolean): Step {
  const next = enter(state, 'revoked', { kind: 'revoked', message: "this gateway's identity was revoked by the community" }, now, { timer: state.timer + 1 });
  return { state: next, commands: [...(stop ? [{ type: 'stop-overlay' } as const] : []), { type: 'cancel-timer' }, record(next)] };
}

export function stepLifecycle(state: LifecycleState, input: LifecycleInput, now: number, backoff: Backoff = DEFAULT_BACKOFF): Step {
  const same: Step = { state, commands: [] };
  const running = state.phase === 'starting' || state.phase === 'joined';
  switch (input.type) {
    case 'boot': {
      if (!input.inCommunity) return same;
      if (input.selfRevoked) return revoked(state, now, false);
      const next = enter(state, 'starting', null, now);
      return { state: next, commands: [{ type: 'start-overlay' }] };
    }
    case 'entered': {
      const next = enter(state, 'joined', null, now, { attempts: 0, timer: state.timer + 1 });
      return { state: next, commands: [{ type: 'cancel-timer' }, record(next)] };
    }
    case 'started': {
      if (state.phase !== 'starting') return same;
      const next = enter(state, 'joined', null, now, { attempts: 0 });
      return { state: next, commands: [record(next)] };
    }
    case 'start-failed':
      if (state.phase !== 'starting') return same;
      return retry(state, input.failure, now, backoff, false);
    case 'serf-crashed': {
      // The supervisor restarts serf itself; the rest of the overlay waits for it.
      if (!(state.phase === 'joined' || (state.phase === 'retrying' && state.retryBy === 'supervisor'))) return same;
      const next = enter(state, 'retrying', input.failure, now, { attempts: state.attempts + 1, retryAt: now + input.delayMs, retryBy: 'supervisor' });
      return { state: next, commands: [record(next)] };
    }
    case 'serf-ready': {
      if (state.phase !== 'retrying' || state.retryBy !== 'supervisor') return same;
      const next = enter(state, 'joined', null, now, { attempts: 0 });
      return { state: next, commands: [record(next)] };
    }
    case 'serf-exited':
      if (!running && state.phase !== 'retrying') return same;
      return retry(state, input.failure, now, backoff, true);
    case 'timer': {
      if (input.token !== state.timer || state.phase !== 'retrying') return same;
      const next = enter(state, 'starting', state.failure, now);
      return { state: next, commands: [{ type: 'start-overlay' }] };
    }
    case 'self-revoked':
      if (state.phase === 'none' || state.phase === 'revoked') return same;
      return revoked(state, now, true);
    case 'left': {
      const next = enter(state, 'none', null, now, { attempts: 0, timer: state.timer + 1 });
      return { state: next, commands: [{ type: 'cancel-timer' }, record(next)] };
    }
    case 'shutdown': {
      const next = { ...state, timer: state.timer + 1 };
      return { state: next, commands: [{ type: 'cancel-timer' }, ...(running || state.phase === 'retrying' ? [{ type: 'stop-overlay' } as const] : [])] };
    }
  }
}

/** What kind of failure Serf's last words describe (its own log lines, or our error message). */
export function classifyFailure(message: string): FailureKind {
  if (/failed to execute \S*serf|spawn \S*serf ENOENT|cannot run \S*serf/i.test(message)) return 'serf-missing';
  if (/address already in use|EADDRINUSE|bind: cannot assign requested address/i.test(message)) return 'address-in-use';
  if (/keyring|encrypt(ion)? key|invalid key|decode.*key/i.test(message)) return 'keyring';
  return 'other';
}

/** What an owner can do about a failure, in one line; none where waiting is the fix. */
export function fixFor(failure: Failure, paths: { config: string; keyring: string }): string | undefined {
  switch (failure.kind) {
    case 'serf-missing':
      return 'install Serf: apt-get install serf (or ./setup.sh)';
    case 'address-in-use':
      return `another process holds the gossip, RPC or peer port; stop it, or change community.bind / community.rpcPort / peer.port in ${paths.config} and restart the agent`;
    case 'keyring':
      return `the gossip keyring ${paths.keyring} is unreadable or invalid: run "hearth community leave", then join again with a new invite`;
    case 'revoked':
      return 'the community revoked this gateway: "hearth community leave" clears it; to come back it needs a new identity (stop the agent, remove <data dir>/identity) and a new invite';
    case 'left':
    case 'crashed':
    case 'other':
      return undefined;
  }
}
