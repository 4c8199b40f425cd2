// A small user of one gateway's slice API, run by bench/slices.ts inside the
// gateway's namespace (the API listens on the namespace's loopback): one Node
// process that signs before it starts the clock, then talks HTTP directly,
// so neither a CLI start (about 300 ms of CPU) nor the namespace entry is in
// what is timed. Its one argument is a JSON job; it prints JSON lines:
//   create  signs a slice.create; with `go`, prints {"ready":true} and waits
//           for a line on stdin; then POSTs it and, with pollMs > 0, polls the
//           slice until it runs: {name, sentAt, answeredAt, status, code,
//           runningAt, polls, view}
//   watch   polls a slice until it runs on `slivers` distinct gateways none
//           of which is in `avoid`; prints {"ready":true} after its first
//           answer, then {at, polls, view}
//   delete  signs and sends a slice.delete for each of `names`
// Times are Date.now(), the clock the agents' logs are stamped with.
// The owner token (for GET) comes in HEARTH_BENCH_TOKEN, not on the command line.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { signDocument } from '../src/cloud/signed-document.js';
import { parseUserPrivateKey } from '../src/cloud/user-key.js';
import { SLICE_KINDS, type SliceView } from '../src/model/slice.js';

interface CreateJob { mode: 'create'; api: string; key: string; spec: Record<string, unknown>; go?: boolean; pollMs: number; timeoutMs: number }
interface WatchJob { mode: 'watch'; api: string; name: string; slivers: number; avoid: string[]; pollMs: number; timeoutMs: number }
interface DeleteJob { mode: 'delete'; api: string; key: string; names: string[] }
type Job = CreateJob | WatchJob | DeleteJob;

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const token = process.env['HEARTH_BENCH_TOKEN'] ?? '';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const out = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

function sign(keyFile: string, kind: string, body: unknown): unknown {
  const { privateKey } = parseUserPrivateKey(readFileSync(keyFile, 'utf8'));
  return signDocument({ kind, body, privateKey, at: Math.floor(Date.now() / 1000), nonce: randomBytes(16).toString('base64url') });
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${job.api}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(method === 'GET' ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { detail: text.slice(0, 200) };
  }
  return { status: res.status, json };
}

async function getSlice(name: string): Promise<SliceView | undefined> {
  try {
    const r = await call('GET', `/api/v1/slices/${encodeURIComponent(name)}`);
    return r.status === 200 ? (r.json as unknown as SliceView) : undefined;
  } catch {
    return undefined;
  }
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', () => {
      rl.close();
      // An open stdin would keep this process alive after its answer.
      process.stdin.destroy();
      resolve();
    });
  });
}

async function create(j: CreateJob): Promise<void> {
  const document = sign(j.key, SLICE_KINDS.create, j.spec);
  const name = String(j.spec['name']);
  // Warm the connection and the code path that is timed, with a request that changes nothing.
  await getSlice(name);
  if (j.go === true) {
    out({ ready: true });
    await waitForGo();
  }
  const sentAt = Date.now();
  let r: { status: number; json: Record<string, unknown> };
  try {
    r = await call('POST', '/api/v1/slices', { document });
  } catch (err) {
    out({ name, sentAt, answeredAt: Date.now(), status: 0, code: 'unreachable', detail: (err as Error).message });
    return;
  }
  const answeredAt = Date.now();
  if (r.status !== 201) {
    out({ name, sentAt, answeredAt, status: r.status, code: r.json['code'] ?? null, detail: r.json['detail'] ?? null });
    return;
  }
  let view = r.json as unknown as SliceView;
  let polls = 0;
  if (j.pollMs > 0) {
    const deadline = sentAt + j.timeoutMs;
    while (view.state !== 'running' && !view.slivers.some((s) => s.observed === 'failed') && Date.now() < deadline) {
      await sleep(j.pollMs);
      view = (await getSlice(name)) ?? view;
      polls++;
    }
  }
  out({ name, sentAt, answeredAt, status: r.status, code: null, runningAt: view.state === 'running' ? Date.now() : null, polls, view });
}

async function watch(j: WatchJob): Promise<void> {
  const deadline = Date.now() + j.timeoutMs;
  let polls = 0;
  let view: SliceView | undefined;
  for (;;) {
    view = (await getSlice(j.name)) ?? view;
    const at = Date.now();
    polls++;
    if (polls === 1) out({ ready: true });
    const hosts = view?.slivers.map((s) => s.gateway) ?? [];
    if (view?.state === 'running' && new Set(hosts).size === j.slivers && !hosts.some((g) => g === null || j.avoid.includes(g))) {
      out({ at, polls, view });
      return;
    }
    if (at > deadline) {
      out({ at: null, polls, view: view ?? null });
      return;
    }
    await sleep(j.pollMs);
  }
}

async function remove(j: DeleteJob): Promise<void> {
  const results = [];
  for (const name of j.names) {
    try {
      const r = await call('DELETE', `/api/v1/slices/${encodeURIComponent(name)}`, { document: sign(j.key, SLICE_KINDS.delete, { name }) });
      results.push({ name, status: r.status, code: r.json['code'] ?? null });
    } catch (err) {
      results.push({ name, status: 0, code: (err as Error).message });
    }
  }
  out({ results });
}

switch (job.mode) {
  case 'create':
    await create(job);
    break;
  case 'watch':
    await watch(job);
    break;
  case 'delete':
    await remove(job);
    break;
  default:
    throw new Error(`unknown job ${JSON.stringify(job)}`);
}
