// Asking the kernel about a process by its pid, with signal 0.
// Two questions, because their answers differ for a process of another
// user (EPERM): it exists, but it is not ours to signal.
// Must never: send a real signal.

/**
 * True while `pid` exists at all, another user's process or a zombie
 * included: the question before reusing what a process held (a new agent
 * refuses a data dir whose lock names a zombie).
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while `pid` exists and this process may signal it: the question for
 * a pid we wrote down ourselves (a lock file, a child we started), since
 * one we may not signal is a reused pid, not ours any more.
 */
export function canSignal(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
