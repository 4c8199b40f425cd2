// The testbed's defaults that the CLI names in its options' help, apart from
// the code that builds and drives a testbed: `hearth --help` and every other
// verb load this, and load the testbed's code only when a testbed verb runs.
// Must never: import anything.

export const DEFAULT_TESTBED_DIR = '/var/lib/hearth-testbed';

export const MAX_TESTBED_GATEWAYS = 200;
