import { MINUTE_MS } from './algorithmRun';

/**
 * Simulated time, shared by the engine's parts: the time of the event being handled. Only the
 * engine moves it; the stores and the instances read it through `now`.
 */
export class SimClock {
  nowMs: number;
  readonly now = (): number => this.nowMs;

  constructor(readonly startMs: number) {
    this.nowMs = startMs;
  }

  /** Minute of the run `nowMs` falls in (may be past the last one for late events). */
  minute(): number {
    return Math.floor((this.nowMs - this.startMs) / MINUTE_MS);
  }
}
