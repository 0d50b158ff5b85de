import { asapThrottle, budgetLimitMicros, tick } from './controller';
import type { Decision, DecisionReason } from './decision';
import { bookSpend, dayCommittedMicros, expireReservations, release, reserve, rollDay } from './ledger';
import { impressionCostMicros } from './money';
import type { PacingState } from './pacingState';
import {
  computeKnots,
  createValueQuantiles,
  hasQuantiles,
  observeValue,
  refreshKnots,
  valueQuantile,
} from './valueQuantiles';

const ASAP_REFRESH_VALUES = 4096;

/** A source of uniform draws in [0, 1): seeded in the simulator, per-request in the server. */
export type Rand = () => number;

/** Fills `out` with a denial; for shells that deny before the pacing logic runs. */
export function deny(
  out: Decision,
  reason: DecisionReason,
  throttleRate: number,
  degraded: boolean,
): Decision {
  out.allow = false;
  out.maxBidCpmMicros = 0;
  out.throttleRate = throttleRate;
  out.reason = reason;
  out.degraded = degraded;
  out.reservedMicros = 0;
  return out;
}

/** Moves the state to `nowMs`: day roll-over (fresh breaker, no lease yet) and reservation expiry. */
export function advance(s: PacingState, nowMs: number): void {
  if (rollDay(s.ledger, nowMs)) {
    s.breaker.reset(nowMs);
    if (s.leased) s.ownAllowanceMicros = 0;
    s.committedAtTickMicros = 0;
    s.plannedTickMicros = 0;
    s.lambda = 0;
    s.lastTickMs = Number.NEGATIVE_INFINITY;
  }
  expireReservations(s.ledger, nowMs);
}

/**
 * Whether a throttled campaign skips this request. With a value signal (`value` >= 0) and enough
 * recent values, it skips the requests below the `throttle` quantile of recent values (ties by
 * coin); without one, a coin with probability `throttle`.
 */
function skips(s: PacingState, throttle: number, value: number, rand: Rand): boolean {
  if (throttle <= 0) return false;
  if (throttle >= 1) return true;
  if (value >= 0 && s.values !== null) {
    const threshold = valueQuantile(s.values, throttle);
    if (threshold >= 0) {
      if (value > threshold) return false;
      if (value < threshold) return true;
    }
  }
  return rand() < throttle;
}

/**
 * Whether the campaign may bid on one request, and at what maximum CPM. Pure but for the state it
 * updates (controller, breaker, reservation, recent values) and at most one draw from `rand` when
 * throttling is partial. `value` is the request's value signal (predicted CTR or a value score,
 * >= 0), or -1 when it carries none: with one, a partial throttle passes the request when its value
 * is above the throttle's quantile of recent values instead of by coin.
 * Never allows a bid whose impression cost, added to spend and reservations, would pass the daily,
 * total or leased budget.
 */
