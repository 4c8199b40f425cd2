// The services' puller over a named in-memory fake community (members with
// services digests in their tags, a caller whose answers the test releases)
// and a fake store with no slivers: at most two lists pulled at once, the
// next one started as soon as one ends, not at the next round; and a change
// of the view wakes a round only when it has a list to pull.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServices } from '../../../src/agent/services.js';
import { SERVICES_DIGEST } from '../../../src/cloud/services.js';
import { silentLogger } from '../../../src/model/logger.js';
import type { MemberView, ViewState } from '../../../src/overlay/view.js';
import { memberView } from '../../support/member-view.js';
import type { Store } from '../../../src/store/store.js';

const member = (name: string, digest: string | undefined, status: MemberView['status'] = 'alive'): MemberView =>
  memberView(name, { status, ...(digest === undefined ? {} : { digests: { [SERVICES_DIGEST]: digest } }) });

function fakeServices(members: MemberView[]) {
  let view: ViewState = { members: new Map(members.map((m) => [m.name, m])), badTags: 0 };
  const listeners: (() => void)[] = [];
  /** Pulls under way, by member: the test answers them. */
  const pulls = new Map<string, () => void>();
  const asked: string[] = [];
  let rounds = 0;
  const store = {
    // Every round lists the slivers (the same number of times): a count of rounds.
    listSlivers: () => {
      rounds++;
      return [];
    },
    listServices: () => [],
    appendEvent: () => undefined,
  } as unknown as Store;
  const services = createServices({
    self: 'gw0', store, log: silentLogger, intervalMs: 3_600_000,
    community: () => ({
      view: () => view,
      caller: {
        call: (to: string) => new Promise((resolve) => {
          asked.push(to);
          pulls.set(to, () => resolve({ items: [{ name: 'web', type: 'http', protocol: 'tcp', hostPort: 8080, sliver: `${to}-s`, slice: 's' }] }));
        }),
      },
      publishDigest: () => undefined,
      onViewChange: (listener: () => void) => {
        listeners.push(listener);
        return () => undefined;
      },
    }),
  });
  return {
    services, asked,
    rounds: () => rounds,
    answer: async (name: string): Promise<void> => {
      pulls.get(name)?.();
      pulls.delete(name);
      // The answer's handler runs, then the next pull goes out.
      await new Promise((resolve) => setImmediate(resolve));
    },
    change: (m: MemberView): void => {
      view = { ...view, members: new Map(view.members).set(m.name, m) };
      for (const l of listeners) l();
    },
  };
}

test('two lists are pulled at once, and the next goes out as soon as one ends, not at the next round', async () => {
  const { services, asked, rounds, answer } = fakeServices([member('gw0', undefined), ...['gw1', 'gw2', 'gw3'].map((n) => member(n, `d-${n}`.padEnd(11, '0')))]);
  await services.tick();
  assert.equal(asked.length, 2);
  const waiting = ['gw1', 'gw2', 'gw3'].find((n) => !asked.includes(n)) as string;
  const before = rounds();
  await answer(asked[0] as string);
  assert.equal(asked.length, 3, 'the third pull went out when the first ended');
  assert.equal(asked[2], waiting);
  assert.equal(rounds(), before, 'without a round');
  await answer(asked[1] as string);
  await answer(waiting);
  assert.equal(services.directory().length, 3);
  await services.stop();
});

test('a change of the view wakes a round only when it has a list to pull', async () => {
  const { services, asked, rounds, change } = fakeServices([member('gw1', 'd-gw1'.padEnd(11, '0')), member('gw2', undefined)]);
  services.start();
  let before = rounds();
  await services.tick();
  assert.deepEqual(asked, ['gw1']);
  const perRound = rounds() - before;
  before = rounds();
  // A member that announces nothing fails; the announcing one fails: nothing to pull from either.
  change(member('gw2', undefined, 'failed'));
  change(member('gw1', 'd-gw1'.padEnd(11, '0'), 'failed'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(rounds(), before, 'no round');
  // It comes back with a new list: a round at once.
  change(member('gw1', 'd2-gw1'.padEnd(11, '0')));
  await services.stop();
  assert.equal(rounds(), before + perRound, 'one round');
});
