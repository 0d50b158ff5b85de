import type { Static } from '@sinclair/typebox';
import { microsToCents, microsToWholeCentsFloor } from '../../core/money';
import type { BudgetStatus, HealthReport } from '../runtime/types';
import type { BudgetStatusResponse, HealthResponse } from './schemas';

export type BudgetStatusJson = Static<typeof BudgetStatusResponse>;
export type HealthJson = Static<typeof HealthResponse>;

/** Utilization as a percentage with two decimals: enough for a dashboard, stable in JSON. */
export function utilizationPercentage(utilization: number): number {
  return Math.round(utilization * 10_000) / 100;
}

export function budgetStatusToJson(s: BudgetStatus): BudgetStatusJson {
  // Reservations and the target are shares of a budget and may carry fractions of a micro.
  const reservedMicros = Math.ceil(s.reservedMicros);
  const targetSpentMicros = Math.round(s.targetSpentMicros);
  const remainingTodayMicros = Math.floor(s.remainingTodayMicros);
  return {
    campaign_id: s.campaignId,
    day: s.dayKey,
    pacing_mode: s.pacingMode,
    daily_budget_cents: microsToCents(s.dailyBudgetMicros),
    daily_budget_micros: s.dailyBudgetMicros,
    total_budget_cents: s.totalBudgetMicros === null ? null : microsToCents(s.totalBudgetMicros),
    total_budget_micros: s.totalBudgetMicros,
    spent_today_cents: microsToCents(s.spentTodayMicros),
    spent_today_micros: s.spentTodayMicros,
    spent_this_hour_cents: microsToCents(s.spentThisHourMicros),
    spent_this_hour_micros: s.spentThisHourMicros,
    reserved_cents: microsToCents(reservedMicros),
    reserved_micros: reservedMicros,
    remaining_today_cents: microsToWholeCentsFloor(remainingTodayMicros),
    remaining_today_micros: remainingTodayMicros,
    target_spent_cents: microsToCents(targetSpentMicros),
    target_spent_micros: targetSpentMicros,
    throttle_rate: s.throttleRate,
    breaker_state: s.breakerState,
    circuit_breaker_open: s.breakerState === 'OPEN',
    utilization_percentage: utilizationPercentage(s.utilization),
    degraded: s.degraded,
  };
}

export function healthToJson(h: HealthReport, campaigns = h.campaigns): HealthJson {
  return {
    status: h.status,
    redis_healthy: h.storeKind === 'redis' ? h.storeHealthy : null,
    store: h.storeKind,
    instance_id: h.instanceId,
    pending_replay: h.pendingReplay,
    campaigns,
    ready: h.ready,
    store_errors: h.storeErrors,
    last_store_error:
      h.lastStoreError === null
        ? null
        : {
            code: h.lastStoreError.code,
            message: h.lastStoreError.message,
            at: new Date(h.lastStoreError.atMs).toISOString(),
          },
    journal_failing: h.journalFailing,
  };
}
