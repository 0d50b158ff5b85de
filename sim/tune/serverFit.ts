import { type HourlyTotals, emptyTotals, fitMultipliers } from './fit';
import type { CampaignHistory, DayCounts } from './serverHistory';

/** What the server's history holds per hour: decisions seen, or spend (cost). */
export const SERVER_BASES = ['requests', 'cost'] as const;
export type ServerBasis = (typeof SERVER_BASES)[number];

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Weekday = (typeof WEEKDAYS)[number];

const DECIMALS = 10_000;

/** One campaign's fit: what POST /pacing/mode takes, and the day-of-week levels beside it. */
export interface CampaignFit {
  readonly campaignId: string;
  readonly timeZone: string;
  /** Local dates of history. */
  readonly days: number;
  readonly hoursObserved: readonly number[];
  readonly hourlyMultipliers: readonly number[];
  /**
   * Each weekday's basis relative to the mean day (1 where the history has no such weekday). The
   * server's ADAPTIVE curve is within-day (its budget is per day), so these are for planning the
   * daily budgets; the hourly shape is fitted over every day.
   */
  readonly dayOfWeekMultipliers: Readonly<Record<Weekday, number>>;
  /** The body of POST /pacing/mode that applies the fit. */
  readonly pacingModeRequest: {
    readonly campaign_id: string;
    readonly pacing_mode: 'ADAPTIVE';
    readonly hourly_multipliers: readonly number[];
  };
}

const basisOf = (d: DayCounts, basis: ServerBasis): number[] =>
  basis === 'requests' ? d.requests : d.spendMicros;

/** A campaign's hours (or several campaigns', each in its own clock hours) as the fit's totals. */
export function totalsOf(history: readonly CampaignHistory[]): HourlyTotals {
  const t = emptyTotals();
  for (const c of history)
    for (const d of c.days.values())
      for (let h = 0; h < 24; h++) {
        t.requests[h]! += d.requests[h] ?? 0;
        // The server knows what it spent, not what the market asked: spend is the cost basis here.
        t.costMicros[h]! += d.spendMicros[h] ?? 0;
      }
  return t;
}

function weekdayOf(date: string): Weekday {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!;
}

function dayOfWeek(c: CampaignHistory, basis: ServerBasis): Record<Weekday, number> {
  const sums = new Map<Weekday, { total: number; days: number }>();
  for (const [date, d] of c.days) {
    const w = weekdayOf(date);
    const s = sums.get(w) ?? { total: 0, days: 0 };
    s.total += basisOf(d, basis).reduce((a, b) => a + b, 0);
    s.days++;
    sums.set(w, s);
  }
  const means = [...sums.values()].map((s) => s.total / s.days);
  const level = means.reduce((a, b) => a + b, 0) / Math.max(1, means.length);
  const out = {} as Record<Weekday, number>;
  for (const w of WEEKDAYS) {
    const s = sums.get(w);
    out[w] =
      s === undefined || !(level > 0) ? 1 : Math.round((s.total / s.days / level) * DECIMALS) / DECIMALS;
  }
  return out;
}

/**
 * Fits each campaign on its own history: 24 multipliers (mean 1) from its share of the basis in
 * each clock hour of its zone, as the simulator's tuner fits a stream (no smoothing, no shrink:
 * the history is the campaign's own). A campaign without any of the basis is left out.
 */
export function fitServerHistory(history: readonly CampaignHistory[], basis: ServerBasis): CampaignFit[] {
  const fits: CampaignFit[] = [];
  for (const c of history) {
    const totals = totalsOf([c]);
    const raw = basis === 'requests' ? totals.requests : totals.costMicros;
    const hoursObserved = totals.requests.flatMap((n, h) => (n > 0 ? [h] : []));
    if (hoursObserved.length === 0 || !(raw.reduce((a, b) => a + b, 0) > 0)) continue;
    const hourlyMultipliers = fitMultipliers(totals, { basis, smoothingHours: 0, shrink: 0, hoursObserved });
    fits.push({
      campaignId: c.campaignId,
      timeZone: c.timeZone,
      days: c.days.size,
      hoursObserved,
      hourlyMultipliers,
      dayOfWeekMultipliers: dayOfWeek(c, basis),
      pacingModeRequest: {
        campaign_id: c.campaignId,
        pacing_mode: 'ADAPTIVE',
        hourly_multipliers: hourlyMultipliers,
      },
    });
  }
  return fits;
}
