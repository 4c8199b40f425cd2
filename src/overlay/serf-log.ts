// The narrow logging surface the Serf parts need (a pino Logger fits it),
// and the reading of the `serf agent` console output into levelled lines.
// Must never: depend on a logging library.

export interface SerfLog {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentSerfLog: SerfLog = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export type SerfLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Reads one line of `serf agent` output, e.g.
 * `    2024/01/02 10:10:28 [WARN] memberlist: Refuting a suspect message`.
 * Banner lines (`==> ...`) carry no level and are info.
 */
export function parseSerfLogLine(line: string): { level: SerfLogLevel; text: string } | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  const m = /^(?:\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d )?\[(TRACE|DEBUG|INFO|WARN|ERR|ERROR)\] ?(.*)$/.exec(trimmed);
  if (m === null) return { level: 'info', text: trimmed.replace(/^==> /, '') };
  const tag = m[1];
  const level: SerfLogLevel =
    tag === 'WARN' ? 'warn' : tag === 'ERR' || tag === 'ERROR' ? 'error' : tag === 'INFO' ? 'info' : 'debug';
  return { level, text: m[2] ?? '' };
}
