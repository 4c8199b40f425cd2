// Debian's chromium as the browser tests and benches drive it through
// playwright-core: headless, without the sandbox (they run as root), and
// without the background traffic (updates, sync, QUIC) that would leave
// the machine, which a test must never do.

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
