import type { ReplayOutcomes } from '../replayOutcomes';

/**
 * A bid stream, generated lazily: one request at a time into a reused record, so a day at any
 * rate never sits in memory.
 */
export interface BidRequest {
  /** Arrival time, ms since the epoch (fractional ms are kept: arrivals are continuous). */
  timeMs: number;
  /** Highest competing CPM: a bid wins when it is at least this. */
  marketPriceCpmMicros: number;
  /** Predicted click-through rate of the impression. */
  pctr: number;
  /** Recorded click outcome (0/1), or -1 when the simulator draws it from pctr. */
  click: number;
  /** The one campaign a recorded decision asked about (pacer-log), or -1: candidates are drawn. */
  campaign: number;
  /** The recorded bid CPM (pacer-log), or -1: the campaign bids as the scenario says. */
  bidCpmMicros: number;
  /** The recorded value signal (pacer-log; -1 none); other sources' value signal is pctr. */
  value: number;
  /** The market price is a recorded win's, not drawn from a model (pacer-log). */
  recordedPrice: boolean;
}

/** A request before its source fills it: every field at its "none" value. */
export function newBidRequest(): BidRequest {
  return {
    timeMs: 0,
    marketPriceCpmMicros: 0,
    pctr: 0,
    click: -1,
    campaign: -1,
    bidCpmMicros: -1,
    value: -1,
    recordedPrice: false,
  };
}

export interface BidSource {
  readonly req: BidRequest;
  /** Moves `req` to the next request (its time and click); false when the stream has ended. */
  next(): boolean;
  /**
   * Fills the current request's market price and pctr. The engine asks only when a campaign bids:
   * a synthetic source derives them from the request's index, so asking or not never shifts the
   * draws of later requests (the stream stays the same for every algorithm).
   */
  fill(): void;
}

/** What a campaign generator and the report need to know about a stream before running it. */
export interface StreamPlan {
  readonly startMs: number;
  readonly endMs: number;
  readonly expectedRequests: number;
  /** Expected requests per minute over the run (traffic chart, campaign planning). */
  readonly expectedPerMinute: Float64Array;
  /** Expected charge per request (micros) of a campaign bidding `bidCpmMicros` on every request it sees. */
  expectedCostPerRequestMicros(bidCpmMicros: number, pricing: 'first' | 'second'): number;
  /** Surge windows, [startMs, endMs, multiplier], for shading. */
  readonly surges: readonly (readonly [number, number, number])[];
}

export interface StreamFactory {
  readonly plan: StreamPlan;
  /** A production replay (pacer-log): where its market outcomes came from. */
  readonly replay?: ReplayOutcomes;
  /** A fresh source at the start of the stream, its draws seeded by `seed`. */
  open(seed: number): BidSource;
}
