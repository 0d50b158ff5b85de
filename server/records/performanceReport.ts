import { DAY_MS } from '../../core/dayWindow';
import type { HourTotals } from './historyRecords';

/** Delivery figures of one hour or day, with the ratios finance and ad-ops read. */
export interface DeliveryFigures {
  readonly spendMicros: number;
  readonly requests: number;
  readonly allowed: number;
  readonly wins: number;
  readonly impressions: number;
  readonly clicks: number;
  readonly conversions: number;
  /** clicks / impressions; null without impressions. */
  readonly ctr: number | null;
  /** Spend per thousand impressions, in micros; null without impressions. */
  readonly ecpmMicros: number | null;
  /** Spend per click, in micros; null without clicks. */
  readonly ecpcMicros: number | null;
}

export interface HourReport extends DeliveryFigures {
  readonly hourIndex: number;
}

export interface DayReport extends DeliveryFigures {
  readonly dayKey: string;
  readonly hours: readonly HourReport[];
}

type Counts = Omit<DeliveryFigures, 'ctr' | 'ecpmMicros' | 'ecpcMicros'>;

const ZERO: Counts = {
  spendMicros: 0,
  requests: 0,
  allowed: 0,
  wins: 0,
  impressions: 0,
  clicks: 0,
  conversions: 0,
};

export function figures(c: Counts): DeliveryFigures {
  return {
    ...c,
    ctr: c.impressions > 0 ? c.clicks / c.impressions : null,
    ecpmMicros: c.impressions > 0 ? Math.round((c.spendMicros * 1000) / c.impressions) : null,
    ecpcMicros: c.clicks > 0 ? Math.round(c.spendMicros / c.clicks) : null,
  };
}

function add(a: Counts, b: Counts): Counts {
  return {
    spendMicros: a.spendMicros + b.spendMicros,
    requests: a.requests + b.requests,
    allowed: a.allowed + b.allowed,
    wins: a.wins + b.wins,
    impressions: a.impressions + b.impressions,
    clicks: a.clicks + b.clicks,
    conversions: a.conversions + b.conversions,
  };
}

/** The day keys from `from` to `to` inclusive (calendar dates, independent of time zones). */
export function dayKeysBetween(from: string, to: string): string[] {
  const keys: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    keys.push(new Date(t).toISOString().slice(0, 10));
  }
  return keys;
}

/**
 * One report per day from `from` to `to`, each with its elapsed hours: a day without rows reports
 * zeros; `today` lists hours only up to `currentHour`, and days after `today` are not listed (no
 * future hours). Hour 24 exists only on a day that had 25 hours (DST ends) and has a row.
 */
export function buildReport(
  rows: readonly HourTotals[],
  range: { from: string; to: string; today: string; currentHour: number },
): { days: DayReport[]; totals: DeliveryFigures } {
  const last = range.to < range.today ? range.to : range.today;
  const byDay = new Map<string, Map<number, HourTotals>>();
  for (const r of rows) {
    let m = byDay.get(r.dayKey);
    if (m === undefined) {
      m = new Map();
      byDay.set(r.dayKey, m);
    }
    m.set(r.hourIndex, r);
  }
  let total = ZERO;
  const days: DayReport[] = [];
  for (const dayKey of range.from <= last ? dayKeysBetween(range.from, last) : []) {
    const rowsOfDay = byDay.get(dayKey) ?? new Map<number, HourTotals>();
    const lastHour = dayKey === range.today ? range.currentHour : rowsOfDay.has(24) ? 24 : 23;
    let dayCounts = ZERO;
    const hours: HourReport[] = [];
    for (let h = 0; h <= lastHour; h++) {
      const r = rowsOfDay.get(h);
      const c: Counts = r === undefined ? ZERO : r;
      const counts: Counts = {
        spendMicros: c.spendMicros,
        requests: c.requests,
        allowed: c.allowed,
        wins: c.wins,
        impressions: c.impressions,
        clicks: c.clicks,
        conversions: c.conversions,
      };
      hours.push({ hourIndex: h, ...figures(counts) });
      dayCounts = add(dayCounts, counts);
    }
    total = add(total, dayCounts);
    days.push({ dayKey, hours, ...figures(dayCounts) });
  }
  return { days, totals: figures(total) };
}

const CSV_COLUMNS =
  'day,spent_cents,requests,allowed,wins,impressions,clicks,conversions,ctr,ecpm_cents,ecpc_cents';

function cents(micros: number | null): string {
  return micros === null ? '' : String(micros / 10_000);
}

/** One line per day, for finance; money in cents, ratios empty where undefined. */
export function reportCsv(days: readonly DayReport[]): string {
  const lines = [CSV_COLUMNS];
  for (const d of days) {
    lines.push(
      [
        d.dayKey,
        cents(d.spendMicros),
        d.requests,
        d.allowed,
        d.wins,
        d.impressions,
        d.clicks,
        d.conversions,
        d.ctr === null ? '' : d.ctr.toFixed(6),
        cents(d.ecpmMicros),
        cents(d.ecpcMicros),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
