// The services page: the community's service directory by type, following
// the stream's services snapshots, with open (web services) and copy
// actions, a player for live streams (hls.js, loaded when one is played,
// through this gateway's relay so a browser off the community network plays
// them too) and, per type, how to use the service with its address filled in.

import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Live } from '../live';
import type { ServiceEntry } from '../types';
import { errorMessage } from '../api';
import type { PlayerState } from '../video';
import { howToUse, relayPathOf, streamUrlOf } from '../service-howto';

/** Types a browser can open at http://address/. */
const WEB_TYPES = new Set(['http', 'hls', 'webdav']);

const keyOf = (s: ServiceEntry): string => `${s.gateway}/${s.sliver}/${s.name}/${s.protocol}`;

function groupByType(items: ServiceEntry[]): [string, ServiceEntry[]][] {
  const groups = new Map<string, ServiceEntry[]>();
  for (const s of items) groups.set(s.type, [...(groups.get(s.type) ?? []), s]);
  return [...groups].sort(([a], [b]) => a.localeCompare(b));
}

function describe(s: PlayerState): string {
  switch (s.kind) {
    case 'loading': return 'Loading the stream…';
    case 'playing': return 'Playing.';
    case 'paused': return 'Loaded: press play on the video to start it.';
    case 'failed': return '';
  }
}

/** One stream in the page, until closed; an error is shown beside it. */
function Player({ service, onClose }: { service: ServiceEntry; onClose: () => void }): JSX.Element {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<PlayerState>({ kind: 'loading' });
  const url = relayPathOf(service);

  useEffect(() => {
    let handle: { close(): void } | undefined;
    let gone = false;
    setState({ kind: 'loading' });
    import('../video').then(({ playStream }) => {
      if (gone || video.current === null) return;
      handle = playStream(video.current, url, (s) => !gone && setState(s));
    }, (err: unknown) => !gone && setState({ kind: 'failed', reason: `the player did not load: ${errorMessage(err)}` }));
    return () => {
      gone = true;
      handle?.close();
    };
  }, [url]);

  const title = `${service.name} on ${service.gateway}`;
  return (
    <section class="player" aria-labelledby="player-title">
      <h3 id="player-title">Playing {title}</h3>
      <video ref={video} controls playsInline aria-label={`Live stream ${title}`} aria-describedby="player-status player-error" />
      <p id="player-status" class="status-line" role="status" aria-live="polite">{describe(state)}</p>
      <p id="player-error" class="error" role={state.kind === 'failed' ? 'alert' : undefined}>{state.kind === 'failed' ? state.reason : ''}</p>
      <p class="help">Relayed by this gateway from <code>{streamUrlOf(service)}</code>.</p>
      <button type="button" onClick={onClose}>Close the player</button>
    </section>
  );
}

function HowToUse({ service, all, copy }: { service: ServiceEntry; all: ServiceEntry[]; copy: (text: string, what: string) => void }): JSX.Element | null {
  const how = howToUse(service, all, location.origin);
  if (how === undefined) return null;
  return (
    <details class="howto">
      <summary>How to use {service.name}</summary>
      <p>{how.summary}</p>
      {how.lines.map((l) => (
        <div key={l.label} class="howto-line">
          <span>{l.label}</span>
          <code>{l.text}</code>
          <button type="button" onClick={() => copy(l.text, `${l.label} of ${service.name}`)} aria-label={`Copy: ${l.label} of ${service.name} on ${service.gateway}`}>Copy</button>
        </div>
      ))}
    </details>
  );
}

export function ServicesPage({ live }: { live: Live }): JSX.Element {
  const [copied, setCopied] = useState('');
  const [playing, setPlaying] = useState<string | undefined>();

  const copy = async (text: string, what: string): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`Copied ${text} (${what}).`);
    } catch {
      setCopied(`Could not copy (${what}); select it and copy it by hand: ${text}`);
    }
  };

  if (live.services === undefined) return <section aria-busy="true"><h1>Services</h1><p>Loading the directory…</p></section>;
  const services = live.services;
  const played = services.find((s) => keyOf(s) === playing);
  return (
    <section>
      <h1>Services</h1>
      <p class="status-line" role="status" aria-live="polite">{copied}</p>
      {services.length === 0 && (
        <div class="empty">
          <p>No service is announced in the community yet.</p>
          <p>A sliver offers one with <code>hearth sliver service add SLIVER NAME --type TYPE --port PORT</code>, and an app announces its own (<a href="#/apps">Apps</a>).</p>
        </div>
      )}
      {groupByType(services).map(([type, entries]) => (
        <section key={type} aria-labelledby={`type-${type}`}>
          <h2 id={`type-${type}`}>{type}</h2>
          {played?.type === type && <Player key={keyOf(played)} service={played} onClose={() => setPlaying(undefined)} />}
          <ul class="cards">
            {entries.map((s) => (
              <li key={keyOf(s)} class="card">
                <strong>{s.name}</strong>
                <span>on {s.gateway}{s.gateway === live.self ? ' (this gateway)' : ''}, sliver {s.sliver}</span>
                <code>{s.address}</code>
                <span>{s.protocol}{s.rttMs === null || s.gateway === live.self ? '' : `, ${s.rttMs.toFixed(1)} ms away`}</span>
                <span class="actions">
                  {s.type === 'hls' && (
                    <button type="button" onClick={() => setPlaying(keyOf(s))} aria-pressed={playing === keyOf(s)} aria-label={`Play ${s.name} on ${s.gateway}`}>Play</button>
                  )}
                  {WEB_TYPES.has(s.type) && (
                    <a class="button" href={`http://${s.address}/`} target="_blank" rel="noreferrer" aria-label={`Open ${s.name} on ${s.gateway}`}>Open</a>
                  )}
                  <button type="button" onClick={() => void copy(s.address, s.name)} aria-label={`Copy the address of ${s.name} on ${s.gateway}`}>Copy</button>
                </span>
                <HowToUse service={s} all={services} copy={(text, what) => void copy(text, what)} />
              </li>
            ))}
          </ul>
        </section>
      ))}
    </section>
  );
}
