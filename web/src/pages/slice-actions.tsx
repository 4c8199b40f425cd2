// A user's renewal and resize of their slice, from its card on the slices
// page: each field is checked as typed by the rules the gateway applies
// (the CLI's duration syntax and the lifetime bounds of src/model/slice.ts;
// parseResizeBody for the number of slivers), signed in the page as a
// slice.renew or slice.resize document, and sent to this gateway. A refusal,
// the page's or the API's, is shown beside the field. A resize that grows
// the slice returns once the new slivers are placed; the form then follows
// the slice until every sliver runs (or one fails), as the CLI waits.

import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, type Api } from '../api';
import { signDocument, type UserKey } from '../signing';
import { HearthError } from '../../../src/model/errors.js';
import { parseDuration } from '../../../src/model/duration.js';
import { delay } from '../../../src/kit/delay.js';
import { MAX_LIFETIME_SEC, MAX_SLICE_SLIVERS, MIN_LIFETIME_SEC, SLICE_KINDS, parseResizeBody, type SliceView } from '../../../src/model/slice.js';

/** How often a resize re-reads the slice while its new slivers start. */
const FOLLOW_MS = 1000;

const slivers = (n: number): string => `${n} sliver${n === 1 ? '' : 's'}`;

/** The lifetime `text` asks for in seconds, or why the gateway would refuse it. */
function checkLifetime(text: string): { sec: number } | { message: string } {
  let sec: number;
  try {
    sec = parseDuration(text);
  } catch (err) {
    return { message: errorMessage(err) };
  }
  if (sec < MIN_LIFETIME_SEC || sec > MAX_LIFETIME_SEC) {
    return { message: `a lifetime is from ${MIN_LIFETIME_SEC / 60} minute to ${MAX_LIFETIME_SEC / 86400} days (e.g. 7d, 12h)` };
  }
  return { sec };
}

/** The number of slivers `text` asks for, or why the gateway would refuse it (its own parser's words). */
function checkSlivers(name: string, text: string): { slivers: number } | { message: string } {
  try {
    return { slivers: parseResizeBody({ slice: name, slivers: Number(text) }).slivers };
  } catch (err) {
    if (err instanceof HearthError) return { message: err.message };
    throw err;
  }
}

/** One field, its button, the problem beside it and a status line: the shape of both forms. */
function OneField({ id, label, value, hint, problem, busy, button, status, onInput, onSubmit }: {
  id: string; label: string; value: string; hint: string; problem: string | undefined; busy: string | undefined; button: string;
  status: JSX.Element | string; onInput: (v: string) => void; onSubmit: () => void;
}): JSX.Element {
  return (
    <form class="slice-action" noValidate onSubmit={(e) => {
      e.preventDefault();
      onSubmit();
    }}>
      <label for={id}>{label}</label>
      <span class="help" id={`${id}-hint`}>{hint}</span>
      <input id={id} value={value} autocomplete="off" aria-invalid={problem !== undefined} aria-describedby={`${id}-hint ${id}-error`}
        onInput={(e) => onInput(e.currentTarget.value)} />
      <p id={`${id}-error`} class="error" role={problem === undefined ? undefined : 'alert'}>{problem}</p>
      <button type="submit" disabled={busy !== undefined}>{busy ?? button}</button>
      <p class="status-line" role="status" aria-live="polite">{status}</p>
    </form>
  );
}

