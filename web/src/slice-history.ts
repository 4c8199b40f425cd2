// A slice's healing history as this gateway knows it: the slice.sliver-moved
// events of its log (each holder of a slice logs every index a newer
// placement moves, src/slivers/hosting.ts). The page reads the whole of it
// from GET /api/v1/slices/:name/events when the history is opened, and
// merges what the stream brings after, each event once (by seq). A gateway
// that holds none of the slice's slivers knows none.
// Must never: show an event twice, or another slice's or user's moves.

import type { HearthEvent } from './types.js';

export interface SliverMove {
  seq: number;
  at: string;
  /** The placement version that moved it. */
  version: number;
  index: number;
  from: string;
  to: string;
}

/** The moves of `user`'s slice `slice` among `events`, oldest first. */
export function movesOf(events: readonly HearthEvent[], slice: string, user: string): SliverMove[] {
  return events.flatMap((e) => {
    const { slice: s, user: u, version, index, from, to } = e.detail;
    if (e.type !== 'slice.sliver-moved' || s !== slice || u !== user) return [];
    if (typeof version !== 'number' || typeof index !== 'number' || typeof from !== 'string' || typeof to !== 'string') return [];
    return [{ seq: e.seq, at: e.at, version, index, from, to }];
  });
}

/** Both lists as one, each seq once, oldest first. */
export function mergeEvents(a: readonly HearthEvent[], b: readonly HearthEvent[]): HearthEvent[] {
  const bySeq = new Map<number, HearthEvent>();
  for (const e of [...a, ...b]) if (!bySeq.has(e.seq)) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq);
}

/** One page of GET /api/v1/slices/:name/events. */
interface EventsPage {
  items: HearthEvent[];
  next: number | null;
}

/** What reading needs of the portal's API client (web/src/api.ts, which the unit tests cannot load: it uses the DOM). */
export interface EventsReader {
  get<T>(path: string): Promise<T>;
}

const PAGE = 500;
/** Pages read at most: a history longer than 10 000 moves shows its first 10 000 and what the stream brings. */
const MAX_PAGES = 20;

/** Every move of `user`'s slice `slice` this gateway logged, page by page. */
export async function readMoves(api: EventsReader, slice: string, user: string): Promise<HearthEvent[]> {
  const base = `/api/v1/slices/${encodeURIComponent(slice)}/events?user=${encodeURIComponent(user)}&type=slice.sliver-moved&limit=${PAGE}`;
  const events: HearthEvent[] = [];
  let after: number | null = 0;
  for (let n = 0; n < MAX_PAGES && after !== null; n++) {
    const page: EventsPage = await api.get<EventsPage>(`${base}&after=${after}`);
    events.push(...page.items);
    after = page.next;
  }
  return events;
}
