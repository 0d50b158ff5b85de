import type { SpendRecord } from '../../core/store';
import { type SqlClient, type SqlExecutor, int } from './sqlClient';

/** A counted win notice and the Redis generation that counted it. */
export interface GenerationSpend {
  readonly record: SpendRecord;
  readonly generation: string;
}

/** Decisions seen and allowed by one instance in one hour of a campaign's day. */
export interface ActivityRow {
  readonly campaignId: string;
  readonly dayKey: string;
  readonly hourIndex: number;
  readonly instanceId: string;
  readonly requests: number;
  readonly allowed: number;
}

export interface HourTotals {
  readonly dayKey: string;
  readonly hourIndex: number;
  readonly spendMicros: number;
  readonly requests: number;
  readonly allowed: number;
  readonly wins: number;
  readonly impressions: number;
  readonly clicks: number;
  readonly conversions: number;
}

/** The spend was counted by a Redis whose data has since been lost and repaired: re-tag and seed it. */
export class GenerationClosedError extends Error {
  readonly code = 'GENERATION_CLOSED';
  constructor(readonly generations: readonly string[]) {
    super(`Redis generation(s) ${generations.join(', ')} were closed by a repair`);
    this.name = 'GenerationClosedError';
  }
}

interface HourRow {
  day_key: string;
  hour_index: unknown;
  spend_micros: unknown;
  requests: unknown;
  allowed: unknown;
  wins: unknown;
  impressions: unknown;
  clicks: unknown;
  conversions: unknown;
}

/** Spend events and the closed hour rows per campaign, in PostgreSQL. */
export class HistoryRecords {
  constructor(private readonly db: SqlClient) {}

  /**
   * Writes counted spend exactly once: an event id already stored is skipped (a retried batch, a
   * replayed journal), and the hour rows grow by the new events only, in the same statement.
   * Refuses the whole batch when one of its generations was closed by a repair (the repair read
   * PostgreSQL without it, so its writer must seed it into the new Redis itself). Returns, per
   * record, whether it was new.
   */
  async recordSpend(items: readonly GenerationSpend[], nowMs: number): Promise<boolean[]> {
    if (items.length === 0) return [];
    return this.db.transaction(async (tx) => {
      await this.holdOpen(tx, items);
      const cols = {
        campaign: [] as string[],
        event: [] as string[],
        day: [] as string[],
        hour: [] as number[],
        spend: [] as string[],
        instance: [] as string[],
        generation: [] as string[],
      };
      for (const { record: r, generation } of items) {
        cols.campaign.push(r.campaignId);
        cols.event.push(r.eventId);
        cols.day.push(r.dayKey);
        cols.hour.push(Math.min(Math.max(Math.trunc(r.hourIndex), 0), 24));
        cols.spend.push(String(r.spendMicros));
        cols.instance.push(r.instanceId);
        cols.generation.push(generation);
      }
      const inserted = await tx.query<{ campaign_id: string; event_id: string }>(
        `WITH input AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bigint[], $6::text[], $7::text[])
             AS t(campaign_id, event_id, day_key, hour_index, spend_micros, instance_id, generation)
         ), ins AS (
           INSERT INTO spend_events (campaign_id, event_id, day_key, hour_index, spend_micros, instance_id, generation, recorded_at)
           SELECT campaign_id, event_id, day_key, hour_index, spend_micros, instance_id, generation, $8 FROM input
           ON CONFLICT DO NOTHING
           RETURNING campaign_id, event_id, day_key, hour_index, spend_micros, instance_id
         ), hours AS (
           INSERT INTO campaign_hours (campaign_id, day_key, hour_index, instance_id, spend_micros, wins, impressions)
           SELECT campaign_id, day_key, hour_index, instance_id, sum(spend_micros), count(*), count(*)
             FROM ins GROUP BY campaign_id, day_key, hour_index, instance_id
           ON CONFLICT (campaign_id, day_key, hour_index, instance_id) DO UPDATE SET
             spend_micros = campaign_hours.spend_micros + excluded.spend_micros,
             wins = campaign_hours.wins + excluded.wins,
             impressions = campaign_hours.impressions + excluded.impressions
         )
         SELECT campaign_id, event_id FROM ins`,
        [
          cols.campaign,
          cols.event,
          cols.day,
          cols.hour,
          cols.spend,
          cols.instance,
          cols.generation,
          new Date(nowMs).toISOString(),
        ],
      );
      const fresh = new Set(inserted.map((r) => `${r.campaign_id}\u0000${r.event_id}`));
      // A record repeated inside one batch is new only the first time.
      return items.map(({ record: r }) => fresh.delete(`${r.campaignId}\u0000${r.eventId}`));
    });
  }

  /** Locks the batch's generations against a concurrent repair closing them (it waits for us). */
  private async holdOpen(tx: SqlExecutor, items: readonly GenerationSpend[]): Promise<void> {
    const gens = [...new Set(items.map((i) => i.generation))];
    const open = await tx.query<{ generation: string }>(
      `SELECT generation FROM redis_generations
        WHERE generation = ANY($1::text[]) AND closed_at IS NULL FOR SHARE`,
      [gens],
    );
    if (open.length !== gens.length) {
      const ok = new Set(open.map((r) => r.generation));
      throw new GenerationClosedError(gens.filter((g) => !ok.has(g)));
    }
  }

  /** Adds decision counts to the hour rows. */
  async recordActivity(rows: readonly ActivityRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `INSERT INTO campaign_hours (campaign_id, day_key, hour_index, instance_id, requests, allowed)
       SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::bigint[], $6::bigint[])
       ON CONFLICT (campaign_id, day_key, hour_index, instance_id) DO UPDATE SET
         requests = campaign_hours.requests + excluded.requests,
         allowed = campaign_hours.allowed + excluded.allowed`,
      [
        rows.map((r) => r.campaignId),
        rows.map((r) => r.dayKey),
        rows.map((r) => r.hourIndex),
        rows.map((r) => r.instanceId),
        rows.map((r) => String(r.requests)),
        rows.map((r) => String(r.allowed)),
      ],
    );
  }

  /** Hour totals (all instances) of days fromDay..toDay inclusive, in day and hour order. */
  async hours(campaignId: string, fromDay: string, toDay: string): Promise<HourTotals[]> {
    const rows = await this.db.query<HourRow>(
      `SELECT day_key, hour_index, sum(spend_micros) AS spend_micros, sum(requests) AS requests,
              sum(allowed) AS allowed, sum(wins) AS wins, sum(impressions) AS impressions,
              sum(clicks) AS clicks, sum(conversions) AS conversions
         FROM campaign_hours
        WHERE campaign_id = $1 AND day_key BETWEEN $2 AND $3
        GROUP BY day_key, hour_index ORDER BY day_key, hour_index`,
      [campaignId, fromDay, toDay],
    );
    return rows.map((r) => ({
      dayKey: r.day_key,
      hourIndex: int(r.hour_index),
      spendMicros: int(r.spend_micros),
      requests: int(r.requests),
      allowed: int(r.allowed),
      wins: int(r.wins),
      impressions: int(r.impressions),
      clicks: int(r.clicks),
      conversions: int(r.conversions),
    }));
  }

  /** Drops event ids older than the dedup window; hour rows stay forever. */
  async pruneEvents(beforeDay: string): Promise<number> {
    const rows = await this.db.query<{ n: unknown }>(
      'WITH gone AS (DELETE FROM spend_events WHERE day_key < $1 RETURNING 1) SELECT count(*) AS n FROM gone',
      [beforeDay],
    );
    return int(rows[0]?.n);
  }
}
