/**
 * Time for the server shell, injected (STYLE rule 2): `server/main.ts` turns Date.now into a
 * Clock; tests pass a clock and timers they advance by hand.
 */
export interface Clock {
  nowMs(): number;
}

export interface Timers {
  /** Calls `fn` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, fn: () => void): () => void;
}

/** Timers on Node's event loop; unref'd so a forgotten runtime never keeps a process alive. */
export const intervalTimers: Timers = Object.freeze({
  every(intervalMs: number, fn: () => void): () => void {
    const handle = setInterval(fn, intervalMs);
    handle.unref();
    return () => clearInterval(handle);
  },
});
