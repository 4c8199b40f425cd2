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

/** News of a member in Serf's log; the status it now has when the line says it all (a failure, a leave). */
export interface MemberNews {
  member: string;
  status?: 'failed' | 'left';
}

/**
 * The member a Serf log line reports news of, e.g.
 * `serf: EventMemberFailed: gw7 10.0.0.7` or `serf: EventMemberUpdate: gw7`.
 * Serf prints these when it learns the change; its agent streams the event
 * only after coalescing (quiet for 1 s, at most 3 s), so the line is the
 * earlier word. A failure or a leave changes nothing but the member's
 * status (Serf's StatusFailed, StatusLeft), so the line carries it.
 */
export function memberNewsIn(text: string): MemberNews | undefined {
  const m = /^serf: EventMember(Join|Leave|Failed|Update|Reap): (\S+)/.exec(text);
  if (m === null) return undefined;
  const member = m[2] as string;
  if (m[1] === 'Failed') return { member, status: 'failed' };
  if (m[1] === 'Leave') return { member, status: 'left' };
  return { member };
}
