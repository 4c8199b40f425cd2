// The community life cycle as a transcript: each step feeds one input at a
// time and checks the phase and the commands the shell must carry out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INITIAL_LIFECYCLE, classifyFailure, fixFor, retryDelay, stepLifecycle,
  type LifecycleInput, type LifecycleState, type LifecycleCommand,
} from '../../../src/overlay/lifecycle.js';

const backoff = { initialMs: 1000, maxMs: 8000 };

/** Runs `inputs` in order (each at its own time) and returns the last state and every command, in order. */
function play(inputs: [number, LifecycleInput][], from: LifecycleState = INITIAL_LIFECYCLE): { state: LifecycleState; log: LifecycleCommand['type'][][] } {
  let state = from;
  const log: LifecycleCommand['type'][][] = [];
  for (const [now, input] of inputs) {
    const step = stepLifecycle(state, input, now, backoff);
    state = step.state;
    log.push(step.commands.map((c) => c.type));
  }
  return { state, log };
}

const bindFailure = { kind: 'address-in-use', message: 'bind: address already in use' } as const;

void describe('community life cycle', () => {
  void test('not in a community: boot does nothing', () => {
    const { state, log } = play([[0, { type: 'boot', inCommunity: false, selfRevoked: false }]]);
    assert.equal(state.phase, 'none');
    assert.deepEqual(log, [[]]);
  });

  void test('boot, start, joined: one start command and one record', () => {
    const { state, log } = play([[0, { type: 'boot', inCommunity: true, selfRevoked: false }], [5, { type: 'started' }]]);
    assert.equal(state.phase, 'joined');
    assert.equal(state.since, 5);
    assert.deepEqual(log, [['start-overlay'], ['record']]);
  });

  void test('a failed start is retried with a doubling, capped back-off, and attempts reset once joined', () => {
    let state = play([[0, { type: 'boot', inCommunity: true, selfRevoked: false }]]).state;
    const waits: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      const failed = stepLifecycle(state, { type: 'start-failed', failure: bindFailure }, now, backoff);
      assert.equal(failed.state.phase, 'retrying');
      assert.equal(failed.state.failure?.kind, 'address-in-use');
      const timer = failed.commands.find((c) => c.type === 'set-timer');
      assert.ok(timer?.type === 'set-timer');
      waits.push(timer.delayMs);
      assert.equal(failed.state.retryAt, now + timer.delayMs);
      now += timer.delayMs;
      const fired = stepLifecycle(failed.state, { type: 'timer', token: timer.token }, now, backoff);
      assert.equal(fired.state.phase, 'starting');
      assert.deepEqual(fired.commands, [{ type: 'start-overlay' }]);
      state = fired.state;
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 8000, 8000]);
    assert.equal(state.attempts, 6);
    state = stepLifecycle(state, { type: 'started' }, now, backoff).state;
    assert.equal(state.phase, 'joined');
    assert.equal(state.attempts, 0);
  });

  void test('a stale timer token is ignored', () => {
    const { state } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'start-failed', failure: bindFailure }],
    ]);
    const stale = stepLifecycle(state, { type: 'timer', token: state.timer - 1 }, 5000, backoff);
    assert.equal(stale.state, state);
    assert.deepEqual(stale.commands, []);
  });

  void test('serf leaving on its own takes the overlay down and tries again', () => {
    const { state, log } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'started' }],
      [9, { type: 'serf-exited', failure: { kind: 'left', message: 'serf left' } }],
    ]);
    assert.equal(state.phase, 'retrying');
    assert.equal(state.retryBy, 'timer');
    assert.deepEqual(log.at(-1), ['stop-overlay', 'set-timer', 'record']);
  });

  void test('a crash is retried by the supervisor: no timer of ours, and ready means joined again', () => {
    const { state, log } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'started' }],
      [2, { type: 'serf-crashed', delayMs: 500, failure: { kind: 'crashed', message: 'serf died (9)' } }],
      [3, { type: 'serf-crashed', delayMs: 1000, failure: { kind: 'crashed', message: 'serf died (9)' } }],
    ]);
    assert.equal(state.phase, 'retrying');
    assert.equal(state.retryBy, 'supervisor');
    assert.equal(state.attempts, 2);
    assert.equal(state.retryAt, 1003);
    assert.deepEqual(log.slice(2), [['record'], ['record']]);
    const ready = stepLifecycle(state, { type: 'serf-ready' }, 1003, backoff);
    assert.equal(ready.state.phase, 'joined');
    assert.equal(ready.state.attempts, 0);
  });

  void test('ready from a supervisor is ignored while waiting on our own timer', () => {
    const { state } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'start-failed', failure: bindFailure }],
    ]);
    assert.equal(stepLifecycle(state, { type: 'serf-ready' }, 2, backoff).state, state);
  });

  void test('revoked: the overlay stops, no timer runs, nothing restarts it, and a boot stays revoked', () => {
    const { state, log } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'started' }],
      [2, { type: 'self-revoked' }],
      [3, { type: 'serf-exited', failure: { kind: 'left', message: 'serf left' } }],
      [4, { type: 'timer', token: 1 }],
    ]);
    assert.equal(state.phase, 'revoked');
    assert.equal(state.failure?.kind, 'revoked');
    assert.deepEqual(log.slice(2), [['stop-overlay', 'cancel-timer', 'record'], [], []]);
    const booted = play([[0, { type: 'boot', inCommunity: true, selfRevoked: true }]]);
    assert.equal(booted.state.phase, 'revoked');
    assert.deepEqual(booted.log, [['cancel-timer', 'record']]);
  });

  void test('a revocation learned while retrying cancels the retry', () => {
    const { state, log } = play([
      [0, { type: 'boot', inCommunity: true, selfRevoked: false }],
      [1, { type: 'start-failed', failure: bindFailure }],
      [2, { type: 'self-revoked' }],
    ]);
    assert.equal(state.phase, 'revoked');
    assert.deepEqual(log.at(-1), ['stop-overlay', 'cancel-timer', 'record']);
    assert.equal(stepLifecycle(state, { type: 'timer', token: state.timer }, 3, backoff).state.phase, 'revoked');
  });

  void test('left from any phase is none, and its timer is dead', () => {
    for (const setup of [
      [[0, { type: 'boot', inCommunity: true, selfRevoked: false }], [1, { type: 'start-failed', failure: bindFailure }]],
      [[0, { type: 'boot', inCommunity: true, selfRevoked: true }]],
      [[0, { type: 'entered' }]],
    ] as [number, LifecycleInput][][]) {
      const before = play(setup).state;
      const after = stepLifecycle(before, { type: 'left' }, 10, backoff);
      assert.equal(after.state.phase, 'none');
      assert.equal(stepLifecycle(after.state, { type: 'timer', token: before.timer }, 11, backoff).state.phase, 'none');
    }
  });

  void test('shutdown stops a running or retrying overlay and kills the timer', () => {
    const joined = play([[0, { type: 'entered' }]]).state;
    assert.deepEqual(stepLifecycle(joined, { type: 'shutdown' }, 1, backoff).commands.map((c) => c.type), ['cancel-timer', 'stop-overlay']);
    const revoked = play([[0, { type: 'boot', inCommunity: true, selfRevoked: true }]]).state;
    assert.deepEqual(stepLifecycle(revoked, { type: 'shutdown' }, 1, backoff).commands.map((c) => c.type), ['cancel-timer']);
  });

  void test('retryDelay doubles from the initial wait and stops at the cap', () => {
    assert.deepEqual([1, 2, 3, 7, 30].map((n) => retryDelay(n)), [1000, 2000, 4000, 60_000, 60_000]);
  });

  void test("Serf's last words are sorted into kinds that each have their own fix", () => {
    const cases: [string, string][] = [
      ['serf exited (127) before its RPC answered: setpriv: failed to execute /opt/serf: No such file or directory', 'serf-missing'],
      ['cannot run serf: spawn serf ENOENT', 'serf-missing'],
      ['==> Failed to start the Serf agent: Failed to start TCP listener on "127.0.0.1" port 7946: listen tcp 127.0.0.1:7946: bind: address already in use', 'address-in-use'],
      ['listen EADDRINUSE: address already in use 0.0.0.0:7471', 'address-in-use'],
      ['==> Failed to setup the Serf agent: Failed to decode keyring file: invalid character', 'keyring'],
      ['Failed to restore keyring: key size must be 16, 24 or 32 bytes', 'keyring'],
      ["serf's RPC at 127.0.0.1:7373 did not answer within 30000 ms", 'other'],
    ];
    for (const [message, kind] of cases) assert.equal(classifyFailure(message), kind, message);
    const paths = { config: '/d/config.json', keyring: '/d/serf/keyring.json' };
    assert.match(fixFor({ kind: 'serf-missing', message: '' }, paths) ?? '', /apt-get install serf/);
    assert.match(fixFor({ kind: 'address-in-use', message: '' }, paths) ?? '', /\/d\/config\.json/);
    assert.match(fixFor({ kind: 'keyring', message: '' }, paths) ?? '', /community leave/);
    assert.match(fixFor({ kind: 'revoked', message: '' }, paths) ?? '', /new identity/);
    assert.equal(fixFor({ kind: 'crashed', message: '' }, paths), undefined);
  });
});
