import { dayCommittedMicros } from './ledger';
import type { PacingState } from './pacingState';
import { targetShare } from './targetCurve';

/**
 * The feedback controller. Every tick it compares committed spend with the target curve and sets
 * the pass rate (1 - throttle) so the next tick spends its planned share plus a slice of the gap:
 *
 *   need      = (P(f_next) - P(f_now)) x B + (P(f_now) x B - committed) / catchUpTicks
 *   full rate = EMA of observed spend / pass rate      (what full pass would spend)
 *   pass      = clamp(need / (full rate x tick), 0, 1)
 *
 * DUAL_GRADIENT instead moves a bid multiplier 1/(1+lambda) by a gradient step on the relative
 * error between the spend it planned and the spend it saw (Balseiro & Gur's adaptive pacing).
 */
export function budgetLimitMicros(s: PacingState): number {
  const c = s.campaign;
  if (c.totalBudgetMicros === null) return c.dailyBudgetMicros;
  const ledger = s.ledger;
  const spentBeforeToday =
    ledger.priorTotalSpentMicros + ledger.ownTotalSpentMicros - ledger.ownDaySpentMicros;
  // Peer spend today is not yet in the total; it is in the day's committed figure the caller compares with.
  const left = c.totalBudgetMicros - spentBeforeToday;
  return left < c.dailyBudgetMicros ? (left > 0 ? left : 0) : c.dailyBudgetMicros;
}

export function dayFraction(s: PacingState, nowMs: number): number {
  const d = s.ledger.day;
  const f = (nowMs - d.startMs) / (d.endMs - d.startMs);
  return f < 0 ? 0 : f > 1 ? 1 : f;
}

/** Throttle rate of ASAP from the share of budget committed. */
export function asapThrottle(s: PacingState, committedMicros: number, limitMicros: number): number {
  const share = limitMicros > 0 ? committedMicros / limitMicros : 1;
  for (const [atShare, throttle] of s.config.asapTiers) if (share >= atShare) return throttle;
  return 0;
}

export function tick(s: PacingState, nowMs: number): void {
  const cfg = s.config;
  const committed = dayCommittedMicros(s.ledger);
  const limit = budgetLimitMicros(s);
  const dtMs = nowMs - s.lastTickMs;
  const spentSinceTick = committed - s.committedAtTickMicros;

  if (dtMs > 0 && dtMs < 4 * cfg.tickMs && s.passRate > 0 && spentSinceTick >= 0) {
    const observed = spentSinceTick / (s.passRate * dtMs);
    const w = 1 - 2 ** (-dtMs / cfg.rateHalfLifeMs);
    s.fullRateMicrosPerMs =
      s.fullRateMicrosPerMs < 0 ? observed : s.fullRateMicrosPerMs + w * (observed - s.fullRateMicrosPerMs);
  }

  const f = dayFraction(s, nowMs);
  const fNext = dayFraction(s, nowMs + cfg.tickMs);
  const target = targetShare(s.curve, f) * limit;
  const planned = (targetShare(s.curve, fNext) - targetShare(s.curve, f)) * limit;
  let need = planned + (target - committed) / cfg.catchUpTicks;
  if (need > limit - committed) need = limit - committed;

  if (s.campaign.pacingMode === 'DUAL_GRADIENT') {
    if (s.plannedTickMicros > 0 && dtMs > 0 && dtMs < 4 * cfg.tickMs) {
      const err = (spentSinceTick - s.plannedTickMicros) / s.plannedTickMicros;
      const clipped = err > 1 ? 1 : err < -1 ? -1 : err;
      const lambda = s.lambda + cfg.dualStepSize * clipped;
      s.lambda = lambda < 0 ? 0 : lambda > cfg.dualLambdaMax ? cfg.dualLambdaMax : lambda;
    }
    // The multiplier shapes price; a pause when well ahead of plan keeps the budget safe.
    s.passRate = need > 0 ? 1 : 0;
  } else if (need <= 0) {
    s.passRate = 0;
  } else if (s.fullRateMicrosPerMs <= 0) {
    // Nothing observed yet (or no traffic): let bids through to learn the rate.
    s.passRate = 1;
  } else {
    const pass = need / (s.fullRateMicrosPerMs * cfg.tickMs);
    s.passRate = pass > 1 ? 1 : pass;
  }

  s.plannedTickMicros = need > 0 ? need : 0;
  s.lastTickMs = nowMs;
  s.committedAtTickMicros = committed;
}
