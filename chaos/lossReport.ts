import { Redis } from 'ioredis';
import { pgClient } from '../server/records/pgClient';
import type { Violation } from './invariants';
import type { Notice } from './ledger';

/**
 * When acknowledged spend is missing from Redis, which notices: each acknowledged notice of the
 * campaigns that lost spend, looked up in the system of record (spend_events: written, and under
 * which Redis generation) and in Redis (is its dedup marker there, and whose). A notice in
 * neither is one no component kept; one in PostgreSQL under a closed generation, or with a
 * marker but no spend, points at the repair. Printed with the run's report, nothing more.
 */
export async function explainLoss(
  violations: readonly Violation[],
  notices: readonly Notice[],
  databaseUrl: string,
  redisUrl: string,
  t0Ms: number,
): Promise<string> {
  const lost = new Set(violations.filter((v) => v.invariant === 'spend-lost').map((v) => v.campaignId));
  if (lost.size === 0) return '';
  const acked = notices.filter((n) => n.state === 'acked' && lost.has(n.campaignId));
  const db = pgClient({ url: databaseUrl });
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const rows = await db.query<{ campaign_id: string; event_id: string; generation: string }>(
      'SELECT campaign_id, event_id, generation FROM spend_events WHERE campaign_id = ANY($1::text[])',
      [[...lost]],
    );
    const inPg = new Map(rows.map((r) => [`${r.campaign_id}\u0000${r.event_id}`, r.generation]));
    const gens = await db.query<{ generation: string; closed_at: string | null }>(
      'SELECT generation, closed_at FROM redis_generations ORDER BY created_at',
    );
    const lines = [
      `  generations: ${gens.map((g) => `${g.generation}${g.closed_at ? ' (closed)' : ''}`).join(', ')}`,
    ];
    for (const n of acked) {
      const gen = inPg.get(`${n.campaignId}\u0000${n.eventId}`);
      const marker = await redis.get(`pacer:{c:${n.campaignId}}:ev:${n.eventId}`);
      if (gen !== undefined && marker !== null) continue;
      lines.push(
        `  ${n.campaignId} ${n.eventId} ${n.chargeMicros} micros: PostgreSQL ${gen ?? 'no'}, Redis marker ${marker ?? 'no'}; decided by ${n.decidedBy.slot}.${n.decidedBy.incarnation}, acked by ${n.ackedBy?.slot}.${n.ackedBy?.incarnation} at +${(((n.ackedAtMs ?? t0Ms) - t0Ms) / 1000).toFixed(2)} s, ${n.journaledAnswers} journaled / ${n.countedAnswers} counted answers, ${n.attempts} attempts`,
      );
    }
    return lines.join('\n');
  } catch (err) {
    return `  (could not explain the loss: ${err instanceof Error ? err.message : String(err)})`;
  } finally {
    redis.disconnect();
    await db.close();
  }
}
