import type { Clock, Timers } from '../../server/runtime/time';

/** A clock that moves only when the test says so. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  nowMs(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Interval {
  readonly everyMs: number;
  nextMs: number;
  readonly fn: () => void;
}

/** Intervals that fire only from `advance`, against the shared manual clock. */
export class ManualTimers implements Timers {
  private readonly intervals = new Set<Interval>();
  constructor(private readonly clock: ManualClock) {}

  every(intervalMs: number, fn: () => void): () => void {
    const iv: Interval = { everyMs: intervalMs, nextMs: this.clock.nowMs() + intervalMs, fn };
    this.intervals.add(iv);
    return () => {
      this.intervals.delete(iv);
    };
  }

  get active(): number {
    return this.intervals.size;
  }

  /** Moves the clock forward, firing each interval as often as it falls due, in time order. */
  advance(ms: number): void {
    const end = this.clock.nowMs() + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let next: Interval | undefined;
      for (const iv of this.intervals) if (iv.nextMs <= end && (!next || iv.nextMs < next.nextMs)) next = iv;
      if (!next) break;
      this.clock.set(next.nextMs);
      next.nextMs += next.everyMs;
      next.fn();
    }
    this.clock.set(end);
  }
}
