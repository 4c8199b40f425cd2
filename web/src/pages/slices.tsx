// The slices page: every slice of the community as the gateway gathers it
// from its hosts (the owner sees all of them), each with its state, where
// each of its slivers runs, and when it expires. Re-read when an event about
// a sliver arrives here and every few seconds, since a slice changes on
// other gateways too. Each slice shows its hosts ringed on the community
// graph on request, and, also on request, the moves of its slivers this
// gateway logged (its healing history, read from the gateway's log, then
// kept current by the stream). A user signed in with their key also
// creates, renews, resizes and deletes their slices here (documents signed
// in the page).

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, type Api } from '../api';
import { ConfirmRemove } from './confirm-remove';
import type { Credential } from '../credential';
import { CreateSlice, deleteSlice } from './slice-form';
import { RenewSlice, ResizeSlice } from './slice-actions';
import { Graph } from './community';
import type { Live } from '../live';
import { mergeEvents, movesOf, readMoves } from '../slice-history';
import type { HearthEvent, NodeRow } from '../types';
import type { SliceView } from '../../../src/model/slice.js';

/** Slices change on other gateways without an event here: re-read this often. */
const REREAD_MS = 5000;

const shortUser = (id: string): string => (id.length > 18 ? `${id.slice(0, 18)}…` : id);

function DeleteSlice({ api, credential, name, onDeleted }: { api: Api; credential: Credential; name: string; onDeleted: () => void }): JSX.Element | null {
  if (credential.kind !== 'user') return null;
  return (
    <p class="actions">
      <ConfirmRemove ask={`Delete slice ${name}`} confirmLabel={`Confirm deleting slice ${name}`} confirm={`Delete ${name} and all its slivers`}
        run={async () => {
          await deleteSlice(api, credential.key, name);
          onDeleted();
        }} />
    </p>
  );
}

/** Each gateway that hosts slivers of the slice, with which. */
function hostsOf(s: SliceView): Map<string, number[]> {
  const hosts = new Map<string, number[]>();
  for (const x of s.slivers) if (x.gateway !== null) hosts.set(x.gateway, [...(hosts.get(x.gateway) ?? []), x.index]);
  return hosts;
}

const sliversText = (indexes: number[]): string => `sliver${indexes.length === 1 ? '' : 's'} ${indexes.join(', ')}`;

/** The community graph with the slice's hosts ringed, on request; the legend says the same in words. */
function Placement({ slice, nodes }: { slice: SliceView; nodes: NodeRow[] | undefined }): JSX.Element {
  const [open, setOpen] = useState(false);
  const hosts = hostsOf(slice);
  const id = `placement-${slice.name}`;
  const labels = new Map([...hosts].map(([g, indexes]) => [g, `hosts ${sliversText(indexes)}`]));
  return (
    <div class="placement">
      <button type="button" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
        {open ? `Hide the graph of ${slice.name}` : `Show ${slice.name} on the community graph`}
      </button>
      <div id={id} hidden={!open}>
        {open && nodes !== undefined && nodes.length > 0
          && <Graph nodes={nodes} hosts={labels} id={id} title={`The community's gateways; the ${hosts.size} ringed host slice ${slice.name}`} />}
        {open && (
          <p class="legend">
            <span class="legend-ring" aria-hidden="true" /> Ringed, the gateways that host {slice.name}:{' '}
            {hosts.size === 0 ? 'none now.' : [...hosts].map(([g, indexes]) => `${g} (${sliversText(indexes)})`).join('; ')}
          </p>
        )}
      </div>
    </div>
  );
}

/**
 * The moves of the slice's slivers that this gateway logged (healings),
 * newest first, on request: the whole of them read from the gateway's log
 * when opened, and those the stream brings after, each once.
 */
