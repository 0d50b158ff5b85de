import type { HourTotals } from '../records/historyRecords';
import { dayKeysBetween } from '../records/performanceReport';
import type { EventHourTotals } from './eventRecords';

export type AnalyticsGranularity = 'hour' | 'day';

/** Counts and money of one bucket (or the totals), ratios derived. Money in integer micros. */
export interface AnalyticsFigures {
  readonly impressions: number;
  readonly clicks: number;
  readonly conversions: number;
  readonly spendMicros: number;
  /** clicks / impressions; null without impressions. */
  readonly ctr: number | null;
  /** Spend per thousand impressions; null without impressions. */
  readonly cpmMicros: number | null;
  /** Spend per click; null without clicks. */
  readonly cpcMicros: number | null;
  /** Spend per conversion; null without conversions. */
  readonly cpaMicros: number | null;
}

export interface AnalyticsBucket extends AnalyticsFigures {
  readonly dayKey: string;
  /** Elapsed hour of the campaign's day (0..24); null in a day bucket. */
  readonly hourIndex: number | null;
}

export interface AnalyticsReport {
  readonly totals: AnalyticsFigures;
  readonly buckets: readonly AnalyticsBucket[];
}

interface Counts {
  impressions: number;
  clicks: number;
  conversions: number;
  spendMicros: number;
}

/**
 * `numerator * scale / divisor`, rounded half up, exactly: spend times 1,000 can pass 2^53, where
 * a float would round twice. Null when the divisor is 0.
 */
export function perUnitMicros(numerator: number, divisor: number, scale = 1): number | null {
  if (divisor <= 0) return null;
  const n = BigInt(numerator) * BigInt(scale);
  const d = BigInt(divisor);
  return Number((2n * n + d) / (2n * d));
}

export function analyticsFigures(c: Counts): AnalyticsFigures {
  return {
    impressions: c.impressions,
    clicks: c.clicks,
    conversions: c.conversions,
    spendMicros: c.spendMicros,
    ctr: c.impressions > 0 ? c.clicks / c.impressions : null,
    cpmMicros: perUnitMicros(c.spendMicros, c.impressions, 1000),
    cpcMicros: perUnitMicros(c.spendMicros, c.clicks),
    cpaMicros: perUnitMicros(c.spendMicros, c.conversions),
  };
}

const zero = (): Counts => ({ impressions: 0, clicks: 0, conversions: 0, spendMicros: 0 });

/** Hours listed per day: 0..23, and 24 only on a day that had 25 hours (DST ends) and data in it. */
function hoursOf(last: number): number[] {
  return Array.from({ length: Math.max(24, last + 1) }, (_, h) => h);
}

/**
 * Merges the event hour rows with the spend hour rows of the same campaign-local hours into
 * buckets of `by`, every day of from..to listed (a day without data reports zeros), totals
 * over the whole range.
 */
export function buildAnalytics(
  events: readonly EventHourTotals[],
  spend: readonly HourTotals[],
  range: { readonly from: string; readonly to: string; readonly by: AnalyticsGranularity },
): AnalyticsReport {
  const cells = new Map<string, Counts>();
  const lastHour = new Map<string, number>();
  const cell = (day: string, hour: number): Counts => {
    const k = `${day}/${hour}`;
    let c = cells.get(k);
    if (c === undefined) {
      c = zero();
      cells.set(k, c);
      lastHour.set(day, Math.max(lastHour.get(day) ?? 0, hour));
    }
    return c;
  };
  for (const e of events) {
    const c = cell(e.dayKey, e.hourIndex);
    c.impressions += e.impressions;
    c.clicks += e.clicks;
    c.conversions += e.conversions;
  }
  for (const s of spend) cell(s.dayKey, s.hourIndex).spendMicros += s.spendMicros;

  const totals = zero();
  const buckets: AnalyticsBucket[] = [];
  for (const day of dayKeysBetween(range.from, range.to)) {
    const dayCounts = zero();
    for (const hour of hoursOf(lastHour.get(day) ?? 0)) {
      const c = cells.get(`${day}/${hour}`) ?? zero();
      add(dayCounts, c);
      if (range.by === 'hour') buckets.push({ dayKey: day, hourIndex: hour, ...analyticsFigures(c) });
    }
    add(totals, dayCounts);
    if (range.by === 'day') buckets.push({ dayKey: day, hourIndex: null, ...analyticsFigures(dayCounts) });
  }
  return { totals: analyticsFigures(totals), buckets };
}

function add(into: Counts, c: Counts): void {
  into.impressions += c.impressions;
  into.clicks += c.clicks;
  into.conversions += c.conversions;
  into.spendMicros += c.spendMicros;
}
