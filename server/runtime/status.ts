import {
  type PacingState,
  advance,
  asapThrottle,
  budgetLimitMicros,
  dayCommittedMicros,
  dayFraction,
  daySpentMicros,
  hourIndex,
  targetShare,
} from '../../core/index';
import type { BudgetStatus } from './types';

/** The throttle the next decision would apply, without drawing or reserving anything. */
export function currentThrottle(s: PacingState, degraded: boolean): number {
  let throttle: number;
  if (s.campaign.pacingMode === 'ASAP') {
    throttle = asapThrottle(s, dayCommittedMicros(s.ledger), budgetLimitMicros(s));
  } else {
    throttle = 1 - s.passRate;
  }
  const floor = s.breaker.minThrottle();
  if (throttle < floor) throttle = floor;
  if (degraded && throttle < s.config.degradedThrottle) throttle = s.config.degradedThrottle;
  return throttle;
}

/**
 * A campaign's budget as this instance sees it: its own spend exactly, the other instances' spend
 * as of the last sync. The hour figure is this instance's own spend in the current hour.
 */
export function budgetStatus(s: PacingState, nowMs: number, degraded: boolean): BudgetStatus {
  advance(s, nowMs);
  const c = s.campaign;
  const l = s.ledger;
  const spentTodayMicros = daySpentMicros(l);
  const limit = budgetLimitMicros(s);
  const target =
    c.pacingMode === 'ASAP' ? limit : Math.round(targetShare(s.curve, dayFraction(s, nowMs)) * limit);
  return {
    campaignId: c.id,
    dayKey: l.day.key,
    pacingMode: c.pacingMode,
    dailyBudgetMicros: c.dailyBudgetMicros,
    totalBudgetMicros: c.totalBudgetMicros,
    spentTodayMicros,
    spentThisHourMicros: l.hourSpentMicros[hourIndex(l.day, nowMs)] ?? 0,
    reservedMicros: l.reservedMicros,
    remainingTodayMicros: Math.max(0, limit - spentTodayMicros),
    targetSpentMicros: target,
    throttleRate: currentThrottle(s, degraded),
    // As of now, not as of the last decision (a campaign without bids would show CLOSED all day).
    breakerState: s.breaker.stateAt(dayCommittedMicros(l), limit, nowMs),
    utilization: c.dailyBudgetMicros > 0 ? spentTodayMicros / c.dailyBudgetMicros : 0,
    degraded,
    asOfMs: nowMs,
    dayStartMs: l.day.startMs,
    dayEndMs: l.day.endMs,
  };
}