export function decide(
  s: PacingState,
  bidCpmMicros: number,
  nowMs: number,
  rand: Rand,
  degraded: boolean,
  out: Decision,
  value = -1,
): Decision {
  const c = s.campaign;
  if (c.status !== 'ACTIVE') return deny(out, c.status === 'PAUSED' ? 'paused' : 'ended', 1, degraded);
  if (
    (c.flightStartMs !== null && nowMs < c.flightStartMs) ||
    (c.flightEndMs !== null && nowMs >= c.flightEndMs)
  ) {
    return deny(out, 'out_of_flight', 1, degraded);
  }
  if (!(bidCpmMicros > 0) || !Number.isSafeInteger(bidCpmMicros))
    return deny(out, 'invalid_bid', 0, degraded);

  advance(s, nowMs);
  const ledger = s.ledger;
  const limit = budgetLimitMicros(s);
  if (limit <= 0) return deny(out, 'total_budget_exhausted', 1, degraded);

  const maxBid =
    c.maxBidCpmMicros !== null && c.maxBidCpmMicros < bidCpmMicros ? c.maxBidCpmMicros : bidCpmMicros;
  let bid = maxBid;
  if (c.pacingMode === 'DUAL_GRADIENT' && s.lambda > 0) bid = Math.floor(maxBid / (1 + s.lambda));
  if (bid < 1) bid = 1;
  let cost = impressionCostMicros(bid);
  const committed = dayCommittedMicros(ledger);

  if (committed + cost > limit) {
    if (s.breaker.tripsWhenFull(committed, limit)) s.breaker.trip(nowMs);
    return deny(
      out,
      limit < c.dailyBudgetMicros ? 'total_budget_exhausted' : 'budget_exhausted',
      1,
      degraded,
    );
  }
  const admission = s.breaker.admit(committed, cost, limit, nowMs);
  if (admission === 'deny') return deny(out, 'circuit_open', 1, degraded);
  if (ledger.ownDaySpentMicros + ledger.reservedMicros + cost > s.ownAllowanceMicros) {
    if (cost > s.leaseShortMicros) s.leaseShortMicros = cost;
    return deny(out, 'lease_exhausted', 1, degraded);
  }

  let throttle: number;
  if (c.pacingMode === 'ASAP') {
    throttle = asapThrottle(s, committed, limit);
  } else {
    // Value-aware, it re-plans more often; each plan still looks one tickMs ahead (see config).
    // DUAL_GRADIENT passes all or nothing (it prices by its multiplier): no threshold to steer.
    const cfg = s.config;
    const valueAware = c.pacingMode !== 'DUAL_GRADIENT' && hasQuantiles(s.values);
    const everyMs = valueAware ? cfg.tickMs * cfg.valueTickRatio : cfg.tickMs;
    if (nowMs - s.lastTickMs >= everyMs) {
      tick(s, nowMs);
      if (s.values !== null) refreshKnots(s.values, nowMs);
    }
    throttle = 1 - s.passRate;
  }
  if (value >= 0 && value < Number.POSITIVE_INFINITY) {
    if (s.values === null) s.values = createValueQuantiles();
    observeValue(s.values, value);
    // ASAP never re-plans: its quantiles refresh by count instead.
    if (c.pacingMode === 'ASAP' && s.values.seen % ASAP_REFRESH_VALUES === 0) computeKnots(s.values);
  } else value = -1;
  const floor = s.breaker.minThrottle();
  if (throttle < floor) throttle = floor;
  if (degraded && throttle < s.config.degradedThrottle) throttle = s.config.degradedThrottle;

  // Probes are the breaker's own test bids: they go through whatever the throttle says.
  if (admission === 'pass' && skips(s, throttle, value, rand)) {
    return deny(out, 'throttled', throttle, degraded);
  }

  const shade = s.config.valueShadeShare;
  if (value >= 0 && shade > 0 && throttle > 0 && admission === 'pass' && c.pacingMode !== 'DUAL_GRADIENT') {
    // Bid in proportion to value below a reference value: a middling request then wins only a
    // cheap auction (linear bidding's logic), and the controller, seeing less spend per request
    // passed, passes more. The reference sits inside the passed share, at its top `shade` when
    // the throttle is heavy, and falls to the threshold as the throttle eases: a campaign that
    // needs every request does not shade. DUAL_GRADIENT shades by its own multiplier. The shaded
    // bid costs less than the one the budget check passed, so the guarantee holds.
    const ref = valueQuantile(s.values!, throttle + (1 - throttle) * (1 - shade) * throttle);
    if (ref > 0 && value < ref) {
      bid = Math.floor((bid * value) / ref);
      if (bid < 1) bid = 1;
      cost = impressionCostMicros(bid);
    }
  }
  reserve(ledger, cost, nowMs);
  out.allow = true;
  out.maxBidCpmMicros = bid;
  out.throttleRate = throttle;
  out.reason = admission === 'probe' ? 'probe' : 'within_budget';
  out.degraded = degraded;
  out.reservedMicros = cost;
  return out;
}

/**
 * Books a settled win: releases the reservation made for it (if it has not expired) and adds the
 * spend to today's day and hour buckets. Deduplication by event id is the store's job; call this
 * once per distinct event.
 */
export function recordSpend(
  s: PacingState,
  spendMicros: number,
  nowMs: number,
  reservedMicros = 0,
  reservedAtMs = nowMs,
): void {
  if (!Number.isSafeInteger(spendMicros) || spendMicros < 0)
    throw new RangeError(`spend ${spendMicros} is not whole micros >= 0`);
  advance(s, nowMs);
  if (reservedMicros > 0) {
    const freed = release(s.ledger, reservedMicros, reservedAtMs);
    // The bid had reserved its exposure, but the reservation expired before this notice came.
    if (freed === 0) s.breaker.observeUnreserved(spendMicros, budgetLimitMicros(s), nowMs);
  }
  bookSpend(s.ledger, spendMicros, nowMs);
}

/** A lost auction (or a bid never sent): frees its reservation at once instead of at expiry. */
export function releaseBid(
  s: PacingState,
  reservedMicros: number,
  reservedAtMs: number,
  nowMs: number,
): void {
  advance(s, nowMs);
  release(s.ledger, reservedMicros, reservedAtMs);
}

/** Spend of the other instances today, as read from the shared store; ignored if it is for another day. */
export function setPeerSpend(
  s: PacingState,
  dayKey: string,
  peerDaySpentMicros: number,
  nowMs: number,
): void {
  advance(s, nowMs);
  if (dayKey === s.ledger.day.key && peerDaySpentMicros >= 0)
    s.ledger.peerDaySpentMicros = peerDaySpentMicros;
}

/** Budget lease granted to this instance for `dayKey`; ignored if it is for another day. */
export function addLease(s: PacingState, dayKey: string, grantedMicros: number, nowMs: number): void {
  advance(s, nowMs);
  if (dayKey === s.ledger.day.key && grantedMicros > 0) {
    s.ownAllowanceMicros += grantedMicros;
    s.leaseShortMicros = 0;
  }
}
