// This gateway's membership of a community: creating or joining one,
// inviting, leaving, rotating the gossip key, revoking a member; and, while
// a member, running the overlay: the supervised Serf agent, its RPC client,
// the membership view, the gossiped tags, and the mutual-TLS peer server
// whose trust is the gossiped fingerprints minus the revoked ones.
// Must never: hard-code a bootstrap address, or trust a peer by name.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { delay } from '../kit/delay.js';
import { HearthError } from '../model/errors.js';
import { validateName } from '../model/sliver.js';
import type { Identity } from '../overlay/identity.js';
import { createInvite, readInvite } from '../overlay/invite.js';
import { createListeners } from '../overlay/port.js';
import { createSerfOverlay, type SerfOverlay } from '../overlay/serf-overlay.js';
import { VIEW_DIGEST_PATH, startCatchUp, viewDigestReply, type CatchUp } from '../overlay/catch-up.js';
import { createSerfAgent, type SerfAgent } from '../overlay/serf-agent.js';
import { COMMUNITY_LINK_TIMING } from '../overlay/serf-agent-config.js';
import { createSerfRpc, type SerfRpc } from '../overlay/serf-rpc.js';
import {
  INITIAL_LIFECYCLE, classifyFailure, fixFor, stepLifecycle,
  type Failure, type LifecycleCommand, type LifecycleInput,
} from '../overlay/lifecycle.js';
import type { CommunityStatus } from '../model/community.js';
import type { CommunityApi } from '../api/routes/community.js';
import type { ResourceVector } from '../model/resources.js';
import { encodeTags, type GatewayTags, type OwnerMode } from '../overlay/tags.js';
import { fingerprintOf, memberByFingerprint, nodeRows, peerAddress, type ViewState } from '../overlay/view.js';
import { createPeerServer, type PeerServer } from '../peer/server.js';
import { createPeerClient, type PeerClient } from '../peer/client.js';
import { createPeerCaller, type PeerCaller } from '../peer/caller.js';
import type { PeerRoute } from '../peer/router.js';
import { REVOCATIONS_DIGEST, REVOKE_EVENT, revokedEndpoints } from '../cloud/revocations.js';
import { GOSSIP_TO_THE_DEAD_MS, rotationGate, trackOut } from '../cloud/key-rotation.js';
import type { PeerDigest } from '../cloud/anti-entropy.js';
import { createRevocations } from './revocations.js';
import { readCommunityFile, seedsFrom, writeCommunityFile, type CommunityFile } from './community-file.js';
import type { PeerPins, PeerTrust } from '../peer/trust.js';
import type { Store } from '../store/store.js';
import type { BlockedPeer } from '../net/types.js';
import { parseHostPort } from '../model/host-port.js';
import type { AgentConfig } from './config.js';
import type { Logger } from '../model/logger.js';




export type { CommunityStatus };

export interface CommunityInit {
  dataDir: string;
  config: AgentConfig;
  identity: Identity;
  store: Store;
  log: Logger;
  version: string;
  /** What this gateway offers and has free now, for its tags. */
  resources: () => { contributed: ResourceVector; free: ResourceVector };
  mode?: () => OwnerMode;
  /** The owner's zone, for its tags. */
  zone?: () => string | null;
  /** Who may use this gateway, in brief, for its tags. */
  access?: () => GatewayTags['access'];
  /** Clock for invite expiry, in seconds since the epoch. */
  nowSec?: () => number;
  /** The set of revoked members, or their addresses, changed: the firewall must follow. */
  onBlockedChange?: () => void;
  /** Peer routes other parts offer to the community, served while this gateway is in one. */
  routes?: readonly PeerRoute[];
  /** From how many ms on a peer call or request is logged as slow; the peer client's and server's 1 s unless given. */
  slowPeerMs?: number;
}

