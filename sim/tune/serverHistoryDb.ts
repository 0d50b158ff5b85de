import pg from 'pg';
import { HistoryError } from './history';
import { type CampaignHistory, type CampaignHourRow, historyFromHourRows } from './serverHistory';

/**
 * The records layer's closed hour rows (server/records/: campaign_hours, summed over instances)
 * and each campaign's time zone from the registry, read from PostgreSQL at `url`. Read-only.
 */
export async function historyFromDatabase(url: string): Promise<CampaignHistory[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const zones = await client.query<{ id: string; tz: string | null }>(
      `SELECT id, definition->>'timeZone' AS tz FROM campaigns`,
    );
    const hours = await client.query<{
      campaign_id: string;
      day_key: string;
      hour_index: number;
      requests: string;
      allowed: string;
      wins: string;
      spend_micros: string;
    }>(
      `SELECT campaign_id, day_key, hour_index, sum(requests)::text AS requests, sum(allowed)::text AS allowed,
              sum(wins)::text AS wins, sum(spend_micros)::text AS spend_micros
         FROM campaign_hours GROUP BY campaign_id, day_key, hour_index ORDER BY campaign_id, day_key, hour_index`,
    );
    const zone = new Map(zones.rows.map((r) => [r.id, r.tz ?? 'UTC']));
    const rows: CampaignHourRow[] = hours.rows.map((r) => ({
      campaignId: r.campaign_id,
      dayKey: r.day_key,
      hourIndex: Number(r.hour_index),
      requests: Number(r.requests),
      allowed: Number(r.allowed),
      wins: Number(r.wins),
      spendMicros: Number(r.spend_micros),
    }));
    if (rows.length === 0) throw new HistoryError(redact(url), 'campaign_hours holds no rows to fit on');
    return historyFromHourRows(rows, (id) => zone.get(id) ?? 'UTC');
  } catch (err) {
    if (err instanceof HistoryError) throw err;
    throw new HistoryError(
      redact(url),
      `cannot read the records database (${(err as Error).message}); give the server's DATABASE_URL`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL without its password, for messages and files. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL';
  }
}
