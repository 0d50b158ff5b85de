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

/**
 * A clock that never runs backwards: reservations live in time buckets, and a wall clock stepped
 * back (NTP) by a lap of the ring would evict live ones. It holds still until real time catches up.
 */
export function monotonicClock(read: () => number): Clock {
  let lastMs = Number.NEGATIVE_INFINITY;
  return Object.freeze({
    nowMs: () => {
      const t = read();
      if (t > lastMs) lastMs = t;
      return lastMs;
    },
  });
}