/** The community verbs of the API, and what the rest of the agent needs: trust, peer calls, the firewall's list. */
export interface Community extends CommunityApi {
  readonly trust: PeerTrust;
  readonly pins: PeerPins;
  /** Calls another member's peer API by name; refused while the overlay is down. */
  readonly caller: PeerCaller;
  /** The membership view without revoked members; refused while the overlay is down. */
  view(): ViewState;
  /** Gossips a digest in this gateway's tags (undefined drops it); kept across overlay restarts. */
  publishDigest(key: string, digest: string | undefined): void;
  /** Called after every change of the membership view, whichever overlay runs; returns the unsubscribe. */
  onViewChange(listener: () => void): () => void;
  /** Revoked members' gossip endpoints, for the firewall (loopback ones cannot be told apart from us, so never). */
  blockedPeers(): BlockedPeer[];
  /** Start the overlay if this gateway is in a community. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  file: CommunityFile;
  serf: SerfAgent;
  rpc: SerfRpc;
  /** The overlay's connection for this gateway's tags (see createSerfOverlay). */
  tagsRpc: SerfRpc;
  overlay: SerfOverlay;
  peer: PeerServer;
  client: PeerClient;
  caller: PeerCaller;
  publishTimer: NodeJS.Timeout | undefined;
  /** The catch-up push-pulls: a young member's, and one once the joins it sees quieten (fed each view). */
  catchUp: CatchUp;
  /** Set once we stop it ourselves, so serf's exit is not taken for a failure. */
  stopping: boolean;
}

/**
 * Join through the invite's addresses, trying again on lossy links: one
 * push-pull over a few 5%-loss hops can fail where the next succeeds.
 */
async function joinWithRetry(rpc: SerfRpc, addresses: string[], attempts = 4): Promise<void> {
  let last = 'no member answered';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await delay(1000 * 2 ** (i - 1));
    try {
      if (await rpc.join(addresses, false) > 0) return;
    } catch (err) {
      if (!(err instanceof HearthError) || err.code !== 'overlay_rejected') throw err;
      last = err.message === '' ? err.code : err.message;
    }
  }
  throw new HearthError('join_failed', `no member at ${addresses.join(', ')} answered after ${attempts} attempts (${last})`);
}

/** A member's gossiped peer address while it is alive and has one. */
function addressOf(overlay: SerfOverlay, name: string): string | undefined {
  const m = overlay.view().members.get(name);
  return m === undefined || m.status !== 'alive' ? undefined : (peerAddress(m) ?? undefined);
}

/** How long the check before a push-pull after joins waits for the other agent's digest; then it pushes-pulls anyway. */
const VIEW_CHECK_TIMEOUT_MS = 3000;

const notIn = (): HearthError => new HearthError('not_in_community', 'this gateway is not in a community; create one or join with an invite');

