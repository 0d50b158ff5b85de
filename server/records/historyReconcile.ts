import type { Campaign } from '../../core/campaign';
import { dayWindowAt, hourIndex } from '../../core/dayWindow';
import type { BudgetStore, SpendRecord } from '../../core/store';
import type { Records } from './openRecords';
import { int } from './sqlClient';

/**
 * At start, before this instance counts anything new: spend Redis credits to this instance today
 * that PostgreSQL's history lacks is the history tail a kill -9 took with it (counted in Redis,
 * never written). It is written back as one correction event per campaign-day, in the current
 * hour, under an id derived from Redis' figure, so running this twice adds nothing. Callers must
 * have written their own queue first. Returns the micros restored.
 */
export async function reconcileOwnHistory(o: {
  readonly campaigns: readonly Campaign[];
  readonly inner: BudgetStore;
  readonly records: Records;
  readonly instanceId: string;
  readonly generation: string;
  readonly nowMs: number;
}): Promise<number> {
  if (o.campaigns.length === 0) return 0;
  const windows = o.campaigns.map((c) => dayWindowAt(c.timeZone, o.nowMs));
  const refs = o.campaigns.map((c, i) => ({ campaignId: c.id, dayKey: windows[i]!.key }));
  const snaps = await o.inner.readDays(refs);
  const rows = await o.records.db.query<{ campaign_id: string; day_key: string; spend_micros: unknown }>(
    `SELECT campaign_id, day_key, sum(spend_micros) AS spend_micros FROM campaign_hours
      WHERE instance_id = $1 AND campaign_id = ANY($2::text[]) AND day_key = ANY($3::text[])
      GROUP BY campaign_id, day_key`,
    [o.instanceId, refs.map((r) => r.campaignId), [...new Set(refs.map((r) => r.dayKey))]],
  );
  const inHistory = new Map(rows.map((r) => [`${r.campaign_id}\u0000${r.day_key}`, int(r.spend_micros)]));
  const corrections: SpendRecord[] = [];
  refs.forEach((ref, i) => {
    const inRedis = snaps[i]!.spentByInstance[o.instanceId] ?? 0;
    const missing = inRedis - (inHistory.get(`${ref.campaignId}\u0000${ref.dayKey}`) ?? 0);
    if (missing <= 0) return;
    corrections.push({
      eventId: `reconcile:${o.instanceId}:${ref.dayKey}:${inRedis}`,
      campaignId: ref.campaignId,
      dayKey: ref.dayKey,
      hourIndex: hourIndex(windows[i]!, o.nowMs),
      spendMicros: missing,
      instanceId: o.instanceId,
    });
  });
  if (corrections.length === 0) return 0;
  await o.records.history.recordSpend(
    corrections.map((record) => ({ record, generation: o.generation })),
    o.nowMs,
  );
  return corrections.reduce((s, r) => s + r.spendMicros, 0);
}
