// How a person writes a length of time for the CLI and the portal: "30m",
// "12h", "7d" or plain seconds. Pure; the portal runs it in the browser.

/** "30m", "12h", "7d" or seconds, as seconds; throws on anything else. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (m === null) throw new Error(`a duration is a number with s, m, h or d (e.g. 7d), got ${JSON.stringify(text)}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
