/**
 * Budget circuit breaker, one per campaign and day, in one of two modes.
 *
 * classic (the reference design): trips at tripRatio (95%) of the budget and blacks the campaign
 * out for the cool-down, then probes and recovers with heavy throttling. The reservations already
 * keep spend under the cap, so that blackout costs delivery (3 to 4.5% of the budget left unspent
 * on the iPinYou backtest) and buys no safety.
 *
 * precision (the default): a CLOSED breaker keeps passing every bid whose reservation fits what is
 * left (decide() checks the fit; in-flight exposure is what throttles the end of the day), and
 * trips only on overspend risk: committed spend already past the limit (spend outran its
 * reservations), or a flood of win notices whose reservations had expired (more than
 * floodShare of the limit within one cool-down).
 *
 *   CLOSED --classic: committed >= tripRatio x budget; precision: overspend risk--> OPEN
 *   OPEN --cooldown elapsed--> HALF_OPEN
 *   HALF_OPEN --probeCount probes fit the budget--> CLOSED (recovered: heavy throttling)
 *   HALF_OPEN or recovered CLOSED --next bid would pass the budget--> OPEN
 *   any --new day--> CLOSED (not recovered)
 *
 * Time is an argument; transitions to the state already held do nothing.
 */
export const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export const BREAKER_MODES = ['precision', 'classic'] as const;
export type BreakerMode = (typeof BREAKER_MODES)[number];

export interface BreakerConfig {
  readonly mode: BreakerMode;
  /** Share of the day's budget at which a normal CLOSED breaker trips. */
  readonly tripRatio: number;
  readonly cooldownMs: number;
  readonly probeCount: number;
  /** Minimum throttle rate once recovered from OPEN. */
  readonly recoveredThrottle: number;
  /**
   * precision: spend booked after its reservation expired (late notices), within one cool-down,
   * above this share of the limit trips the breaker.
   */
  readonly floodShare: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = Object.freeze({
  mode: 'precision',
  tripRatio: 0.95,
  cooldownMs: 5 * 60_000,
  probeCount: 2,
  recoveredThrottle: 0.9,
  floodShare: 0.01,
});

/** The reference behaviour: trip at 95%, 5-minute cool-down, 2 probes, 90% throttle after. */
export const CLASSIC_BREAKER_CONFIG: BreakerConfig = Object.freeze({
  ...DEFAULT_BREAKER_CONFIG,
  mode: 'classic',
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
  /**
   * Unreserved late spend seen since `floodWindowStartMs` (precision mode). Deliberately not in
   * the snapshot: it is a short-window rate, and a restored breaker starts a fresh window.
   */
  private floodMicros = 0;
  private floodWindowStartMs = Number.NEGATIVE_INFINITY;

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
    this.floodMicros = 0;
    this.floodWindowStartMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * Decides whether a bid costing `costMicros` may go, given what is committed against `limitMicros`
   * (the day's budget, or less when the total budget binds), and moves the state accordingly.
   */
  admit(committedMicros: number, costMicros: number, limitMicros: number, nowMs: number): Admission {
    const wouldOverspend = committedMicros + costMicros > limitMicros;
    switch (this.state) {
      case 'CLOSED':
        if (this.closedTrips(committedMicros, limitMicros, wouldOverspend)) {
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

  /** Whether a CLOSED breaker trips on this bid. */
  private closedTrips(committedMicros: number, limitMicros: number, wouldOverspend: boolean): boolean {
    if (this.config.mode === 'precision') return committedMicros > limitMicros;
    return this.recovered ? wouldOverspend : committedMicros >= this.config.tripRatio * limitMicros;
  }

  /**
   * Whether a bid that does not fit the budget should open the breaker. classic: near the end of
   * the budget (far from it only this bid is too big, and tripping would throttle the rest of the
   * day). precision: only when committed spend is already past the limit.
   */
  tripsWhenFull(committedMicros: number, limitMicros: number): boolean {
    return this.config.mode === 'precision'
      ? committedMicros > limitMicros
      : committedMicros >= this.config.tripRatio * limitMicros;
  }

  /**
   * Spend booked without the reservation its bid made (the notice came after the reservation
   * expired): in precision mode, a flood of it within one cool-down opens the breaker.
   */
  observeUnreserved(spendMicros: number, limitMicros: number, nowMs: number): void {
    if (this.config.mode !== 'precision' || spendMicros <= 0) return;
    if (nowMs - this.floodWindowStartMs >= this.config.cooldownMs) {
      this.floodWindowStartMs = nowMs;
      this.floodMicros = 0;
    }
    this.floodMicros += spendMicros;
    if (this.floodMicros > this.config.floodShare * limitMicros) this.trip(nowMs);
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
   * that ended). Mirrors admit() for the cheapest bid (1 micro): a CLOSED breaker shows OPEN when
   * that bid would trip it (classic: a fresh one at the ratio, a recovered one once nothing fits;
   * precision: once committed spend is past the limit); OPEN turns HALF_OPEN when the cool-down
   * is over.
   */
  stateAt(committedMicros: number, limitMicros: number, nowMs: number): BreakerState {
    switch (this.state) {
      case 'CLOSED':
        return this.closedTrips(committedMicros, limitMicros, committedMicros + 1 > limitMicros)
          ? 'OPEN'
          : 'CLOSED';
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
