// The live stream (/api/v1/stream): authenticates with the first message,
// hands snapshots and events to the app, and reconnects with back-off after
// any close but 4401, asking only for events after the last one it passed
// on, so no event reaches the app twice.

import type { CommunityStatus, HearthEvent, NodeList, Problem, ServiceEntry } from './types';
import { socketAuth, type Credential } from './credential';

export type StreamMessage =
  | { type: 'ready'; self: string; seq: number }
  | ({ type: 'nodes' } & NodeList)
  | { type: 'community'; status: CommunityStatus | null }
  | { type: 'services'; items: ServiceEntry[] }
  | { type: 'event'; event: HearthEvent }
  | { type: 'error'; problem: Problem };

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

export interface StreamInit {
  credential: Credential;
  onMessage: (message: StreamMessage) => void;
  onStatus: (status: StreamStatus) => void;
  /** The token or signature was refused (close 4401): the stream stops. */
  onUnauthorized: (problem: Problem | undefined) => void;
  /** ws(s)://host/api/v1/stream by default, from the page's own address. */
  url?: string;
}

export interface Stream {
  close(): void;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

export function streamUrl(location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/v1/stream`;
}

export function openStream(init: StreamInit): Stream {
  const url = init.url ?? streamUrl(window.location);
  let lastSeq: number | undefined;
  let retryMs = FIRST_RETRY_MS;
  let socket: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let problem: Problem | undefined;

  const connect = (): void => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      const after = lastSeq;
      void socketAuth(init.credential, '/api/v1/stream').then((auth) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...auth, ...(after === undefined ? {} : { after }) }));
      });
    };
    ws.onmessage = (e: MessageEvent<unknown>) => {
      if (typeof e.data !== 'string') return;
      let message: StreamMessage;
      try {
        message = JSON.parse(e.data) as StreamMessage;
      } catch {
        return;
      }
      if (message.type === 'ready') {
        retryMs = FIRST_RETRY_MS;
        init.onStatus('live');
      } else if (message.type === 'error') {
        problem = message.problem;
        return;
      } else if (message.type === 'event') {
        if (lastSeq !== undefined && message.event.seq <= lastSeq) return;
        lastSeq = message.event.seq;
      }
      init.onMessage(message);
    };
    ws.onclose = (e) => {
      if (closed || socket !== ws) return;
      if (e.code === 4401) {
        closed = true;
        init.onUnauthorized(problem);
        return;
      }
      init.onStatus('reconnecting');
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  };

  init.onStatus('connecting');
  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      socket?.close(1000);
    },
  };
}
