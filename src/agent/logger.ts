// Structured JSON logs (pino) for the agent and its parts. Parts take a
// Logger; tests pass `silentLogger()`.

import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string = process.env['HEARTH_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, timestamp: pino.stdTimeFunctions.isoTime, base: { pid: process.pid } });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