function History({ api, slice, live }: { api: Api; slice: SliceView; live: Live }): JSX.Element {
  const [open, setOpen] = useState(false);
  const [read, setRead] = useState<HearthEvent[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const id = `history-${slice.name}`;

  useEffect(() => {
    if (!open) return undefined;
    let gone = false;
    setRead(undefined);
    setError(undefined);
    readMoves(api, slice.name, slice.user).then(
      (events) => !gone && setRead(events),
      (err: unknown) => !gone && setError(errorMessage(err)),
    );
    return () => {
      gone = true;
    };
  }, [api, open, slice.name, slice.user]);

  const moves = movesOf(mergeEvents(read ?? [], live.events), slice.name, slice.user).reverse();
  return (
    <div class="history">
      <button type="button" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
        {open ? `Hide the healing history of ${slice.name}` : `Show the healing history of ${slice.name}`}
      </button>
      <div id={id} hidden={!open} aria-busy={open && read === undefined && error === undefined}>
        {open && (
          <>
            <h3>Healing history</h3>
            {error !== undefined && <p class="error" role="alert">The history this gateway logged could not be read: {error}</p>}
            {read === undefined && error === undefined && <p class="help">Reading the history this gateway logged…</p>}
            {moves.length === 0
              ? (read !== undefined || error !== undefined) && (
                <p class="help">No sliver of {slice.name} moved, as far as {error === undefined ? "this gateway's log tells" : "this gateway's recent events tell"}.</p>
              )
              : (
                <ul class="events">
                  {moves.map((m) => (
                    <li key={m.seq} data-seq={m.seq}>
                      <time dateTime={m.at}>{new Date(m.at).toLocaleString()}</time> version {m.version}: sliver {m.index} moved from {m.from} to {m.to}
                    </li>
                  ))}
                </ul>
              )}
          </>
        )}
      </div>
    </div>
  );
}

export function SlicesPage({ api, live, credential }: { api: Api; live: Live; credential: Credential }): JSX.Element {
  const [slices, setSlices] = useState<SliceView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [reads, setReads] = useState(0);
  const reread = (): void => setReads((n) => n + 1);
  // Only events about slivers and slices can change what this page shows.
  const lastSeq = live.events.findLast((e) => e.type.startsWith('sliver.') || e.type.startsWith('slice.'))?.seq;

  useEffect(() => {
    let gone = false;
    const read = (): void => {
      api.get<{ items: SliceView[] }>('/api/v1/slices').then(
        (r) => {
          if (gone) return;
          setSlices(r.items);
          setError(undefined);
        },
        (err: unknown) => !gone && setError(errorMessage(err)),
      );
    };
    read();
    const timer = setInterval(read, REREAD_MS);
    return () => {
      gone = true;
      clearInterval(timer);
    };
  }, [api, lastSeq, reads]);
  const create = credential.kind === 'user' ? <CreateSlice api={api} userKey={credential.key} onCreated={reread} /> : null;

  if (slices === undefined) {
    return (
      <section aria-busy={error === undefined}>
        <h1>Slices</h1>
        {error === undefined ? <p>Gathering the slices from their gateways…</p> : <p class="error" role="alert">{error}</p>}
        {create}
      </section>
    );
  }
  return (
    <section>
      <h1>Slices</h1>
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      {create}
      {slices.length === 0 && (
        <div class="empty">
          <p>No slice runs in the community yet.</p>
          <p>A user asks any gateway for one with <code>hearth slice create NAME --slivers N</code>, or deploys an app with <code>hearth app deploy NAME</code>.</p>
        </div>
      )}
      {slices.map((s) => (
        <article class="card" key={`${s.user}/${s.name}`} aria-label={`Slice ${s.name}`}>
          <h2>{s.name} <span class={`badge state-${s.state}`}>{s.state}</span></h2>
          <p>
            {s.slivers.filter((x) => x.observed === 'running').length} of {s.spec.slivers} slivers running · {s.spec.template}
            {s.spec.app !== null && ` · app ${s.spec.app.name}`} · user <code title={s.user}>{shortUser(s.user)}</code> · version {s.version} · expires <time class="expires" dateTime={s.expiresAt}>{new Date(s.expiresAt).toLocaleString()}</time>
            {s.unreachable.length > 0 && ` · not reached: ${s.unreachable.join(', ')}`}
          </p>
          <div class="scroll" role="region" aria-label={`Slivers of ${s.name}`} tabIndex={0}>
            <table>
              <thead><tr><th scope="col">#</th><th scope="col">Gateway</th><th scope="col">State</th><th scope="col">Address</th></tr></thead>
              <tbody>
                {s.slivers.map((x) => (
                  <tr key={x.index}>
                    <th scope="row">{x.index}</th>
                    <td>{x.gateway ?? '—'}</td>
                    <td><span class={`badge state-${x.observed}`}>{x.observed}</span>{x.reason !== null && <span class="reason"> {x.reason}</span>}</td>
                    <td>{x.address ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Placement slice={s} nodes={live.nodes?.items} />
          <History api={api} slice={s} live={live} />
          {credential.kind === 'user' && (
            <div class="slice-actions">
              <RenewSlice api={api} userKey={credential.key} slice={s} onDone={reread} />
              <ResizeSlice api={api} userKey={credential.key} slice={s} onDone={reread} />
            </div>
          )}
          <DeleteSlice api={api} credential={credential} name={s.name} onDeleted={reread} />
        </article>
      ))}
    </section>
  );
}
