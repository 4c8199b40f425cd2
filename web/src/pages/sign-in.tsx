// The sign-in page: the owner token, checked with GET /api/v1/node, or a
// community user's key (its private key file's text, imported into WebCrypto
// and never sent), checked with a signed GET /api/v1/slices; a refusal is
// shown beside the field.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, createApi, errorMessage } from '../api';
import type { Credential } from '../credential';
import { importUserKey } from '../signing';

function KeySignIn({ onSignedIn }: { onSignedIn: (c: Credential) => void }): JSX.Element {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (text.trim() === '') throw new Error('Paste the text of your private key file.');
      const credential: Credential = { kind: 'user', key: await importUserKey(text) };
      await createApi({ credential }).get('/api/v1/slices');
      setText('');
      onSignedIn(credential);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <h2>As a community user</h2>
      <label for="user-key">Private key</label>
      <textarea id="user-key" name="user-key" rows={5} spellcheck={false} autocomplete="off" value={text}
        aria-invalid={error !== undefined} aria-describedby="user-key-help user-key-error"
        onInput={(e) => setText(e.currentTarget.value)} />
      <p id="user-key-error" class="error" role={error === undefined ? undefined : 'alert'}>{error}</p>
      <p id="user-key-help" class="help">
        The text of your key file (<code>hearth user keygen</code> writes one; an unencrypted OpenSSH ed25519 key works too).
        It stays in this page: it signs your requests here and is never sent.
      </p>
      <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in with my key'}</button>
    </form>
  );
}

export function SignIn({ note, onSignedIn }: { note: string | undefined; onSignedIn: (c: Credential) => void }): JSX.Element {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') {
      setError('Enter the owner token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const credential: Credential = { kind: 'owner', token: t };
      await createApi({ credential }).get('/api/v1/node');
      onSignedIn(credential);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>Sign in to this gateway</h1>
      {note !== undefined && <p class="note" role="alert">{note}</p>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <h2>As this gateway's owner</h2>
        <label for="token">Owner token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token}
          aria-invalid={error !== undefined} aria-describedby="token-help token-error"
          onInput={(e) => setToken(e.currentTarget.value)} />
        <p id="token-error" class="error" role={error === undefined ? undefined : 'alert'}>{error}</p>
        <p id="token-help" class="help">It is in the file <code>owner.token</code> of the gateway's data directory.</p>
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <KeySignIn onSignedIn={onSignedIn} />
    </main>
  );
}
