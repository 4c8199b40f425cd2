// The reading of the `serf agent` console output into levelled lines, which
// the supervisor hands to its Logger.
// Must never: depend on a logging library.

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
