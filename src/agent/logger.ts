// Structured JSON logs (pino) for the agent. A pino logger is both the
// parts' Logger (model/logger.ts) and the whole logger Fastify needs for the
// API, so the composition root makes one and hands it down.
// Must never: be imported by a part; parts take a Logger.

import { pino, type Logger as PinoLogger } from 'pino';

export function createLogger(level: string = process.env['HEARTH_LOG_LEVEL'] ?? 'info'): PinoLogger {
  return pino({ level, timestamp: pino.stdTimeFunctions.isoTime, base: { pid: process.pid } });
}
