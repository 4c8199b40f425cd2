// An https.Agent whose every connection is checked against one pinned
// certificate fingerprint before the HTTP layer may write to it. Node skips
// `checkServerIdentity` when the chain does not verify (as with self-signed
// certificates), and data written during the handshake is flushed as soon as
// it completes, so the pin is checked here, before the socket is handed out.
// Must never: hand out a socket whose certificate was not checked, or resume
// a TLS session (every connection does a full handshake, so the certificate
// checked is one the peer proved it holds the key for, just now).

import { Agent, type AgentOptions } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { PeerError } from '../model/errors.js';
import { fingerprintOfCertificate } from './trust.js';

export interface PinnedAgentInit {
  member: string;
  fingerprint: string;
  options: AgentOptions;
}

/** When a new connection was asked for, its TCP connection made, and its TLS handshake (pin included) done. */
export interface ConnectionTimes { askedAt: number; connectedAt?: number; securedAt?: number }

export class PinnedAgent extends Agent {
  readonly member: string;
  readonly fingerprint: string;
  #lastMade: ConnectionTimes | undefined;

  constructor(init: PinnedAgentInit) {
    super({ ...init.options, rejectUnauthorized: false, maxCachedSessions: 0 });
    this.member = init.member;
    this.fingerprint = init.fingerprint;
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const times: ConnectionTimes = { askedAt: performance.now() };
    const socket = super.createConnection(options) as TLSSocket;
    this.#lastMade = times;
    socket.once('connect', () => {
      times.connectedAt = performance.now();
    });
    const settle = (err: Error | null): void => {
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('timeout', onTimeout);
      if (err !== null) socket.destroy();
      callback?.(err, socket);
    };
    const onSecure = (): void => {
      times.securedAt = performance.now();
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      const seen = raw === undefined ? '(none)' : fingerprintOfCertificate(raw);
      if (seen === this.fingerprint) {
        settle(null);
        return;
      }
      settle(new PeerError(
        this.member,
        `${this.member} presented certificate ${seen}, not its gossiped ${this.fingerprint}: refusing to talk (man in the middle, or a stale address)`,
      ));
    };
    const onError = (err: Error): void => settle(new PeerError(this.member, `cannot reach ${this.member}: ${err.message}`, undefined, { cause: err }));
    const onTimeout = (): void => settle(new PeerError(this.member, `TLS connection to ${this.member} timed out`));
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    socket.once('timeout', onTimeout);
    return undefined;
  }

  /** The times of the connection this agent made last (a new object each): one made for a request just created is its. */
  get lastMade(): ConnectionTimes | undefined {
    return this.#lastMade;
  }
}
