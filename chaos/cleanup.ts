/**
 * Everything a run started, to be stopped however the harness ends: normal exit, a failure, or
 * Ctrl-C. Each entry stops its own resource (a pid, a mount); nothing is stopped by name.
 */
type Cleanup = () => Promise<void> | void;

const pending = new Set<Cleanup>();

export function onCleanup(fn: Cleanup): () => void {
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}

/** Runs every registered cleanup, latest first (servers before the Redis they use, mounts last). */
export async function cleanupAll(): Promise<void> {
  const fns = [...pending].reverse();
  pending.clear();
  for (const fn of fns) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`chaos cleanup: ${(err as Error).message}\n`);
    }
  }
}
