import { CircuitBreaker } from './breaker';
import type { Campaign } from './campaign';
import type { PacerConfig } from './config';
import { type Ledger, createLedger } from './ledger';
import { type TargetCurve, curveFor } from './targetCurve';
import type { ValueQuantiles } from './valueQuantiles';

/**
 * Everything one instance holds for one campaign: the campaign, its ledger, its breaker and its
 * controller's memory. Mutable, owned by exactly one shell, never shared across instances.
 */
export interface PacingState {
  campaign: Campaign;
  curve: TargetCurve;
  readonly ledger: Ledger;
  breaker: CircuitBreaker;
  readonly config: PacerConfig;
  /** Share of bid requests let through: 1 - throttle rate. */
  passRate: number;
  /** DUAL_GRADIENT: bids are multiplied by 1 / (1 + lambda). */
  lambda: number;
  lastTickMs: number;
  committedAtTickMicros: number;
  /** Planned committed spend over the tick that started at lastTickMs. */
  plannedTickMicros: number;
  /** Estimated committed spend per ms at full pass; negative until first observed. */
  fullRateMicrosPerMs: number;
  /**
   * Most this instance may commit today (own spend + own reservations). Infinity when the store
   * grants no leases (single instance); with leases, the sum granted to this instance today.
   */
  ownAllowanceMicros: number;
  /** Whether ownAllowanceMicros comes from leases (reset to 0 at each new day until re-leased). */
  readonly leased: boolean;
  /**
   * Set when the campaign decided or spent since the instance's last sync round, so a round
   * visits only active campaigns instead of every campaign loaded.
   */
  touched: boolean;
  /** Recent values of requests that carried a value signal; null until the first one. */
  values: ValueQuantiles | null;
  /**
   * Largest impression cost denied for want of lease since the last top-up: a campaign without
   * a max bid has no other measure of "one bid", and a headroom below it would deny for good.
   */
  leaseShortMicros: number;
}

export interface PacingStateOptions {
  leased?: boolean;
  priorTotalSpentMicros?: number;
}

export function createPacingState(
  campaign: Campaign,
  config: PacerConfig,
  nowMs: number,
  opts: PacingStateOptions = {},
): PacingState {
  const leased = opts.leased ?? false;
  const ledgerOpts = {
    reservationTtlMs: config.reservationTtlMs,
    priorTotalSpentMicros: opts.priorTotalSpentMicros ?? 0,
  };
  return {
    campaign,
    curve: curveFor(campaign),
    ledger: createLedger(campaign.timeZone, nowMs, ledgerOpts),
    breaker: new CircuitBreaker(config.breaker),
    config,
    passRate: 1,
    lambda: 0,
    lastTickMs: Number.NEGATIVE_INFINITY,
    committedAtTickMicros: 0,
    plannedTickMicros: 0,
    fullRateMicrosPerMs: -1,
    ownAllowanceMicros: leased ? 0 : Number.POSITIVE_INFINITY,
    leased,
    touched: false,
    values: null,
    leaseShortMicros: 0,
  };
}

/** Swaps in an edited campaign (budget, mode, multipliers) without losing spend or breaker state. */
export function updateCampaign(s: PacingState, campaign: Campaign): void {
  if (campaign.id !== s.campaign.id)
    throw new RangeError(`campaign id ${campaign.id} does not match ${s.campaign.id}`);
  if (campaign.timeZone !== s.campaign.timeZone) {
    throw new RangeError('a campaign time zone cannot change mid-flight; create a new pacing state');
  }
  s.campaign = campaign;
  s.curve = curveFor(campaign);
  // Re-plan at the next decision with the new budget or curve.
  s.lastTickMs = Number.NEGATIVE_INFINITY;
}
