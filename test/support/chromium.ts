// Debian's chromium as the browser tests and benches drive it through
// playwright-core: headless, without the sandbox (they run as root), and
// without the background traffic (updates, sync, QUIC) that would leave
// the machine, which a test must never do.

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Says on stderr when `page`'s renderer crashes, so that a test that then fails on it says why. */
export function reportPageDeath(page: { on(event: 'crash', listener: () => void): unknown }, what: string): void {
  page.on('crash', () => process.stderr.write(`chromium: the renderer of ${what} crashed\n`));
}
