// A user's new slice, from the slices page: the spec is checked as typed by
// the gateway's own parser (src/model/slice.ts), signed in the page with the
// user's key as a slice.create document, and sent to this gateway, which
// places it in the community. A refusal is shown beside its field.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, errorMessage, type Api } from '../api';
import { signDocument, type UserKey } from '../signing';
import { HearthError } from '../../../src/model/errors.js';
import { SLICE_KINDS, parseSliceSpec } from '../../../src/model/slice.js';
import { SPREADS } from '../../../src/model/slice-shape.js';
import { DEFAULT_RESOURCES, TEMPLATES } from '../../../src/model/sliver.js';
import { loadDraft, saveDraft } from '../session';

interface SliceDraft { name: string; slivers: string; template: string; cpu: string; memoryMb: string; diskMb: string; spread: string }
type Key = keyof SliceDraft;
const { cpu, memoryMb, diskMb } = DEFAULT_RESOURCES;
const EMPTY: SliceDraft = { name: '', slivers: '1', template: 'busybox', cpu: String(cpu), memoryMb: String(memoryMb), diskMb: String(diskMb), spread: 'gateways' };
const DRAFT = 'slice';
const LABELS: Record<Key, string> = { name: 'Slice name', slivers: 'Slivers', template: 'Slice template', cpu: 'Slice CPU (cores)', memoryMb: 'Slice memory (MB)', diskMb: 'Slice disk (MB)', spread: 'Spread' };

/** The spec the draft asks for; numbers that are not numbers are passed on for the parser to refuse. */
function specOf(d: SliceDraft): Record<string, unknown> {
  const num = (s: string): unknown => (s.trim() === '' || Number.isNaN(Number(s)) ? s : Number(s));
  return { name: d.name, slivers: num(d.slivers), template: d.template, spread: d.spread, resources: { cpu: num(d.cpu), memoryMb: num(d.memoryMb), diskMb: num(d.diskMb) } };
}

/** The draft's field a problem names (the parser's and the API's use the spec's names). */
function fieldOf(field: unknown): Key | undefined {
  return typeof field === 'string' && field in EMPTY ? (field as Key) : undefined;
}

/** What the gateway's own parser says of the draft: nothing, or the field and why. */
function check(d: SliceDraft): { field: Key | undefined; message: string } | undefined {
  try {
    parseSliceSpec(specOf(d));
    return undefined;
  } catch (err) {
    if (!(err instanceof HearthError)) throw err;
    return { field: fieldOf(err.extra['field']), message: err.message };
  }
}

export function CreateSlice({ api, userKey, onCreated }: { api: Api; userKey: UserKey; onCreated: () => void }): JSX.Element {
  const [draft, setDraft] = useState(() => loadDraft(DRAFT, EMPTY));
  const [touched, setTouched] = useState(false);
  const [sent, setSent] = useState<{ field: Key | undefined; message: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const problem = sent ?? (touched ? check(draft) : undefined);

  const set = (key: Key, value: string): void => {
    const next = { ...draft, [key]: value };
    setDraft(next);
    saveDraft(DRAFT, next);
    setTouched(true);
    setSent(undefined);
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setTouched(true);
    if (check(draft) !== undefined) return;
    setBusy(true);
    setDone('');
    try {
      const document = await signDocument(userKey, SLICE_KINDS.create, specOf(draft));
      await api.send('POST', '/api/v1/slices', { document });
      setDone(`Slice ${draft.name} placed; its slivers are starting.`);
      setDraft(EMPTY);
      saveDraft(DRAFT, null);
      setTouched(false);
      onCreated();
    } catch (err) {
      const field = err instanceof ApiError ? fieldOf(err.field) : undefined;
      setSent({ field, message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const errorOf = (key: Key): string | undefined => (problem?.field === key ? problem.message : undefined);
  const field = (key: Key, control: JSX.Element): JSX.Element => (
    <div class="field">
      <label for={`slice-${key}`}>{LABELS[key]}</label>
      {control}
      <p id={`slice-${key}-error`} class="error">{errorOf(key)}</p>
    </div>
  );
  const input = (key: Key, mode: string): JSX.Element => (
    <input id={`slice-${key}`} name={key} value={draft[key]} inputmode={mode as 'text'} autocomplete="off"
      aria-invalid={errorOf(key) !== undefined} aria-describedby={`slice-${key}-error`} onInput={(e) => set(key, e.currentTarget.value)} />
  );
  const select = (key: Key, options: readonly string[]): JSX.Element => (
    <select id={`slice-${key}`} name={key} value={draft[key]} aria-invalid={errorOf(key) !== undefined}
      aria-describedby={`slice-${key}-error`} onChange={(e) => set(key, e.currentTarget.value)}>
      {options.map((o) => <option key={o} value={o}>{o}</option>)}
    </select>
  );

  return (
    <form class="create" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="slice-create-title">
      <h2 id="slice-create-title">New slice</h2>
      <div class="fields">
        {field('name', input('name', 'text'))}
        {field('slivers', input('slivers', 'numeric'))}
        {field('template', select('template', TEMPLATES))}
        {field('cpu', input('cpu', 'decimal'))}
        {field('memoryMb', input('memoryMb', 'numeric'))}
        {field('diskMb', input('diskMb', 'numeric'))}
        {field('spread', select('spread', SPREADS))}
      </div>
      <button type="submit" disabled={busy} aria-describedby="slice-create-error">{busy ? 'Signing and placing…' : 'Create slice'}</button>
      <p id="slice-create-error" class="error" role={problem !== undefined && problem.field === undefined ? 'alert' : undefined}>{problem?.field === undefined ? problem?.message : ''}</p>
      <p class="status-line" role="status" aria-live="polite">{done}</p>
    </form>
  );
}

/** Deletes the user's slice with a signed slice.delete document. */
export async function deleteSlice(api: Api, userKey: UserKey, name: string): Promise<void> {
  const document = await signDocument(userKey, SLICE_KINDS.delete, { name });
  await api.send('DELETE', `/api/v1/slices/${encodeURIComponent(name)}`, { document });
}
