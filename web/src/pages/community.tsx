// The community page: the gateways as a graph laid out by RTT, coloured by
// state (with the state in words too), and the same gateways as a table.
// It follows the stream's nodes and community snapshots. The slices page
// draws the same graph with a slice's hosts ringed.

import type { JSX } from 'preact';
import type { Live } from '../live';
import { layOut } from '../layout';
import type { NodeRow, ResourceVector } from '../types';

const SIZE = 360;
const RADIUS = SIZE / 2 - 50;

function resources(r: ResourceVector | null): string {
  return r === null ? '—' : `${r.cpu} cpu, ${r.memoryMb} MB, ${r.diskMb} MB disk`;
}

/** drain and safe are the owner's modes worth marking; production is the ordinary one. */
function markOf(mode: string | null): string {
  return mode === 'drain' || mode === 'safe' ? mode : '';
}

/**
 * The gateways laid out by RTT. With `hosts` (gateway → what of a slice it
 * hosts, in words), those gateways are ringed and the words written under
 * them: the ring is never the only sign.
 */
export function Graph({ nodes, hosts, id = 'graph', title }: { nodes: NodeRow[]; hosts?: ReadonlyMap<string, string>; id?: string; title?: string }): JSX.Element {
  const placed = layOut(nodes, RADIUS);
  const half = SIZE / 2;
  return (
    <svg class="graph" viewBox={`${-half} ${-half} ${SIZE} ${SIZE}`} role="img" aria-labelledby={`${id}-title`}>
      <title id={`${id}-title`}>{title ?? `The community's ${nodes.length} gateways, nearer by round-trip time; the table below lists them`}</title>
      <circle class="ring" r={RADIUS} />
      {placed.filter((p) => !p.node.self).map((p) => <line key={`l-${p.node.name}`} class="link" x1={0} y1={0} x2={p.x} y2={p.y} />)}
      {placed.map(({ node, x, y }) => {
        const r = node.self ? 14 : 10;
        const hosted = hosts?.get(node.name);
        return (
          <g key={node.name} class={`node status-${node.status} ${markOf(node.mode)}`} transform={`translate(${x} ${y})`}>
            {hosted !== undefined && <circle class="host-ring" r={r + 6} />}
            <circle r={r} />
            <text y={r + 14} text-anchor="middle">{node.name}</text>
            <text class="sub" y={r + 26} text-anchor="middle">{[node.status, markOf(node.mode)].filter(Boolean).join(', ')}</text>
            {hosted !== undefined && <text class="hosts" y={r + 38} text-anchor="middle">{hosted}</text>}
          </g>
        );
      })}
    </svg>
  );
}

export function CommunityPage({ live }: { live: Live }): JSX.Element {
  if (live.community === undefined || live.nodes === undefined && live.community !== null) {
    return <section aria-busy="true"><h1>Community</h1><p>Loading the community…</p></section>;
  }
  if (live.community === null || live.nodes === undefined) {
    return (
      <section>
        <h1>Community</h1>
        <div class="empty">
          <p>This gateway is not in a community yet.</p>
          <p>Create one with <code>hearth community create NAME</code>, or join one with an invite from a member: <code>hearth community join INVITE</code>.</p>
        </div>
      </section>
    );
  }
  const c = live.community;
  const nodes = live.nodes.items;
  return (
    <section>
      <h1>Community {c.name}</h1>
      <p>
        {c.members.alive} alive, {c.members.failed} failed, {c.members.left} left; this gateway is {c.state}.
        {c.reason !== null && ` ${c.reason}`}{c.warning !== null && ` ${c.warning}`}
      </p>
      <Graph nodes={nodes} />
      <div class="scroll" role="region" aria-label="Gateways" tabIndex={0}>
        <table>
          <caption>Gateways</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Zone</th><th scope="col">Mode</th><th scope="col">Contributed</th><th scope="col">Free</th><th scope="col">RTT</th></tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr key={n.name}>
                <th scope="row">{n.name}{n.self && ' (this gateway)'}</th>
                <td><span class={`badge status-${n.status}`}>{n.status}{n.revoked && ', revoked'}</span></td>
                <td>{n.zone ?? '—'}</td>
                <td>{n.mode ?? '—'}</td>
                <td>{resources(n.contributed)}</td>
                <td>{resources(n.free)}</td>
                <td>{n.self ? '—' : n.rttMs === null ? 'unknown' : `${n.rttMs.toFixed(1)} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
