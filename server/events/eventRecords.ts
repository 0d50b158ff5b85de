import { type SqlClient, int } from '../records/sqlClient';
import type { AdEvent } from './adEvent';

/** Delivery counts of one hour of a campaign's day. */
export interface EventHourTotals {
  readonly dayKey: string;
  readonly hourIndex: number;
  readonly impressions: number;
  readonly clicks: number;
  readonly conversions: number;
}

interface EventHourRow {
  day_key: string;
  hour_index: unknown;
  impressions: unknown;
  clicks: unknown;
  conversions: unknown;
}

/** Delivery events and their hour rows, in PostgreSQL (or PGlite): the history of the pipeline. */
export class EventRecords {
  constructor(private readonly db: SqlClient) {}

  /**
   * Counts events exactly once, in one transaction: an event id already stored for its campaign is
   * skipped (a batch delivered again after a crash, an event sent twice), and the hour rows grow by
   * the new events only. Returns, per event, whether it was new; an id repeated inside one batch
   * is new only the first time. Rows are locked in key order, so consumers writing overlapping
   * hours at once wait for each other instead of deadlocking.
   */
  async record(events: readonly AdEvent[], nowMs: number): Promise<boolean[]> {
    if (events.length === 0) return [];
    const inserted = await this.db.transaction((tx) =>
      tx.query<{ campaign_id: string; event_id: string }>(
        `WITH input AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::timestamptz[])
             AS t(campaign_id, event_id, type, day_key, hour_index, at)
         ), ins AS (
           INSERT INTO ad_events (campaign_id, event_id, type, day_key, hour_index, at, recorded_at)
           SELECT campaign_id, event_id, type, day_key, hour_index, at, $7 FROM input
            ORDER BY campaign_id, event_id
           ON CONFLICT DO NOTHING
           RETURNING campaign_id, event_id, type, day_key, hour_index
         ), hours AS (
           INSERT INTO event_hours (campaign_id, day_key, hour_index, impressions, clicks, conversions)
           SELECT campaign_id, day_key, hour_index,
                  count(*) FILTER (WHERE type = 'impression'),
                  count(*) FILTER (WHERE type = 'click'),
                  count(*) FILTER (WHERE type = 'conversion')
             FROM ins GROUP BY campaign_id, day_key, hour_index
            ORDER BY campaign_id, day_key, hour_index
           ON CONFLICT (campaign_id, day_key, hour_index) DO UPDATE SET
             impressions = event_hours.impressions + excluded.impressions,
             clicks = event_hours.clicks + excluded.clicks,
             conversions = event_hours.conversions + excluded.conversions
         )
         SELECT campaign_id, event_id FROM ins`,
        [
          events.map((e) => e.campaignId),
          events.map((e) => e.eventId),
          events.map((e) => e.type),
          events.map((e) => e.dayKey),
          events.map((e) => e.hourIndex),
          events.map((e) => new Date(e.atMs).toISOString()),
          new Date(nowMs).toISOString(),
        ],
      ),
    );
    const fresh = new Set(inserted.map((r) => `${r.campaign_id}\u0000${r.event_id}`));
    return events.map((e) => fresh.delete(`${e.campaignId}\u0000${e.eventId}`));
  }

  /** Hour rows of days fromDay..toDay inclusive, in day and hour order (hours without events absent). */
  async hours(campaignId: string, fromDay: string, toDay: string): Promise<EventHourTotals[]> {
    const rows = await this.db.query<EventHourRow>(
      `SELECT day_key, hour_index, impressions, clicks, conversions FROM event_hours
        WHERE campaign_id = $1 AND day_key BETWEEN $2 AND $3 ORDER BY day_key, hour_index`,
      [campaignId, fromDay, toDay],
    );
    return rows.map((r) => ({
      dayKey: r.day_key,
      hourIndex: int(r.hour_index),
      impressions: int(r.impressions),
      clicks: int(r.clicks),
      conversions: int(r.conversions),
    }));
  }

  /** Drops event ids of days before `beforeDay`; the hour rows stay forever. Returns how many. */
  async pruneBefore(beforeDay: string): Promise<number> {
    const rows = await this.db.query<{ n: unknown }>(
      'WITH gone AS (DELETE FROM ad_events WHERE day_key < $1 RETURNING 1) SELECT count(*) AS n FROM gone',
      [beforeDay],
    );
    return int(rows[0]?.n);
  }
}
