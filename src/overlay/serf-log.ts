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

/**
 * The member a Serf log line reports news of, e.g.
 * `serf: EventMemberFailed: gw7 10.0.0.7` or `serf: EventMemberUpdate: gw7`.
 * Serf prints these when it learns the change; its agent streams the event
 * only after coalescing (quiet for 1 s, at most 3 s), so the line is the
 * earlier word.
 */
export function memberNewsIn(text: string): string | undefined {
  return /^serf: EventMember(?:Join|Leave|Failed|Update|Reap): (\S+)/.exec(text)?.[1];
}
