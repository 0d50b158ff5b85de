/**
 * Budget circuit breaker, one per campaign and day.
 *
 *   CLOSED --committed >= tripRatio x budget--> OPEN
 *   OPEN --cooldown elapsed--> HALF_OPEN
 *   HALF_OPEN --probeCount probes fit the budget--> CLOSED (recovered: heavy throttling)
 *   HALF_OPEN or recovered CLOSED --next bid would pass the budget--> OPEN
 *   any --new day--> CLOSED (not recovered)
 *
 * Time is an argument; transitions to the state already held do nothing.
 */
export const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerConfig {
  /** Share of the day's budget at which a normal CLOSED breaker trips. */
  readonly tripRatio: number;
  readonly cooldownMs: number;
  readonly probeCount: number;
  /** Minimum throttle rate once recovered from OPEN. */
  readonly recoveredThrottle: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = Object.freeze({
  tripRatio: 0.95,
  cooldownMs: 5 * 60_000,
  probeCount: 2,
  recoveredThrottle: 0.9,
});

export interface BreakerSnapshot {
  state: BreakerState;
  recovered: boolean;
  openedAtMs: number;
  probesUsed: number;
  trips: number;
  lastTransitionMs: number;
}

/** What the breaker lets through for one bid. */
export type Admission = 'pass' | 'probe' | 'deny';

export class CircuitBreaker {
  state: BreakerState = 'CLOSED';
  recovered = false;
  openedAtMs = 0;
  probesUsed = 0;
  trips = 0;
  lastTransitionMs = 0;

  constructor(readonly config: BreakerConfig = DEFAULT_BREAKER_CONFIG) {}

  trip(nowMs: number): void {
    if (this.state === 'OPEN') return;
    this.state = 'OPEN';
    this.openedAtMs = nowMs;
    this.probesUsed = 0;
    this.trips++;
    this.lastTransitionMs = nowMs;
  }

  halfOpen(nowMs: number): void {
    if (this.state === 'HALF_OPEN') return;
    this.state = 'HALF_OPEN';
    this.probesUsed = 0;
    this.lastTransitionMs = nowMs;
  }

  close(nowMs: number, recovered: boolean): void {
    if (this.state === 'CLOSED' && this.recovered === recovered) return;
    this.state = 'CLOSED';
    this.recovered = recovered;
    this.probesUsed = 0;
    this.lastTransitionMs = nowMs;
  }

  /** A new budget day: back to a fresh CLOSED breaker. */
  reset(nowMs: number): void {
    this.close(nowMs, false);
  }

  /**
   * Decides whether a bid costing `costMicros` may go, given what is committed against `limitMicros`
   * (the day's budget, or less when the total budget binds), and moves the state accordingly.
   */
  admit(committedMicros: number, costMicros: number, limitMicros: number, nowMs: number): Admission {
    const wouldOverspend = committedMicros + costMicros > limitMicros;
    switch (this.state) {
      case 'CLOSED':
        if (this.recovered ? wouldOverspend : committedMicros >= this.config.tripRatio * limitMicros) {
          this.trip(nowMs);
          return 'deny';
        }
        return 'pass';
      case 'OPEN':
        if (nowMs - this.openedAtMs < this.config.cooldownMs) return 'deny';
        this.halfOpen(nowMs);
        return this.admitProbe(wouldOverspend, nowMs);
      case 'HALF_OPEN':
        return this.admitProbe(wouldOverspend, nowMs);
    }
  }

  private admitProbe(wouldOverspend: boolean, nowMs: number): Admission {
    if (wouldOverspend) {
      this.trip(nowMs);
      return 'deny';
    }
    this.probesUsed++;
    if (this.probesUsed >= this.config.probeCount) this.close(nowMs, true);
    return 'probe';
  }

  /**
   * The state a bid arriving at `nowMs` would find, without moving anything: a status read must
   * not wait for the next decision to show a budget that crossed the trip ratio (or a cool-down
   * that ended). Mirrors admit(): a fresh CLOSED breaker trips at the ratio, a recovered one once
   * nothing fits any more; OPEN turns HALF_OPEN when the cool-down is over.
   */
  stateAt(committedMicros: number, limitMicros: number, nowMs: number): BreakerState {
    switch (this.state) {
      case 'CLOSED': {
        const tripAtMicros = this.recovered ? limitMicros : this.config.tripRatio * limitMicros;
        return committedMicros >= tripAtMicros ? 'OPEN' : 'CLOSED';
      }
      case 'OPEN':
        return nowMs - this.openedAtMs >= this.config.cooldownMs ? 'HALF_OPEN' : 'OPEN';
      case 'HALF_OPEN':
        return 'HALF_OPEN';
    }
  }

  /** Throttle floor the breaker imposes: heavy after recovery, none otherwise. */
  minThrottle(): number {
    return this.state === 'CLOSED' && this.recovered ? this.config.recoveredThrottle : 0;
  }

  toJSON(): BreakerSnapshot {
    return {
      state: this.state,
      recovered: this.recovered,
      openedAtMs: this.openedAtMs,
      probesUsed: this.probesUsed,
      trips: this.trips,
      lastTransitionMs: this.lastTransitionMs,
    };
  }

  static fromJSON(snapshot: BreakerSnapshot, config: BreakerConfig = DEFAULT_BREAKER_CONFIG): CircuitBreaker {
    if (!BREAKER_STATES.includes(snapshot.state))
      throw new RangeError(`unknown breaker state ${snapshot.state}`);
    const b = new CircuitBreaker(config);
    b.state = snapshot.state;
    b.recovered = snapshot.recovered;
    b.openedAtMs = snapshot.openedAtMs;
    b.probesUsed = snapshot.probesUsed;
    b.trips = snapshot.trips;
    b.lastTransitionMs = snapshot.lastTransitionMs;
    return b;
  }
}
