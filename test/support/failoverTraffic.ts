import { expect } from 'vitest';
import type { BudgetStore, DaySnapshot } from '../../core/store';
import { hashUnit } from '../../server/runtime/random';
import { type ServerProcess, request, waitFor } from './serverProcess';

/**
 * Bid traffic for failover tests, as a real ad server sends it: a decision, then for every allowed
 * bid a win notice at the full bid (the worst case for the budget), retried on another instance
 * until one acknowledges it; a share of notices is also sent a second time to another instance.
 * What was acknowledged is the truth the store's totals are checked against afterwards.
 */
export interface AckedNotice {
  readonly campaignId: string;
  readonly spendMicros: number;
  readonly journaled: boolean;
}

export interface TrafficStats {
  decisions: number;
  allowed: number;
  degradedDecisions: number;
  journaled: number;
  duplicatesSent: number;
  duplicatesCounted: number;
  /** Requests that failed (no answer, or not 200) and were retried or dropped. */
  failedRequests: number;
}

export class FailoverTraffic {
  readonly acked = new Map<string, AckedNotice>();
  private seq = 0;

  constructor(
    private readonly tag: string,
    private readonly campaigns: readonly string[],
  ) {}

  /**
   * Sends `count` decisions over `live()`, `concurrency` at a time; resolves when all are settled.
   * `only` narrows the traffic to some of the campaigns (to drive one to its budget).
   */
  async run(
    live: () => ServerProcess[],
    count: number,
    concurrency: number,
    only: readonly string[] = this.campaigns,
  ): Promise<TrafficStats> {
    const stats: TrafficStats = {
      decisions: 0,
      allowed: 0,
      degradedDecisions: 0,
      journaled: 0,
      duplicatesSent: 0,
      duplicatesCounted: 0,
      failedRequests: 0,
    };
    let sent = 0;
    const worker = async () => {
      while (sent < count) {
        sent++;
        await this.one(live, stats, only);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return stats;
  }

  private async one(
    live: () => ServerProcess[],
    stats: TrafficStats,
    campaigns: readonly string[],
  ): Promise<void> {
    const n = this.seq++;
    const servers = live();
    const server = servers[n % servers.length]!;
    const campaignId = campaigns[Math.floor(hashUnit(`${this.tag}:c:${n}`) * campaigns.length)]!;
    const requestId = `${this.tag}-r${n}`;
    const d = await request('POST', `${server.url}/pacing/decision`, {
      campaign_id: campaignId,
      bid_cents: 200 + (n % 100),
      request_id: requestId,
    }).catch(() => null);
    if (d === null || d.status !== 200) {
      stats.failedRequests++;
      return;
    }
    stats.decisions++;
    const decision = d.body as { allow_bid: boolean; max_bid_cents: number; warning?: string };
    if (decision.warning !== undefined) stats.degradedDecisions++;
    if (!decision.allow_bid) return;
    stats.allowed++;
    const eventId = `${this.tag}-e${n}`;
    const body = {
      campaign_id: campaignId,
      spend_cents: decision.max_bid_cents / 1000,
      event_id: eventId,
      request_id: requestId,
    };
    for (let attempt = 0; attempt < 100; attempt++) {
      const pool = live();
      const target = attempt === 0 ? server : pool[attempt % pool.length]!;
      const res = await request('POST', `${target.url}/spend/track`, body).catch(() => null);
      if (res !== null && res.status === 200) {
        const out = res.body as { counted: boolean; journaled: boolean };
        if (out.journaled) stats.journaled++;
        if (!this.acked.has(eventId)) {
          this.acked.set(eventId, {
            campaignId,
            spendMicros: decision.max_bid_cents * 10,
            journaled: out.journaled,
          });
        }
        break;
      }
      stats.failedRequests++;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (hashUnit(`${this.tag}:dup:${n}`) < 0.05 && servers.length > 1) {
      // The same notice again, at another instance: it must never count twice in the store.
      stats.duplicatesSent++;
      const other = servers[(n + 1) % servers.length]!;
      const res = await request('POST', `${other.url}/spend/track`, body).catch(() => null);
      if (res?.status === 200 && (res.body as { counted: boolean }).counted) stats.duplicatesCounted++;
    }
  }

  /** Acknowledged spend per campaign, in micros. */
  expectedMicros(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.acked.values()) out.set(e.campaignId, (out.get(e.campaignId) ?? 0) + e.spendMicros);
    return out;
  }
}

/** A campaign of a failover test: its id and daily budget in cents. */
export interface FailoverCampaign {
  readonly id: string;
  readonly cents: number;
}

interface Health {
  status: string;
  pending_replay: number;
  campaigns: number;
}

export const healthOf = async (s: ServerProcess) => (await request('GET', `${s.url}/health`)).body as Health;

/** Creates the campaigns (ASAP, the worst case for the budget) and waits until every instance has them. */
export async function createCampaigns(
  servers: readonly ServerProcess[],
  campaigns: readonly FailoverCampaign[],
): Promise<void> {
  for (const c of campaigns) {
    const res = await request('POST', `${servers[0]!.url}/campaigns`, {
      id: c.id,
      daily_budget_cents: c.cents,
      pacing_mode: 'ASAP',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  for (const s of servers) {
    await waitFor(
      `${s.instanceId} to load the campaigns`,
      async () => (await healthOf(s)).campaigns === campaigns.length,
    );
  }
}

/** Waits until every instance is healthy with nothing left in its journal to replay. */
export async function waitAllHealthy(servers: readonly ServerProcess[], what: string): Promise<void> {
  await waitFor(
    what,
    async () => {
      const h = await Promise.all(servers.map(healthOf));
      return h.every((x) => x.status === 'healthy' && x.pending_replay === 0);
    },
    600,
  );
}

/**
 * The money checks after a failover, against what the exchange saw acknowledged: each campaign's
 * day and lifetime totals exact, spend and leases within budget. Returns the snapshots.
 */
export async function expectExactTotals(
  store: BudgetStore,
  campaigns: readonly FailoverCampaign[],
  dayKey: string,
  traffic: FailoverTraffic,
): Promise<DaySnapshot[]> {
  const expected = traffic.expectedMicros();
  const snaps = await store.readDays(campaigns.map((c) => ({ campaignId: c.id, dayKey })));
  campaigns.forEach((c, i) => {
    const snap = snaps[i]!;
    expect(snap.spentMicros, `${c.id} total`).toBe(expected.get(c.id) ?? 0);
    expect(snap.totalSpentMicros, `${c.id} lifetime`).toBe(expected.get(c.id) ?? 0);
    expect(snap.spentMicros, `${c.id} within budget`).toBeLessThanOrEqual(c.cents * 10_000);
    expect(snap.leasedMicros, `${c.id} leases within budget`).toBeLessThanOrEqual(c.cents * 10_000);
  });
  return snaps;
}
