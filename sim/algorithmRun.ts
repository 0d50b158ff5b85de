import type { Campaign, PacingMode } from '../core/index';

export const MINUTE_MS = 60_000;
export const MINUTES_PER_DAY = 1440;

/**
 * Raw outcome of one algorithm over the scenario. Per-campaign arrays are indexed
 * `c * days + day` (campaign-day) or `c * minutes + minute` (per-minute series).
 */
export interface AlgorithmRun {
  readonly mode: PacingMode;
  readonly days: number;
  readonly minutes: number;
  readonly campaigns: readonly Campaign[];
  /** Spend booked (win notice arrival) per campaign and minute of the run. */
  readonly spendPerMinute: Float64Array;
  /** Throttle rate of each campaign's last decision, sampled at each minute's end. */
  readonly throttlePerMinute: Float32Array;
  /** Per campaign-day. */
  readonly candidates: Float64Array;
  readonly bids: Float64Array;
  readonly throttled: Float64Array;
  readonly wins: Float64Array;
  readonly clicks: Float64Array;
  readonly spendMicros: Float64Array;
  readonly breakerTrips: Float64Array;
  /** Minutes in which the breaker was OPEN, averaged over instances. */
  readonly openMinutes: Float64Array;
  readonly outageDecisions: Float64Array;
  readonly outageSpendMicros: Float64Array;
  /**
   * Spend of win notices booked where their reservation no longer existed (the instance that
   * reserved had crashed): the E term of the overspend bound, per campaign-day.
   */
  readonly reservationLostSpendMicros: Float64Array;
  /** What the shared store holds per campaign-day at the end, after every instance synced. */
  readonly storeSpendMicros: Float64Array;
  /** Spend booked after the last simulated day (late notices), per campaign; kept out of the scores. */
  readonly spendAfterRunMicros: Float64Array;
  readonly storeAfterRunMicros: Float64Array;
  /** Wins whose market price was a recorded win's (pacer-log replay); 0 for other streams. */
  readonly winsAtRecordedPrice: number;
  /** Per minute of the run. */
  readonly requestsPerMinute: Float64Array;
  readonly meanThrottlePerMinute: Float64Array;
  readonly breakerOpenPerMinute: Float64Array;
  readonly breakerHalfOpenPerMinute: Float64Array;
  readonly degradedInstancesPerMinute: Float64Array;
  readonly totals: RunTotals;
  /**
   * One per outage: checked two sync intervals after it ends, once every instance has synced:
   * whether the store then held every unit of spend made so far (none lost, none counted twice).
   */
  readonly outageReconciliations: readonly OutageReconciliation[];
}

export interface RunTotals {
  readonly requests: number;
  readonly decisions: number;
  readonly winNotices: number;
  readonly degradedDecisions: number;
  readonly leaseDenials: number;
  readonly storeErrors: number;
  readonly replayedRecords: number;
  readonly lateNoticesAfterTtl: number;
  /** Instance crashes (each followed by a restart). */
  readonly restarts: number;
  /** Requests whose instance was down, sent to another instance instead. */
  readonly requestsRerouted: number;
  /** Requests that arrived while every instance was down: no decision, no bid. */
  readonly requestsLost: number;
  /** Win notices booked by an instance (or incarnation) that did not hold their reservation. */
  readonly noticesReservationLost: number;
  /** Win notices a crashed instance had booked but not yet made safe, delivered again. */
  readonly noticesRetried: number;
  /** Store calls whose answer came late (store latency). */
  readonly delayedStoreCalls: number;
  /**
   * Sum over minute samples, instances up and campaigns they decided for since their last sync, of |spend booked today - (own + peer
   * spend the instance sees)|: how stale the instances' view of the day's spend is.
   */
  readonly viewLagMicros: number;
  readonly viewLagSamples: number;
}

export interface OutageReconciliation {
  readonly outageStartMs: number;
  readonly outageEndMs: number;
  readonly checkedAtMs: number;
  readonly reconciled: boolean;
  /** Sum over campaign-days of |store - spend made|, micros. */
  readonly mismatchMicros: number;
}
