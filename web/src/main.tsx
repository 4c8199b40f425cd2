// The portal: signs in with the owner token, keeps one live stream open and
// shows the page the hash names. Nothing here reloads the page: a refused
// token (401 from the API, 4401 from the stream) returns to the sign-in page
// and leaves form drafts where they were.

import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createApi, type ApiError } from './api';
import { openStream, type StreamStatus } from './stream';
import { saveToken, savedToken } from './session';
import type { Credential } from './credential';
import { NOTHING_YET, applyMessage } from './live';
import { SignIn } from './pages/sign-in';
import { CommunityPage } from './pages/community';
import { GatewayPage } from './pages/gateway';
import { ServicesPage } from './pages/services';
import { SlicesPage } from './pages/slices';
import { ConsolePage } from './pages/console';
import { AppsPage } from './pages/apps';
import './style.css';

const PAGES = { community: 'Community', gateway: 'Gateway', slices: 'Slices', apps: 'Apps', services: 'Services' } as const;
type PageName = keyof typeof PAGES;

/** The page a hash names; #/console/NAME is a console in sliver NAME. */
type Route = { page: PageName } | { page: 'console'; sliver: string };

function routeOf(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const console = /^console\/(.+)$/.exec(path);
  if (console?.[1] !== undefined) return { page: 'console', sliver: decodeURIComponent(console[1]) };
  return { page: Object.hasOwn(PAGES, path) ? (path as PageName) : 'community' };
}

function App() {
  const [credential, setCredential] = useState<Credential | null>(() => {
    const token = savedToken();
    return token === null ? null : { kind: 'owner', token };
  });
  const [signInNote, setSignInNote] = useState<string | undefined>();
  const [route, setRoute] = useState(() => routeOf(location.hash));
  const page = route.page;
  const [live, setLive] = useState(NOTHING_YET);
  const [status, setStatus] = useState<StreamStatus>('connecting');

  const signOut = (note: string | undefined): void => {
    saveToken(null);
    setCredential(null);
    setSignInNote(note);
  };
  const signedIn = (c: Credential): void => {
    // The owner's token survives a reload of the tab; a user's key does not leave WebCrypto.
    saveToken(c.kind === 'owner' ? c.token : null);
    setSignInNote(undefined);
    setCredential(c);
  };
  const expired = (detail: string): void => signOut(`Your sign-in was refused (${detail}). Sign in again; what you typed is kept.`);

  const api = useMemo(() => (credential === null ? undefined : createApi({ credential, onUnauthorized: (e: ApiError) => expired(e.message) })), [credential]);
  // The gateway page is the owner's: a user's requests there would all be refused.
  const pages = (Object.keys(PAGES) as PageName[]).filter((p) => p !== 'gateway' || credential?.kind === 'owner');

  useEffect(() => {
    const onHash = (): void => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (credential === null) return undefined;
    setLive(NOTHING_YET);
    const stream = openStream({
      credential,
      onMessage: (m) => setLive((l) => applyMessage(l, m)),
      onStatus: setStatus,
      onUnauthorized: (p) => expired(p?.detail ?? 'the live stream refused the token'),
    });
    return () => stream.close();
  }, [credential]);

  useEffect(() => {
    const title = route.page === 'console' ? `Console in ${route.sliver}` : PAGES[route.page];
    document.title = credential === null ? 'Sign in · hearth' : `${title} · hearth`;
  }, [route, credential]);

  if (credential === null || api === undefined) {
    return <SignIn note={signInNote} onSignedIn={signedIn} />;
  }
  return (
    <>
      <header class="bar">
        <span class="brand">hearth{live.self === undefined ? '' : ` · ${live.self}`}{credential.kind === 'user' && ' · as a user'}</span>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a key={p} href={`#/${p}`} aria-current={p === page ? 'page' : undefined}>{PAGES[p]}</a>
          ))}
        </nav>
        <span class={`live live-${status}`} role="status" aria-live="polite">
          {status === 'live' ? 'live' : status === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <button type="button" onClick={() => signOut(undefined)}>Sign out</button>
      </header>
      <main>
        {page === 'community' && <CommunityPage live={live} />}
        {page === 'gateway' && credential.kind === 'owner' && <GatewayPage api={api} live={live} />}
        {page === 'slices' && <SlicesPage api={api} live={live} credential={credential} />}
        {page === 'apps' && <AppsPage api={api} credential={credential} />}
        {page === 'services' && <ServicesPage live={live} />}
        {route.page === 'console' && <ConsolePage key={route.sliver} sliver={route.sliver} credential={credential} onUnauthorized={expired} />}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
