/** Why a bid was allowed or denied. A closed set: dashboards and metrics key on these strings. */
export const DECISION_REASONS = [
  'within_budget',
  'probe',
  'throttled',
  'budget_exhausted',
  'total_budget_exhausted',
  'lease_exhausted',
  // Degraded and the journal refuses writes: a win could be neither stored nor journaled.
  'journal_unavailable',
  'circuit_open',
  'paused',
  'ended',
  'out_of_flight',
  'invalid_bid',
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

/**
 * The answer to one bid request. Allocated once by the caller and filled by `decide`, so the hot
 * path allocates nothing; copy it if you keep it.
 */
export interface Decision {
  allow: boolean;
  /** Highest CPM the bidder may offer; 0 when denied. */
  maxBidCpmMicros: number;
  /** Share of requests the pacer is currently skipping for this campaign, in [0, 1]. */
  throttleRate: number;
  reason: DecisionReason;
  /** True when decided without the shared store (conservative local mode). */
  degraded: boolean;
  /** Exposure reserved for this bid until it settles or expires (one impression at maxBid). */
  reservedMicros: number;
}

export function newDecision(): Decision {
  return {
    allow: false,
    maxBidCpmMicros: 0,
    throttleRate: 0,
    reason: 'invalid_bid',
    degraded: false,
    reservedMicros: 0,
  };
}
