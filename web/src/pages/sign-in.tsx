// The sign-in page: the owner token, checked with GET /api/v1/node before it
// is kept; a refusal is shown beside the field.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, createApi } from '../api';

export function SignIn({ note, onSignedIn }: { note: string | undefined; onSignedIn: (token: string) => void }): JSX.Element {
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
      await createApi({ token: t }).get('/api/v1/node');
      onSignedIn(t);
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
        <label for="token">Owner token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token}
          aria-invalid={error !== undefined} aria-describedby="token-help token-error"
          onInput={(e) => setToken(e.currentTarget.value)} />
        <p id="token-error" class="error" role={error === undefined ? undefined : 'alert'}>{error}</p>
        <p id="token-help" class="help">It is in the file <code>owner.token</code> of the gateway's data directory.</p>
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
