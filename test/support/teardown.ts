// Teardown for integration tests: every step runs even when an earlier one
// failed, and the first failure is reported at the end, so one stuck step
// never leaves the rest of a test's namespaces, links or tables behind.

export interface Teardown {
  /** Runs `step`, keeping its failure for the end. */
  attempt(step: () => Promise<unknown> | unknown): Promise<void>;
  /** Throws the first failure, if any step failed. */
  finish(): void;
}

export function createTeardown(): Teardown {
  const failures: unknown[] = [];
  return {
    async attempt(step) {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    },
    finish() {
      if (failures.length > 0) throw failures[0];
    },
  };
}
