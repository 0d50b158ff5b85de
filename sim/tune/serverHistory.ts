import { HOUR_MS, wallClockToInstant } from '../../core/index';
import { readPacerLog } from '../sources/pacerLogFiles';

/**
 * The server's own history, per campaign, binned by the clock hour and the date of the campaign's
 * time zone: from a traffic recording (RECORD_DIR) or from PostgreSQL's campaign_hours rows. Both
 * land in this one shape, so a fit cannot tell them apart (that is the round-trip test).
 */
export interface CampaignHistory {
  readonly campaignId: string;
  readonly timeZone: string;
  /** Local date (YYYY-MM-DD) -> 24 clock hours of counts. */
  readonly days: Map<string, DayCounts>;
}

export interface DayCounts {
  readonly requests: number[];
  readonly allowed: number[];
  readonly wins: number[];
  readonly spendMicros: number[];
}

const zeros = () => new Array<number>(24).fill(0);
const newDay = (): DayCounts => ({
  requests: zeros(),
  allowed: zeros(),
  wins: zeros(),
  spendMicros: zeros(),
});

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local date and clock hour of an instant in a zone (Intl; the sim may read no clock, and does not). */
export function localDateHour(timeZone: string, atMs: number): { date: string; hour: number } {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(atMs)) p[part.type] = part.value;
  return { date: `${p.year}-${p.month}-${p.day}`, hour: Number(p.hour) };
}

class HistoryBuilder {
  readonly campaigns = new Map<string, CampaignHistory>();

  constructor(private readonly zoneOf: (campaignId: string) => string) {}

  at(campaignId: string, atMs: number): { day: DayCounts; hour: number } {
    let c = this.campaigns.get(campaignId);
    if (c === undefined) {
      c = { campaignId, timeZone: this.zoneOf(campaignId), days: new Map() };
      this.campaigns.set(campaignId, c);
    }
    const { date, hour } = localDateHour(c.timeZone, atMs);
    let day = c.days.get(date);
    if (day === undefined) {
      day = newDay();
      c.days.set(date, day);
    }
    return { day, hour };
  }

  sorted(): CampaignHistory[] {
    return [...this.campaigns.values()].sort((a, b) => (a.campaignId < b.campaignId ? -1 : 1));
  }
}

/** A recording's rows, each weighted by its sampling weight, in its campaign's clock hours. */
export function historyFromRecording(path: string): CampaignHistory[] {
  const rows = readPacerLog(path);
  const b = new HistoryBuilder((id) => rows.timeZones.get(id) ?? 'UTC');
  for (const d of rows.decisions) {
    const { day, hour } = b.at(d.campaignId, d.timeMs);
    day.requests[hour]! += d.weight;
    if (d.allow) day.allowed[hour]! += d.weight;
  }
  for (const w of rows.wins) {
    const { day, hour } = b.at(w.campaignId, w.timeMs);
    day.wins[hour]! += w.weight;
    day.spendMicros[hour]! += w.spendMicros * w.weight;
  }
  return b.sorted();
}

/** One closed-hour row of the records layer: the hour is elapsed hours since local midnight. */
export interface CampaignHourRow {
  readonly campaignId: string;
  readonly dayKey: string;
  readonly hourIndex: number;
  readonly requests: number;
  readonly allowed: number;
  readonly wins: number;
  readonly spendMicros: number;
}

/**
 * campaign_hours rows in clock hours: bucket `hourIndex` of local day `dayKey` starts at local
 * midnight + hourIndex elapsed hours, and its clock hour is read there (on a 23-hour day bucket 2
 * is 03:00; on a 25-hour day buckets 1 and 2 are both 01:00 and add up).
 */
export function historyFromHourRows(
  rows: readonly CampaignHourRow[],
  zoneOf: (campaignId: string) => string,
): CampaignHistory[] {
  const b = new HistoryBuilder(zoneOf);
  for (const r of rows) {
    const tz = zoneOf(r.campaignId);
    const [y, m, d] = r.dayKey.split('-').map(Number) as [number, number, number];
    let midnight = wallClockToInstant(tz, Date.UTC(y, m - 1, d));
    if (localDateHour(tz, midnight).date !== r.dayKey) midnight += HOUR_MS;
    // The middle of the bucket: clear of any boundary the zone's offset could blur.
    const { day, hour } = b.at(r.campaignId, midnight + r.hourIndex * HOUR_MS + HOUR_MS / 2);
    day.requests[hour]! += r.requests;
    day.allowed[hour]! += r.allowed;
    day.wins[hour]! += r.wins;
    day.spendMicros[hour]! += r.spendMicros;
  }
  return b.sorted();
}
