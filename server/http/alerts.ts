import type { Campaign } from '../../core/campaign';
import type { BudgetStatus } from '../runtime/types';
import type { AlertJson } from './schemas';

/** Thresholds of the derived alerts: shares of the daily budget. */
export const NEAR_BUDGET_SHARE = 0.8;
/** Pacing alerts fire when spend is this share of the daily budget off the target curve... */
export const PACING_GAP_SHARE = 0.1;
/** ...and only once the target itself is this share of the budget: early in the day any gap is noise. */
export const PACING_MIN_TARGET_SHARE = 0.05;

const SEVERITY_RANK: Readonly<Record<AlertJson['severity'], number>> = { critical: 0, warning: 1, info: 2 };

function pct(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

/**
 * Alerts derived from a campaign's current status; nothing is stored. Ordered most severe first,
 * each with a sentence saying what happened and what an operator may do about it.
 */
export function deriveAlerts(campaign: Campaign, status: BudgetStatus): AlertJson[] {
  const alerts: AlertJson[] = [];
  const budget = status.dailyBudgetMicros;
  const spentShare = budget > 0 ? status.spentTodayMicros / budget : 0;
  if (status.breakerState === 'OPEN') {
    alerts.push({
      code: 'BREAKER_OPEN',
      severity: 'critical',
      message: `The budget circuit breaker is open at ${pct(spentShare)} of the daily budget: all bids are denied until it probes again. Raise the budget with POST /budget/adjust if more spend is wanted today.`,
    });
  } else if (status.breakerState === 'HALF_OPEN') {
    alerts.push({
      code: 'BREAKER_HALF_OPEN',
      severity: 'warning',
      message: 'The budget circuit breaker is probing with a few test bids before it closes again.',
    });
  }
  if (status.remainingTodayMicros <= 0) {
    alerts.push({
      code: 'BUDGET_EXHAUSTED',
      severity: 'critical',
      message: "Today's budget is spent; bidding resumes at the campaign's local midnight.",
    });
  } else if (spentShare >= NEAR_BUDGET_SHARE) {
    alerts.push({
      code: 'NEAR_BUDGET',
      severity: 'warning',
      message: `${pct(spentShare)} of today's budget is spent; the pacer is holding back the rest.`,
    });
  }
  if (status.degraded) {
    alerts.push({
      code: 'DEGRADED_MODE',
      severity: 'warning',
      message:
        'The shared store is unreachable: decisions are conservative and spend is journaled for replay. Check Redis.',
    });
  }
  if (campaign.status !== 'ACTIVE') {
    alerts.push({
      code: 'CAMPAIGN_NOT_ACTIVE',
      severity: 'info',
      message: `The campaign is ${campaign.status} and does not bid; set status ACTIVE with PUT /campaigns/${campaign.id} to resume.`,
    });
  } else if (campaign.pacingMode !== 'ASAP' && status.targetSpentMicros >= PACING_MIN_TARGET_SHARE * budget) {
    const gapShare = (status.spentTodayMicros - status.targetSpentMicros) / budget;
    if (gapShare <= -PACING_GAP_SHARE) {
      alerts.push({
        code: 'PACING_BEHIND',
        severity: 'warning',
        message: `Spend is ${pct(-gapShare)} of the daily budget behind the ${campaign.pacingMode} target: traffic or bids may be too low to deliver the budget.`,
      });
    } else if (gapShare >= PACING_GAP_SHARE) {
      alerts.push({
        code: 'PACING_AHEAD',
        severity: 'warning',
        message: `Spend is ${pct(gapShare)} of the daily budget ahead of the ${campaign.pacingMode} target: the pacer is throttling to fall back on the curve.`,
      });
    }
  }
  return alerts.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
}
