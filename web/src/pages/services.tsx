// The services page: the community's service directory by type, following
// the stream's services snapshots, with open (web services) and copy actions.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Live } from '../live';
import type { ServiceEntry } from '../types';

/** Types a browser can open at http://address/. */
const WEB_TYPES = new Set(['http', 'hls', 'webdav']);

function groupByType(items: ServiceEntry[]): [string, ServiceEntry[]][] {
  const groups = new Map<string, ServiceEntry[]>();
  for (const s of items) groups.set(s.type, [...(groups.get(s.type) ?? []), s]);
  return [...groups].sort(([a], [b]) => a.localeCompare(b));
}

export function ServicesPage({ live }: { live: Live }): JSX.Element {
  const [copied, setCopied] = useState('');

  const copy = async (s: ServiceEntry): Promise<void> => {
    try {
      await navigator.clipboard.writeText(s.address);
      setCopied(`Copied ${s.address} (${s.name}).`);
    } catch {
      setCopied(`Could not copy; the address of ${s.name} is ${s.address}.`);
    }
  };

  if (live.services === undefined) return <section aria-busy="true"><h1>Services</h1><p>Loading the directory…</p></section>;
  return (
    <section>
      <h1>Services</h1>
      <p class="status-line" role="status" aria-live="polite">{copied}</p>
      {live.services.length === 0 && (
        <div class="empty">
          <p>No service is announced in the community yet.</p>
          <p>A sliver offers one with <code>hearth sliver service add SLIVER NAME --type TYPE --port PORT</code>.</p>
        </div>
      )}
      {groupByType(live.services).map(([type, entries]) => (
        <section key={type} aria-labelledby={`type-${type}`}>
          <h2 id={`type-${type}`}>{type}</h2>
          <ul class="cards">
            {entries.map((s) => (
              <li key={`${s.gateway}/${s.sliver}/${s.name}`} class="card">
                <strong>{s.name}</strong>
                <span>on {s.gateway}{s.gateway === live.self ? ' (this gateway)' : ''}, sliver {s.sliver}</span>
                <code>{s.address}</code>
                <span>{s.protocol}{s.rttMs === null || s.gateway === live.self ? '' : `, ${s.rttMs.toFixed(1)} ms away`}</span>
                <span class="actions">
                  {WEB_TYPES.has(s.type) && (
                    <a class="button" href={`http://${s.address}/`} target="_blank" rel="noreferrer" aria-label={`Open ${s.name} on ${s.gateway}`}>Open</a>
                  )}
                  <button type="button" onClick={() => void copy(s)} aria-label={`Copy the address of ${s.name} on ${s.gateway}`}>Copy</button>
                </span>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </section>
  );
}