export function RenewSlice({ api, userKey, slice, onDone }: { api: Api; userKey: UserKey; slice: SliceView; onDone: () => void }): JSX.Element {
  const [text, setText] = useState('7d');
  const [touched, setTouched] = useState(false);
  const [refused, setRefused] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<JSX.Element | string>('');
  const checked = checkLifetime(text);
  const problem = refused ?? (touched && 'message' in checked ? checked.message : undefined);

  const renew = async (): Promise<void> => {
    setTouched(true);
    if ('message' in checked) return;
    setBusy(true);
    setDone('');
    try {
      const document = await signDocument(userKey, SLICE_KINDS.renew, { name: slice.name, lifetimeSec: checked.sec });
      const view = await api.send<SliceView>('POST', `/api/v1/slices/${encodeURIComponent(slice.name)}/renew`, { document });
      // A host takes a renewal only when it moves the expiry later.
      setDone(view.expiresAt === slice.expiresAt
        ? `Slice ${slice.name} already expires later than that; nothing changed.`
        : <>Slice {slice.name} now expires <time dateTime={view.expiresAt}>{new Date(view.expiresAt).toLocaleString()}</time>.</>);
      onDone();
    } catch (err) {
      setRefused(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <OneField id={`renew-${slice.name}`} label={`Renew ${slice.name} for`} value={text} hint={`from now, e.g. 12h or 7d; at most ${MAX_LIFETIME_SEC / 86400}d`} problem={problem}
      busy={busy ? 'Signing and renewing…' : undefined} button={`Renew ${slice.name}`} status={done}
      onInput={(v) => {
        setText(v);
        setTouched(true);
        setRefused(undefined);
      }} onSubmit={() => void renew()} />
  );
}

export function ResizeSlice({ api, userKey, slice, onDone }: { api: Api; userKey: UserKey; slice: SliceView; onDone: () => void }): JSX.Element {
  const [text, setText] = useState(String(slice.spec.slivers));
  const [touched, setTouched] = useState(false);
  const [refused, setRefused] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const following = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => following.current?.abort(), []);
  const checked = checkSlivers(slice.name, text);
  const problem = refused ?? (touched && 'message' in checked ? checked.message : undefined);

  /** Re-reads the slice until every sliver runs or one fails, as `hearth slice resize` waits; says how far it is meanwhile. */
  const follow = async (placed: SliceView, signal: AbortSignal): Promise<string> => {
    for (let v = placed; ; v = await api.get<SliceView>(`/api/v1/slices/${encodeURIComponent(slice.name)}`)) {
      const failed = v.slivers.filter((x) => x.observed === 'failed');
      if (failed.length > 0) {
        return `Slice ${slice.name} has ${slivers(v.spec.slivers)}; ${failed.map((x) => `sliver ${x.index} failed${x.reason === null ? '' : ` (${x.reason})`}`).join(', ')}.`;
      }
      if (v.state === 'running') return `Slice ${slice.name} has ${slivers(v.spec.slivers)}, ${v.spec.slivers === 1 ? 'running' : 'all running'}.`;
      setStatus(`Placed; waiting for its slivers to run: ${v.slivers.map((x) => `${x.index} ${x.observed}`).join(', ')}.`);
      await delay(FOLLOW_MS, { signal });
    }
  };

  const resize = async (): Promise<void> => {
    setTouched(true);
    if ('message' in checked) return;
    following.current?.abort();
    const control = new AbortController();
    following.current = control;
    setBusy(true);
    setStatus('Signing and placing…');
    let placed: SliceView;
    try {
      const document = await signDocument(userKey, SLICE_KINDS.resize, { slice: slice.name, slivers: checked.slivers });
      placed = await api.send<SliceView>('POST', `/api/v1/slices/${encodeURIComponent(slice.name)}/resize`, { document });
    } catch (err) {
      setRefused(errorMessage(err));
      setStatus('');
      setBusy(false);
      return;
    }
    onDone();
    try {
      setStatus(await follow(placed, control.signal));
      onDone();
    } catch (err) {
      // Gone from the page (aborted): nothing to tell. Else the resize holds; only following it failed.
      if (!control.signal.aborted) setStatus(`Resized; the page could not follow its slivers: ${errorMessage(err)}`);
    } finally {
      if (!control.signal.aborted) setBusy(false);
    }
  };
  return (
    <OneField id={`resize-${slice.name}`} label={`Resize ${slice.name} to`} value={text} hint={`slivers, 1 to ${MAX_SLICE_SLIVERS}`} problem={problem}
      busy={busy ? 'Resizing…' : undefined} button={`Resize ${slice.name}`} status={status}
      onInput={(v) => {
        setText(v);
        setTouched(true);
        setRefused(undefined);
      }} onSubmit={() => void resize()} />
  );
}
