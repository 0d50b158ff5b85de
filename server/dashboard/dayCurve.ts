import { Type } from '@sinclair/typebox';
import type { Campaign } from '../../core/campaign';
import { microsToCents } from '../../core/money';
import { KNOTS, curveFor } from '../../core/targetCurve';

export const DashboardDayResponse = Type.Object({
  campaign_id: Type.String(),
  day: Type.String(),
  pacing_mode: Type.String(),
  daily_budget_cents: Type.Number(),
  target_knots_cents: Type.Union(
    [Type.Array(Type.Number(), { minItems: KNOTS, maxItems: KNOTS }), Type.Null()],
    {
      description:
        'Target spend at each of the 25 knots of the pacing curve (0/24 to 24/24 of the day); null for ASAP, which has no curve.',
    },
  ),
  hourly_spent_cents: Type.Array(Type.Number(), {
    description: "Today's spend per elapsed hour, as the shared store has it.",
  }),
});

/**
 * The target curve of a campaign's day in cents, from the same curve the pacer steers by
 * (core/targetCurve), so the chart cannot drift from the pacer. Knot k is due by k/24 of the day.
 */
export function targetKnotsCents(campaign: Campaign): number[] | null {
  if (campaign.pacingMode === 'ASAP') return null;
  const curve = curveFor(campaign);
  return Array.from(curve, (share) => microsToCents(Math.round(share * campaign.dailyBudgetMicros)));
}
