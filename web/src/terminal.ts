// A terminal in the page for a sliver's console socket
// (/api/v1/slivers/:id/console): xterm.js draws it; keystrokes go out as
// binary frames once the gateway says ready, output comes back the same way,
// and the terminal's size follows its box. Loaded only when a console is
// opened, so the first page stays small.

import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { socketAuth, type Credential } from './credential';

export type ConsoleState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'exited'; code: number }
  | { kind: 'refused'; code: string; detail: string }
  | { kind: 'closed' };

export interface ConsoleHandle {
  close(): void;
}

export function openConsole(box: HTMLElement, init: { sliver: string; credential: Credential; onState(s: ConsoleState): void }): ConsoleHandle {
  const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 2000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const path = `/api/v1/slivers/${encodeURIComponent(init.sliver)}/console`;
  const ws = new WebSocket(`${scheme}://${location.host}${path}`);
  ws.binaryType = 'arraybuffer';
  let ready = false;
  let ended = false;
  const encoder = new TextEncoder();
  ws.onopen = () => {
    void socketAuth(init.credential, path).then((auth) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...auth, cols: term.cols, rows: term.rows }));
    });
  };
  ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
    if (typeof e.data !== 'string') {
      term.write(new Uint8Array(e.data));
      return;
    }
    const m = JSON.parse(e.data) as { type: string; code?: number; problem?: { code: string; detail: string } };
    if (m.type === 'ready') {
      ready = true;
      init.onState({ kind: 'open' });
      term.focus();
    } else if (m.type === 'exit') {
      ended = true;
      init.onState({ kind: 'exited', code: m.code ?? -1 });
    } else if (m.type === 'error' && m.problem !== undefined) {
      ended = true;
      init.onState({ kind: 'refused', code: m.problem.code, detail: m.problem.detail });
    }
  };
  ws.onclose = () => {
    ready = false;
    if (!ended) init.onState({ kind: 'closed' });
  };
  term.onData((d) => {
    if (ready && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d));
  });
  term.onResize(({ cols, rows }) => {
    if (ready && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  });
  const resized = new ResizeObserver(() => fit.fit());
  resized.observe(box);
  return {
    close() {
      resized.disconnect();
      ws.close();
      term.dispose();
    },
  };
}