export function createCommunity(init: CommunityInit): Community {
  const { config, store, log } = init;
  const serfDir = join(init.dataDir, 'serf');
  const file = join(init.dataDir, 'community.json');
  const keyringFile = join(serfDir, 'keyring.json');
  const nowSec = init.nowSec ?? (() => Math.floor(Date.now() / 1000));
  let running: Running | undefined;
  /** The community this gateway is in, whether or not its overlay runs. */
  let current: CommunityFile | undefined;
  let life = INITIAL_LIFECYCLE;
  let retryTimer: NodeJS.Timeout | undefined;
  /** The overlay start in flight and the overlay stops under way: leave and stop wait for them. */
  let inFlight: Promise<void> = Promise.resolve();
  const viewListeners = createListeners<[]>((err) => log.warn({ err: (err as Error).message }, 'a view listener failed'));
  /** The digests this gateway gossips in its tags; they outlive an overlay restart. */
  const digests = new Map<string, string>();
  const setDigest = (key: string, digest: string | undefined): void => {
    if (running !== undefined) running.overlay.publishDigest(key, digest);
    else if (digest === undefined) digests.delete(key);
    else digests.set(key, digest);
  };
  const revocations = createRevocations({
    store, selfId: init.identity.id, log,
    onChange: () => {
      setDigest(REVOCATIONS_DIGEST, revocations.digest());
      noteBlocked();
    },
    onSelfRevoked: () => dispatch({ type: 'self-revoked' }),
  });
  const persisted = revocations.digest();
  if (persisted !== undefined) digests.set(REVOCATIONS_DIGEST, persisted);
  /** When each member fell out of the gossip (monotonic ms); absent while alive. */
  let outSince: ReadonlyMap<string, number> = new Map();
  const noteOut = (view: ViewState): void => {
    outSince = trackOut(outSince, view, performance.now());
  };

  const tags = (): Omit<GatewayTags, 'digests'> => {
    const { contributed, free } = init.resources();
    return {
      id: init.identity.id,
      api: config.peer.advertise ?? `:${config.peer.port}`,
      contributed, free,
      mode: init.mode?.() ?? 'production',
      version: init.version,
      zone: init.zone?.() ?? null,
      access: init.access?.() ?? { quota: null, allowlist: false },
    };
  };

  let blockedKey = '[]';
  const blockedPeers = (): BlockedPeer[] => {
    const localPort = parseHostPort(config.community.bind)?.port;
    if (running === undefined || localPort === undefined) return [];
    return revokedEndpoints(running.overlay.view(), revocations.ids(), localPort);
  };
  /** Tell the agent when the blocked set changes (a revocation, or a revoked member's address). */
  const noteBlocked = (): void => {
    const key = JSON.stringify(blockedPeers());
    if (key === blockedKey) return;
    blockedKey = key;
    init.onBlockedChange?.();
  };

  /** Every other member's revocation digest, as anti-entropy needs it. */
  const revocationDigests = (r: Running): PeerDigest[] => [...r.overlay.view().members.values()]
    .filter((m) => m.name !== config.name)
    .map((m) => ({
      member: m.name,
      digest: m.tags?.digests[REVOCATIONS_DIGEST],
      reachable: m.status === 'alive' && peerAddress(m) !== null && pins.fingerprintOf(m.name) !== undefined,
    }));

  const readFileState = (): Promise<CommunityFile | undefined> => readCommunityFile(file);
  const writeFileState = (state: CommunityFile): Promise<void> => writeCommunityFile(file, state);

  /** Keep a few live members' addresses, so a restart finds the community even with a young snapshot. */
  const rememberSeeds = async (r: Running): Promise<void> => {
    const seeds = seedsFrom(r.overlay.view(), config.name);
    if (seeds.length === 0 || JSON.stringify(seeds) === JSON.stringify(r.file.seeds)) return;
    r.file = { ...r.file, seeds };
    current = r.file;
    await writeFileState(r.file);
  };

  /** Serf's last words and our error, as one failure the owner can read. */
  const failureOf = (err: unknown): Failure => {
    const message = err instanceof Error ? err.message : String(err);
    return { kind: classifyFailure(message), message };
  };

  /**
   * Brings up Serf, its RPC, the membership view and the peer server, or
   * throws having taken down whatever of them it had started. Serf joins the
   * seeds by itself, and keeps trying, unless a `joinSeeds` is given: that runs
   * as soon as Serf's RPC answers, before the view is first read, and must
   * throw when no seed answers.
   */
  const startOverlay = async (state: CommunityFile, encryptKey?: string, joinSeeds?: (rpc: SerfRpc) => Promise<void>): Promise<Running> => {
    await mkdir(serfDir, { recursive: true, mode: 0o700 });
    const rpcAddress = `127.0.0.1:${config.community.rpcPort}`;
    const serfLog = log.child({ part: 'serf' });
    const serf = createSerfAgent({
      nodeName: config.name,
      bindAddress: config.community.bind,
      ...(config.community.advertise === undefined ? {} : { advertiseAddress: config.community.advertise }),
      rpcAddress,
      rpcAuthKey: state.rpcAuthKey,
      ...(encryptKey === undefined ? {} : { encryptKey }),
      keyringFile,
      snapshotPath: join(serfDir, 'snapshot'),
      tagsFile: join(serfDir, 'tags.json'),
      tags: encodeTags({ ...tags(), digests: Object.fromEntries(digests) }),
      profile: config.community.profile,
      timing: config.community.timing ?? COMMUNITY_LINK_TIMING,
      ...(state.seeds.length === 0 || joinSeeds !== undefined ? {} : { join: state.seeds }),
      configFile: join(serfDir, 'config.json'),
      ...(config.community.serfBinary === undefined ? {} : { binary: config.community.serfBinary }),
      log: serfLog,
    });
    const undo: (() => Promise<void>)[] = [];
    try {
      await serf.start();
      undo.push(() => serf.stop());
      const openRpc = async (): Promise<SerfRpc> => {
        const client = createSerfRpc({ address: rpcAddress, authKey: state.rpcAuthKey, log: serfLog });
        undo.push(() => client.close());
        await client.connect();
        return client;
      };
      const rpc = await openRpc();
      await joinSeeds?.(rpc);
      // The tags' own connection (createSerfOverlay says why).
      const tagsRpc = await openRpc();
      const overlay = createSerfOverlay({ rpc, tagsRpc, self: config.name, log: log.child({ part: 'membership' }), digests, tags });
      // Serf's news goes to this overlay from now on, its start included (a stopped one ignores it): a joiner's
      // start took seconds on a busy machine, and news dropped meanwhile waited for Serf's coalesced event
      // (BENCHMARKS.md, session 39).
      serf.events.on('member-news', (news) => overlay.notice(news));
      const peerLog = log.child({ part: 'peer' });
      const client = createPeerClient({ identity: init.identity, trust: pins, log: peerLog, ...(init.slowPeerMs === undefined ? {} : { slowCallMs: init.slowPeerMs }) });
      undo.push(async () => client.close());
      const caller = createPeerCaller({ client, addressOf: (name) => addressOf(overlay, name) });
      // Whether it just joined, restarted or created the community (then alone: nothing to sync).
      // Its check before a push-pull asks the other member's agent over the peer API.
      const catchUp = startCatchUp({
        self: config.name, view: () => overlay.view(), join: (addresses) => rpc.join(addresses, false), log: log.child({ part: 'membership' }),
        digestOf: (member) => caller.call(member, { method: 'GET', path: VIEW_DIGEST_PATH }, undefined, { timeoutMs: VIEW_CHECK_TIMEOUT_MS }),
      });
      undo.push(() => catchUp.stop());
      overlay.onView((view) => {
        catchUp.viewChanged(view);
        noteOut(view);
        noteBlocked();
        viewListeners.emit();
      });
      // The event names the revoked member by id; its name, for the log and the list, comes from this overlay's view.
      overlay.onUserEvent(REVOKE_EVENT, (payload) => revocations.onRevokeEvent(payload, (id) =>
        [...overlay.view().members.values()].find((m) => m.tags?.id === id)?.name ?? null));
      undo.push(() => overlay.stop());
      await overlay.start();
      const peer = createPeerServer({
        identity: init.identity, name: config.name, trust, host: config.peer.host, port: config.peer.port,
        log: peerLog, ...(init.slowPeerMs === undefined ? {} : { slowRequestMs: init.slowPeerMs }),
        routes: [
          revocations.route,
          { method: 'GET', path: VIEW_DIGEST_PATH, handler: async () => ({ body: viewDigestReply(overlay.view()) }) },
          ...(init.routes ?? []),
        ],
      });
      await peer.start().catch((err: unknown) => {
        throw new HearthError('overlay_unavailable', `the peer API cannot listen on ${config.peer.host}:${config.peer.port}: ${(err as Error).message}`, {}, { cause: err });
      });
      undo.push(() => peer.stop());
      const r: Running = {
        file: state, serf, rpc, tagsRpc, overlay, peer, client, caller, publishTimer: undefined, stopping: false, catchUp,
      };
      // Serf's own supervisor restarts a crashed serf; one that ends for good takes the overlay down.
      serf.events.on('restart', (info) => {
        if (running !== r || r.stopping) return;
        const words = serf.lastOutput().slice(-3).join(' | ');
        dispatch({ type: 'serf-crashed', delayMs: info.delayMs, failure: { kind: 'crashed', message: `serf died (${String(info.code ?? info.signal)})${words === '' ? '' : `: ${words}`}` } });
      });
      serf.events.on('ready', () => {
        if (running === r && !r.stopping) dispatch({ type: 'serf-ready' });
      });
      serf.events.on('exit', (info) => {
        if (running !== r || r.stopping) return;
        const words = serf.lastOutput().slice(-3).join(' | ');
        dispatch({ type: 'serf-exited', failure: { kind: 'left', message: `serf left the community on its own (exit ${String(info.code ?? info.signal)})${words === '' ? '' : `: ${words}`}` } });
      });
      const warn = (what: string) => (err: unknown): void => log.warn({ err: (err as Error).message }, what);
      r.publishTimer = setInterval(() => {
        overlay.publish().catch(warn('publishing tags failed'));
        rememberSeeds(r).catch(warn('saving seed addresses failed'));
        revocations.sync(revocationDigests(r), caller).catch(warn('pulling revocations failed'));
        noteBlocked();
      }, 2000);
      r.publishTimer.unref();
      // Serf started with these tags; this only catches up on digests set meanwhile. A Serf that did not
      // send the update within its broadcast timeout has set it all the same (publish counts that as done);
      // any other failure is published again by the timer above: failing the join for it would tell the
      // owner a lie.
      await overlay.publish().catch(warn('publishing tags failed; publishing again in 2 s'));
      log.info({ community: state.name, bind: config.community.bind, peer: `${config.peer.host}:${config.peer.port}` }, 'in the community');
      return r;
    } catch (err) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw err;
    }
  };

  const stopOverlay = async (r: Running): Promise<void> => {
    r.stopping = true;
    if (r.publishTimer !== undefined) clearInterval(r.publishTimer);
    // Before Serf's leave: a push-pull still in flight would end after it and cancel it (startCatchUp says how).
    await r.catchUp.stop();
    r.client.close();
    await r.peer.stop();
    await r.overlay.stop();
    await r.tagsRpc.close();
    await r.rpc.close();
    await r.serf.stop();
  };

  /** Runs one attempt of the life cycle's start: the overlay is kept only if the cycle still wants it. */
  const attemptStart = async (): Promise<void> => {
    const state = await readFileState();
    if (state === undefined) {
      dispatch({ type: 'start-failed', failure: { kind: 'other', message: `${file} is missing or unreadable` } });
      return;
    }
    current = state;
    let r: Running;
    try {
      r = await startOverlay(state);
    } catch (err) {
      dispatch({ type: 'start-failed', failure: failureOf(err) });
      return;
    }
    if (life.phase !== 'starting') {
      // Left, revoked or shut down while it started.
      await stopOverlay(r).catch(() => undefined);
      return;
    }
    running = r;
    dispatch({ type: 'started' });
  };

  const execute = (command: LifecycleCommand): void => {
    switch (command.type) {
      case 'start-overlay':
        inFlight = inFlight.then(attemptStart, attemptStart);
        return;
      case 'stop-overlay': {
        const r = running;
        running = undefined;
        if (r === undefined) return;
        const stop = (): Promise<void> => stopOverlay(r).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'stopping the overlay failed'));
        inFlight = inFlight.then(stop, stop);
        return;
      }
      case 'set-timer':
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => dispatch({ type: 'timer', token: command.token }), command.delayMs);
        retryTimer.unref();
        return;
      case 'cancel-timer':
        clearTimeout(retryTimer);
        retryTimer = undefined;
        return;
      case 'record': {
        const detail = { state: command.phase, reason: command.failure?.message ?? null, kind: command.failure?.kind ?? null, attempts: life.attempts };
        store.appendEvent(null, 'community.state', detail);
        if (command.failure === null) log.info(detail, 'community state');
        else log.warn({ ...detail, retryInMs: life.retryAt === null ? null : Math.round(life.retryAt - performance.now()) }, 'community state');
        return;
      }
    }
  };

  /** Feed the life cycle one input and carry out what it says. */
  function dispatch(input: LifecycleInput): void {
    const step = stepLifecycle(life, input, performance.now());
    life = step.state;
    for (const command of step.commands) execute(command);
  }

  /** Monotonic milliseconds as wall-clock ISO time. */
  const wallTime = (monotonicMs: number): string => new Date(Date.now() - (performance.now() - monotonicMs)).toISOString();

  const status = (): CommunityStatus | null => {
    if (life.phase === 'none' || current === undefined) return null;
    const members = { alive: 0, failed: 0, left: 0, total: 0 };
    let othersAlive = 0;
    for (const m of running?.overlay.view().members.values() ?? []) {
      members.total++;
      if (m.status === 'alive') {
        members.alive++;
        if (m.name !== config.name) othersAlive++;
      } else if (m.status === 'failed') members.failed++;
      else if (m.status === 'left') members.left++;
    }
    const alone = life.phase === 'joined' && othersAlive === 0 && current.seeds.length > 0;
    return {
      name: current.name, self: config.name, id: init.identity.id,
      state: life.phase,
      reason: life.failure?.message ?? null,
      fix: (life.failure === null ? undefined : fixFor(life.failure, { config: join(init.dataDir, 'config.json'), keyring: keyringFile })) ?? null,
      since: wallTime(life.since),
      attempts: life.attempts,
      retryAt: life.retryAt === null ? null : wallTime(life.retryAt),
      warning: alone
        ? 'no other member answers: if the community rotated its gossip key while this gateway was away, it needs a new invite ("hearth community leave", then join)'
        : null,
      members,
      serfRestarts: running?.serf.restarts ?? 0,
      badTags: running?.overlay.view().badTags ?? 0,
    };
  };

  /** The running overlay, or the reason there is none, as an error for the caller. */
  const mustRun = (): Running => {
    if (running !== undefined && life.phase === 'joined') return running;
    switch (life.phase) {
      case 'none':
        throw notIn();
      case 'revoked':
        throw new HearthError('gateway_revoked', `this gateway was revoked by community ${current?.name ?? ''}; "hearth community leave" clears it`);
      default:
        throw new HearthError('overlay_unavailable', `the community side of this gateway is ${life.phase}${life.failure === null ? '' : `: ${life.failure.message}`}`, { state: life.phase });
    }
  };

  const mustNotBeIn = async (): Promise<void> => {
    const existing = current ?? (await readFileState());
    if (existing !== undefined) throw new HearthError('already_in_community', `this gateway is already in community ${existing.name}; leave it first`);
  };

  const trust: PeerTrust = {
    memberByFingerprint: (fp) => (running === undefined ? undefined : memberByFingerprint(running.overlay.view(), fp, revocations.ids())),
  };
  const pins: PeerPins = {
    fingerprintOf: (member) => (running === undefined ? undefined : fingerprintOf(running.overlay.view(), member, revocations.ids())),
  };

  /** Enter a community at the owner's request: the overlay must come up now, or nothing is kept. */
  const enter = async (state: CommunityFile, encryptKey: string, joinSeeds?: (rpc: SerfRpc) => Promise<void>): Promise<Running> => {
    await rm(serfDir, { recursive: true, force: true });
    await writeFileState(state);
    let r: Running | undefined;
    try {
      r = await startOverlay(state, encryptKey, joinSeeds);
    } catch (err) {
      if (r !== undefined) await stopOverlay(r).catch(() => undefined);
      await rm(file, { force: true });
      await rm(serfDir, { recursive: true, force: true });
      throw err;
    }
    current = state;
    running = r;
    dispatch({ type: 'entered' });
    return r;
  };

  const caller: PeerCaller = {
    call: (member, route, body, opts) => {
      try {
        return mustRun().caller.call(member, route, body, opts);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };

  /** The view without revoked members, as last built, and what it was built from. */
  let withoutRevoked: { all: ViewState; revoked: ReadonlySet<string>; view: ViewState } | undefined;

  return {
    trust,
    pins,
    caller,
    publishDigest: setDigest,
    onViewChange: (listener) => viewListeners.add(listener),
    view() {
      const all = mustRun().overlay.view();
      const revoked = revocations.ids();
      // Asked for every tick by every part: built again only when the view or the revocations changed.
      if (withoutRevoked?.all !== all || withoutRevoked.revoked !== revoked) {
        const view = revoked.size === 0 ? all : { ...all, members: new Map([...all.members].filter(([, m]) => m.tags === null || !revoked.has(m.tags.id))) };
        withoutRevoked = { all, revoked, view };
      }
      return withoutRevoked.view;
    },
    status,
    blockedPeers,
    nodes() {
      const r = mustRun();
      return { self: config.name, community: r.file.name, items: nodeRows(r.overlay.view(), config.name, revocations.ids()) };
    },
    async create(name) {
      validateName('community', name);
      await mustNotBeIn();
      const state: CommunityFile = { name, rpcAuthKey: randomBytes(24).toString('base64url'), joinedAt: new Date().toISOString(), seeds: [] };
      await enter(state, randomBytes(32).toString('base64'));
      store.appendEvent(null, 'community.created', { name });
      return status() as CommunityStatus;
    },
    async join(token) {
      const invite = readInvite(token, nowSec());
      await mustNotBeIn();
      const state: CommunityFile = { name: invite.community, rpcAuthKey: randomBytes(24).toString('base64url'), joinedAt: new Date().toISOString(), seeds: invite.addresses };
      // The join contacts the seeds itself, to answer whether any did. Serf joining them too, as at a restart,
      // made each joiner push-pull the member list with its seed twice and gossip two join intents that every
      // member takes and hands on (BENCHMARKS.md, session 39).
      const r = await enter(state, invite.key, (rpc) => joinWithRetry(rpc, invite.addresses));
      // The issuer signed the token; seeing its id among the members shows the token came from inside.
      const issuerSeen = [...r.overlay.view().members.values()].some((m) => m.tags?.id === invite.issuer);
      store.appendEvent(null, 'community.joined', { name: invite.community, issuer: invite.issuer, issuerSeen });
      return { ...(status() as CommunityStatus), issuerSeen, contacted: invite.addresses.length };
    },
    async invite(expiresInSec) {
      const r = mustRun();
      const keys = JSON.parse(await readFile(keyringFile, 'utf8')) as string[];
      const primary = keys[0];
      if (primary === undefined) throw new HearthError('internal', `the keyring ${keyringFile} is empty`);
      const self = r.overlay.view().members.get(config.name);
      const others = [...r.overlay.view().members.values()].filter((m) => m.status === 'alive' && m.tags !== null && m.name !== config.name);
      const addresses = [...(self === undefined ? [] : [self.serfAddr]), ...others.slice(0, 4).map((m) => m.serfAddr)];
      const expires = expiresInSec === null ? null : nowSec() + expiresInSec;
      const token = createInvite({ community: r.file.name, key: primary, addresses, expires }, init.identity);
      store.appendEvent(null, 'community.invite', { expires, addresses });
      return { token, expires, addresses };
    },
    async leave() {
      if (life.phase === 'none' || current === undefined) throw notIn();
      const name = current.name;
      dispatch({ type: 'shutdown' });
      dispatch({ type: 'left' });
      await inFlight;
      current = undefined;
      await rm(file, { force: true });
      await rm(serfDir, { recursive: true, force: true });
      // Revocations belong to the community left; a community joined later has its own.
      revocations.clear();
      store.appendEvent(null, 'community.left', { name });
    },
    async rotateKey() {
      const r = mustRun();
      // Serf's keyring queries reach every live member: a revoked one still
      // gossiping would receive the new key. Every member cuts its gossip at
      // the firewall, so it soon shows as failed; rotate only then, and only
      // once memberlist has stopped gossiping to it.
      const gate = rotationGate(r.overlay.view(), revocations.ids(), outSince, performance.now(), GOSSIP_TO_THE_DEAD_MS[config.community.profile]);
      if (gate.kind === 'refuse') {
        throw new HearthError('invalid_state', `revoked ${gate.stillIn.join(', ')} still gossips and would receive the new key; wait until hearth nodes shows it failed, then rotate`, { revoked: gate.stillIn });
      }
      if (gate.kind === 'wait') {
        log.info({ waitMs: Math.round(gate.ms) }, 'waiting until no member gossips to the revoked ones before rotating');
        await delay(gate.ms);
      }
      const old = (JSON.parse(await readFile(keyringFile, 'utf8')) as string[])[0];
      const next = randomBytes(32).toString('base64');
      const check = (step: string, res: { numErr: number; numNodes: number; messages: Record<string, string> }): void => {
        if (res.numErr > 0) throw new HearthError('overlay_rejected', `${step} failed on ${res.numErr} of ${res.numNodes} members: ${JSON.stringify(res.messages)}`);
      };
      // Install everywhere, then switch, then drop the old key: members never stop understanding each other.
      const installed = await r.rpc.installKey(next);
      check('installing the new key', installed);
      check('switching to the new key', await r.rpc.useKey(next));
      if (old !== undefined) check('removing the old key', await r.rpc.removeKey(old));
      store.appendEvent(null, 'community.key-rotated', { nodes: installed.numNodes });
      return { nodes: installed.numNodes, errors: installed.messages };
    },
    async revoke(ref) {
      const r = mustRun();
      const members = [...r.overlay.view().members.values()];
      const member = members.find((m) => m.name === ref) ?? members.find((m) => m.tags?.id === ref);
      const id = member?.tags?.id ?? (/^[0-9a-f]{64}$/.test(ref) ? ref : undefined);
      if (id === undefined) throw new HearthError('node_not_found', `no member named ${JSON.stringify(ref.slice(0, 80))} with a hearth identity`);
      if (id === init.identity.id) throw new HearthError('invalid_request', 'a gateway cannot revoke itself; use leave');
      revocations.learn(id, member?.name ?? null);
      await r.overlay.userEvent(REVOKE_EVENT, Buffer.from(id, 'hex'));
      if (member !== undefined && member.status !== 'left') await r.rpc.forceLeave(member.name).catch((err: unknown) => {
        log.warn({ member: member.name, err: (err as Error).message }, 'force-leave of a revoked member failed');
      });
      return { id, name: member?.name ?? null };
    },
    async start() {
      current = await readFileState();
      dispatch({ type: 'boot', inCommunity: current !== undefined, selfRevoked: revocations.has(init.identity.id) });
      // The first attempt's outcome is known before the agent says it started; it never throws.
      await inFlight;
    },
    async stop() {
      dispatch({ type: 'shutdown' });
      await inFlight;
    },
  };
}
