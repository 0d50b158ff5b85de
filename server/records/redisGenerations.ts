import { type Campaign, type CampaignInput, makeCampaign } from '../../core/campaign';
import type { SpendRecord } from '../../core/store';
import { type SqlClient, int } from './sqlClient';

/** Serialises generation changes across instances (first start, repairs). */
const GENERATION_LOCK_KEY = 72_690_902;

/** What a repair writes into an empty Redis: everything PostgreSQL knows. */
export interface ReseedPlan {
  readonly closed: readonly string[];
  readonly campaigns: readonly Campaign[];
  /** One synthetic spend record per campaign, day, hour and instance (and one per campaign for older days). */
  readonly spend: readonly SpendRecord[];
  /** Lease per campaign, day and instance: what that instance spent (its spend is its lease). */
  readonly leases: readonly { campaignId: string; dayKey: string; instanceId: string; micros: number }[];
  /**
   * Event ids recorded since this time still had their dedup keys in the lost Redis: the repair
   * writes them back (seenEvents), so a notice retried after the repair is not counted twice.
   */
  readonly seenSinceMs: number;
}

interface SeedRow {
  campaign_id: string;
  day_key: string;
  hour_index: unknown;
  instance_id: string;
  spend_micros: unknown;
}

/**
 * The PostgreSQL side of Redis generations. Each Redis dataset is a generation; its id is both a
 * marker key in Redis and a row here. A Redis without the marker while this table has an open
 * generation has lost its data. A repair closes that generation in the same transaction that
 * reads what to re-seed: history writers hold their generation's row FOR SHARE while they write,
 * so the close waits for writes in flight, and any write after it is refused (its writer seeds
 * those records into the new Redis itself).
 */
export class RedisGenerations {
  constructor(private readonly db: SqlClient) {}

  async open(): Promise<string | null> {
    const rows = await this.db.query<{ generation: string }>(
      'SELECT generation FROM redis_generations WHERE closed_at IS NULL ORDER BY created_at DESC LIMIT 1',
    );
    return rows[0]?.generation ?? null;
  }

  /** A marker found in the hot store is an open generation here too (a database restored or new). */
  async ensureRegistered(generation: string, nowMs: number): Promise<void> {
    await this.db.query(
      'INSERT INTO redis_generations (generation, created_at) VALUES ($1, $2) ON CONFLICT (generation) DO NOTHING',
      [generation, new Date(nowMs).toISOString()],
    );
  }

  /** First start: registers `generation` unless one is already open; returns the open one. */
  async ensureOpen(generation: string, nowMs: number): Promise<{ generation: string; created: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [GENERATION_LOCK_KEY]);
      const rows = await tx.query<{ generation: string }>(
        'SELECT generation FROM redis_generations WHERE closed_at IS NULL ORDER BY created_at DESC LIMIT 1',
      );
      if (rows[0] !== undefined) return { generation: rows[0].generation, created: false };
      await tx.query('INSERT INTO redis_generations (generation, created_at) VALUES ($1, $2)', [
        generation,
        new Date(nowMs).toISOString(),
      ]);
      return { generation, created: true };
    });
  }

  /**
   * Closes every open generation, opens `next`, and reads what the new Redis needs: live
   * campaigns, spend per hour and instance of the days from `fromDay` on, and older spend as one
   * record per campaign (lifetime totals). Synthetic event ids are derived from `next`, so a
   * repair retried into the same Redis counts each seed once.
   */
  async closeAndPlan(next: string, fromDay: string, nowMs: number, dedupTtlMs = 0): Promise<ReseedPlan> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [GENERATION_LOCK_KEY]);
      const closed = await tx.query<{ generation: string }>(
        'UPDATE redis_generations SET closed_at = $1 WHERE closed_at IS NULL RETURNING generation',
        [new Date(nowMs).toISOString()],
      );
      await tx.query('INSERT INTO redis_generations (generation, created_at) VALUES ($1, $2)', [
        next,
        new Date(nowMs).toISOString(),
      ]);
      const recent = await tx.query<SeedRow>(
        `SELECT campaign_id, day_key, hour_index, instance_id, spend_micros FROM campaign_hours
          WHERE day_key >= $1 AND spend_micros > 0 ORDER BY campaign_id, day_key, hour_index, instance_id`,
        [fromDay],
      );
      const older = await tx.query<{ campaign_id: string; day_key: string; spend_micros: unknown }>(
        `SELECT campaign_id, max(day_key) AS day_key, sum(spend_micros) AS spend_micros FROM campaign_hours
          WHERE day_key < $1 AND spend_micros > 0 GROUP BY campaign_id`,
        [fromDay],
      );
      const defs = await tx.query<{ definition: CampaignInput }>(
        'SELECT definition FROM campaigns WHERE NOT deleted ORDER BY id',
      );
      const campaigns = defs.map((r) => makeCampaign(r.definition));
      const spend: SpendRecord[] = [];
      const leaseBy = new Map<
        string,
        { campaignId: string; dayKey: string; instanceId: string; micros: number }
      >();
      for (const r of recent) {
        const hourIndex = int(r.hour_index);
        const micros = int(r.spend_micros);
        spend.push({
          eventId: `seed:${next}:${r.day_key}:${hourIndex}:${r.instance_id}`,
          campaignId: r.campaign_id,
          dayKey: r.day_key,
          hourIndex,
          spendMicros: micros,
          instanceId: r.instance_id,
        });
        const key = `${r.campaign_id}\u0000${r.day_key}\u0000${r.instance_id}`;
        const lease = leaseBy.get(key);
        if (lease === undefined)
          leaseBy.set(key, {
            campaignId: r.campaign_id,
            dayKey: r.day_key,
            instanceId: r.instance_id,
            micros,
          });
        else lease.micros += micros;
      }
      for (const r of older) {
        spend.push({
          eventId: `seed:${next}:older`,
          campaignId: r.campaign_id,
          dayKey: r.day_key,
          hourIndex: 0,
          spendMicros: int(r.spend_micros),
          instanceId: 'history',
        });
      }
      return {
        closed: closed.map((r) => r.generation),
        campaigns,
        spend,
        leases: [...leaseBy.values()],
        seenSinceMs: nowMs - dedupTtlMs,
      };
    });
  }

  /**
   * One page of a campaign's event ids recorded since `sinceMs`, after `afterEventId` in id order
   * (the primary key's order, so each page is an index range), as zero-spend records: applied to
   * the new Redis they set the dedup keys and count nothing.
   */
  async seenEvents(
    campaignId: string,
    sinceMs: number,
    afterEventId: string,
    limit: number,
  ): Promise<SpendRecord[]> {
    const rows = await this.db.query<{
      event_id: string;
      day_key: string;
      hour_index: unknown;
      instance_id: string;
    }>(
      `SELECT event_id, day_key, hour_index, instance_id FROM spend_events
        WHERE campaign_id = $1 AND event_id > $2 AND recorded_at >= $3
        ORDER BY event_id LIMIT $4`,
      [campaignId, afterEventId, new Date(sinceMs).toISOString(), limit],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      campaignId,
      dayKey: r.day_key,
      hourIndex: int(r.hour_index),
      spendMicros: 0,
      instanceId: r.instance_id,
    }));
  }
}
