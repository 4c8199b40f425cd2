// A console in one of this gateway's slivers: a login shell on a real
// pseudo-terminal, for the gateway's owner and the user of the sliver's slice. The terminal (xterm.js) is
// loaded when the page opens, not with the first page.

import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleState } from '../terminal';
import type { Credential } from '../credential';

function describe(s: ConsoleState): string {
  switch (s.kind) {
    case 'connecting': return 'connecting…';
    case 'open': return 'open: type in the terminal';
    case 'exited': return `the shell exited with code ${s.code}`;
    case 'refused': return `refused (${s.code}): ${s.detail}`;
    case 'closed': return 'closed: the connection ended';
  }
}

export function ConsolePage({ sliver, credential, onUnauthorized }: { sliver: string; credential: Credential; onUnauthorized: (detail: string) => void }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<ConsoleState>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let handle: { close(): void } | undefined;
    let gone = false;
    setState({ kind: 'connecting' });
    void import('../terminal').then(({ openConsole }) => {
      if (gone || box.current === null) return;
      handle = openConsole(box.current, {
        sliver, credential,
        onState: (s) => {
          if (s.kind === 'refused' && s.code === 'unauthorized') onUnauthorized(s.detail);
          setState(s);
        },
      });
    });
    return () => {
      gone = true;
      handle?.close();
    };
  }, [sliver, credential, attempt]);

  const over = state.kind !== 'connecting' && state.kind !== 'open';
  return (
    <section>
      <h1>Console in {sliver}</h1>
      <p class="status-line" role="status" aria-live="polite">{describe(state)}</p>
      <div class="terminal" ref={box} aria-label={`Terminal in ${sliver}`} />
      <p>
        {over && <button type="button" onClick={() => setAttempt((n) => n + 1)}>Open a new shell</button>}
        {' '}<a href="#/gateway">Back to the gateway</a>
      </p>
    </section>
  );
}
