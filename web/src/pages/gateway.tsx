// The gateway page: this gateway's slivers (re-read whenever an event about
// a sliver arrives), a form to create one, deletion with confirmation, its
// use over the last hour, and the recent events from the stream.

import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import type { Live } from '../live';
import { loadDraft, saveDraft } from '../session';
import { NEW_SLIVER, TEMPLATES, bodyOf, checkDraft, fieldOfProblem, type FieldErrors, type SliverField } from '../sliver-form';
import type { HearthEvent, Sliver } from '../types';
import { Usage } from './usage';

const DRAFT = 'create-sliver';
const EVENTS_SHOWN = 30;

const messageOf = (err: unknown): string => (err instanceof ApiError ? err.message : String(err));

function Field({ id, label, error, children }: { id: SliverField; label: string; error: string | undefined; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={`sliver-${id}`}>{label}</label>
      {children}
      <p id={`sliver-${id}-error`} class="error">{error}</p>
    </div>
  );
}

function CreateSliver({ api, onCreated }: { api: Api; onCreated: () => void }) {
  const [draft, setDraft] = useState(() => loadDraft(DRAFT, NEW_SLIVER));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [actionError, setActionError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');

  const set = (key: SliverField, value: string): void => {
    const next = { ...draft, [key]: value };
    setDraft(next);
    saveDraft(DRAFT, next);
    if (errors[key] !== undefined) setErrors({ ...errors, [key]: undefined });
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setActionError(undefined);
    setDone('');
    const found = checkDraft(draft);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      document.getElementById(`sliver-${Object.keys(found)[0] ?? 'name'}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      await api.send('POST', '/api/v1/slivers', bodyOf(draft));
      setDone(`Sliver ${draft.name} requested.`);
      setDraft(NEW_SLIVER);
      saveDraft(DRAFT, null);
      onCreated();
    } catch (err) {
      const field = err instanceof ApiError ? fieldOfProblem(err.field) : undefined;
      if (field === undefined) setActionError(messageOf(err));
      else setErrors({ [field]: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };

  const input = (key: SliverField, props: Record<string, string>) => (
    <input id={`sliver-${key}`} name={key} value={draft[key]} aria-invalid={errors[key] !== undefined}
      aria-describedby={`sliver-${key}-error`} onInput={(e) => set(key, e.currentTarget.value)} {...props} />
  );

  return (
    <form class="create" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="create-title">
      <h2 id="create-title">New sliver</h2>
      <div class="fields">
        <Field id="name" label="Name" error={errors.name}>{input('name', { autocomplete: 'off', spellcheck: 'false' })}</Field>
        <Field id="template" label="Template" error={errors.template}>
          <select id="sliver-template" name="template" value={draft.template} aria-describedby="sliver-template-error"
            aria-invalid={errors.template !== undefined} onChange={(e) => set('template', e.currentTarget.value)}>
            {TEMPLATES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </Field>
        <Field id="cpu" label="CPU (cores)" error={errors.cpu}>{input('cpu', { inputmode: 'decimal' })}</Field>
        <Field id="memoryMb" label="Memory (MB)" error={errors.memoryMb}>{input('memoryMb', { inputmode: 'numeric' })}</Field>
        <Field id="diskMb" label="Disk (MB)" error={errors.diskMb}>{input('diskMb', { inputmode: 'numeric' })}</Field>
      </div>
      <button type="submit" disabled={busy} aria-describedby="create-error">{busy ? 'Creating…' : 'Create sliver'}</button>
      <p id="create-error" class="error">{actionError}</p>
      <p class="status-line" role="status" aria-live="polite">{done}</p>
    </form>
  );
}

function SliverRow({ sliver, api, onChanged }: { sliver: Sliver; api: Api; onChanged: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const remove = async (): Promise<void> => {
    setError(undefined);
    try {
      await api.send('DELETE', `/api/v1/slivers/${encodeURIComponent(sliver.id)}`);
      setConfirming(false);
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const deleting = sliver.desired === 'gone';
  return (
    <tr>
      <th scope="row">{sliver.name}</th>
      <td><span class={`badge state-${sliver.observed}`}>{deleting && sliver.observed !== 'destroying' ? `${sliver.observed}, deleting` : sliver.observed}</span>
        {sliver.reason !== null && <span class="reason"> {sliver.reason}</span>}</td>
      <td>{sliver.template}</td>
      <td>{sliver.resources.cpu} cpu, {sliver.resources.memoryMb} MB, {sliver.resources.diskMb} MB disk</td>
      <td>{sliver.address ?? '—'}</td>
      <td class="actions">
        {!deleting && sliver.observed === 'running' && <a class="button" href={`#/console/${encodeURIComponent(sliver.name)}`} aria-label={`Console in ${sliver.name}`}>Console</a>}
        {!deleting && !confirming && <button type="button" onClick={() => setConfirming(true)} aria-label={`Delete ${sliver.name}`}>Delete</button>}
        {confirming && (
          <span role="group" aria-label={`Confirm deleting ${sliver.name}`}>
            <button type="button" class="danger" onClick={() => void remove()}>Delete {sliver.name} and its files</button>
            <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
          </span>
        )}
        {error !== undefined && <p class="error" role="alert">{error}</p>}
      </td>
    </tr>
  );
}

function Events({ events, slivers }: { events: HearthEvent[]; slivers: Sliver[] | undefined }) {
  const names = new Map((slivers ?? []).map((s) => [s.id, s.name]));
  const recent = events.slice(-EVENTS_SHOWN).reverse();
  return (
    <section aria-labelledby="events-title">
      <h2 id="events-title">Recent events</h2>
      {recent.length === 0 ? <p class="empty">No events yet.</p> : (
        <ol class="events">
          {recent.map((e) => (
            <li key={e.seq} data-seq={e.seq}>
              <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time>{' '}
              <strong>{e.type}</strong>
              {e.sliverId !== null && ` ${names.get(e.sliverId) ?? e.sliverId}`}
              {typeof e.detail['reason'] === 'string' && ` (${e.detail['reason']})`}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export function GatewayPage({ api, live }: { api: Api; live: Live }): JSX.Element {
  const [slivers, setSlivers] = useState<Sliver[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [asked, setAsked] = useState(0);
  // Each event about a sliver may change the list; the latest such seq is the cue to re-read it.
  const cue = live.events.findLast((e) => e.sliverId !== null)?.seq ?? 0;

  useEffect(() => {
    let current = true;
    api.get<{ items: Sliver[] }>('/api/v1/slivers').then(
      (r) => { if (current) { setSlivers(r.items); setError(undefined); } },
      (err: unknown) => { if (current) setError(messageOf(err)); },
    );
    return () => { current = false; };
  }, [api, cue, asked]);

  const refresh = (): void => setAsked((n) => n + 1);
  return (
    <section>
      <h1>Gateway {live.self ?? ''}</h1>
      <section aria-labelledby="slivers-title" aria-busy={slivers === undefined}>
        <h2 id="slivers-title">Slivers</h2>
        {error !== undefined && <p class="error" role="alert">Could not list the slivers: {error}</p>}
        {slivers === undefined && error === undefined && <p>Loading the slivers…</p>}
        {slivers?.length === 0 && <p class="empty">No slivers on this gateway yet; create one below.</p>}
        {slivers !== undefined && slivers.length > 0 && (
          <div class="scroll" role="region" aria-label="Slivers" tabIndex={0}>
            <table>
              <thead>
                <tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Template</th><th scope="col">Resources</th><th scope="col">Address</th><th scope="col">Actions</th></tr>
              </thead>
              <tbody>{slivers.map((s) => <SliverRow key={s.id} sliver={s} api={api} onChanged={refresh} />)}</tbody>
            </table>
          </div>
        )}
      </section>
      <CreateSliver api={api} onCreated={refresh} />
      <Usage api={api} />
      <Events events={live.events} slivers={slivers} />
    </section>
  );
}
