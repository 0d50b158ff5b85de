import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayWindowAt } from '../../core/index';
import { hashUnit } from '../../server/runtime/random';
import { RedisStore } from '../../server/store/redisStore';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * Redis goes away under load and comes back; meanwhile one instance is killed with SIGKILL and
 * restarted on the same journal. Every notice the client sent is retried until some instance
 * acknowledges it (as a real ad server would), and at the end Redis must hold each distinct
 * notice's spend exactly once.
 */
const campaigns = ['out-0', 'out-1', 'out-2'];
const BUDGET_CENTS = 50_000;

let redis: RedisServerHandle;
let a: ServerProcess;
let b: ServerProcess;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-outage-'));
  redis = await startRedisServer();
  const started = await Promise.all(
    ['a', 'b'].map((x) =>
      startServer({ redisUrl: redis.url, journalDir: join(root, x), instanceId: `out-${x}` }),
    ),
  );
  a = started[0]!;
  b = started[1]!;
}, 90_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.dispose();
  rmSync(root, { recursive: true, force: true });
});

interface Health {
  status: string;
  pending_replay: number;
  campaigns: number;
  redis_healthy: boolean | null;
}

async function health(s: ServerProcess): Promise<Health> {
  return (await request('GET', `${s.url}/health`)).body as Health;
}

/** Acknowledged notices: event id -> campaign and spend. */
const acked = new Map<string, { campaignId: string; spendMicros: number; journaled: boolean; by: string }>();
let seq = 0;

/**
 * Sends `count` decision + notice pairs over the servers `live()` returns, `concurrency` at a time.
 * A notice whose request fails (its instance died) is retried on another live instance.
 */
async function traffic(live: () => ServerProcess[], count: number, concurrency: number) {
  let sent = 0;
  const stats = { allowed: 0, degradedDecisions: 0, journaled: 0 };
  const worker = async () => {
    while (sent < count) {
      sent++;
      const n = seq++;
      const servers = live();
      const server = servers[n % servers.length]!;
      const campaignId = campaigns[Math.floor(hashUnit(`out:${n}`) * campaigns.length)]!;
      const requestId = `out-r${n}`;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: campaignId,
        bid_cents: 200 + (n % 100),
        request_id: requestId,
      }).catch(() => null);
      if (d === null || d.status !== 200) continue;
      const decision = d.body as { allow_bid: boolean; max_bid_cents: number; warning?: string };
      if (decision.warning !== undefined) stats.degradedDecisions++;
      if (!decision.allow_bid) continue;
      stats.allowed++;
      const eventId = `out-e${n}`;
      const body = {
        campaign_id: campaignId,
        spend_cents: decision.max_bid_cents / 1000,
        event_id: eventId,
        request_id: requestId,
      };
      // Bounded retries: first the deciding instance, then any live one.
      for (let attempt = 0; attempt < 50; attempt++) {
        const target = attempt === 0 ? server : live()[attempt % live().length]!;
        const res = await request('POST', `${target.url}/spend/track`, body).catch(() => null);
        if (res !== null && res.status === 200) {
          const out = res.body as { counted: boolean; journaled: boolean };
          if (out.journaled) stats.journaled++;
          if (!acked.has(eventId))
            acked.set(eventId, {
              campaignId,
              spendMicros: decision.max_bid_cents * 10,
              journaled: out.journaled,
              by: target.instanceId,
            });
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return stats;
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} Redis outage and a crashed instance`, () => {
  it('keeps deciding while degraded, heals by itself, and replays journals exactly once', async () => {
    for (const id of campaigns) {
      const res = await request('POST', `${a.url}/campaigns`, {
        id,
        daily_budget_cents: BUDGET_CENTS,
        pacing_mode: 'ASAP',
      });
      expect(res.status).toBe(201);
    }
    await waitFor('b to load the campaigns', async () => (await health(b)).campaigns === campaigns.length);
    const dayKey = dayWindowAt('UTC', Date.now()).key;

    // Healthy load, with Redis stopped in the middle of it.
    const both = () => [a, b];
    const firstHalf = traffic(both, 3_000, 16);
    await waitFor('some spend before the outage', async () => acked.size >= 500);
    await redis.stop({ save: true });
    const phase1 = await firstHalf;
    await waitFor('both instances to report degraded', async () => {
      const [ha, hb] = await Promise.all([health(a), health(b)]);
      return ha.status === 'degraded' && hb.status === 'degraded';
    });
    expect((await health(a)).redis_healthy).toBe(false);

    // Load during the outage: decisions go on (degraded), notices go to the journals.
    const outage = await traffic(both, 2_000, 16);
    expect(outage.allowed).toBeGreaterThan(100);
    expect(outage.degradedDecisions).toBeGreaterThan(0);
    expect(outage.journaled).toBeGreaterThan(100);
    const journaledByB = [...acked.values()].filter((e) => e.journaled && e.by === b.instanceId).length;
    expect(journaledByB).toBeGreaterThan(0);

    // b dies mid-outage, with journaled spend Redis has not seen, and comes back on the same journal.
    await b.kill9();
    await b.restart();
    const hb = await health(b);
    expect(hb.status).toBe('degraded');
    expect(hb.pending_replay).toBeGreaterThanOrEqual(journaledByB);
    const afterCrash = await traffic(() => [a], 500, 8);
    expect(afterCrash.journaled).toBeGreaterThan(0);

    // Redis returns: both instances heal without help and replay their journals.
    await redis.restart();
    await waitFor(
      'both instances healthy with nothing left to replay',
      async () => {
        const [ha, hb2] = await Promise.all([health(a), health(b)]);
        return (
          ha.status === 'healthy' && hb2.status === 'healthy' && ha.pending_replay + hb2.pending_replay === 0
        );
      },
      300,
      100,
    );
    await waitFor('b to reload the campaigns', async () => (await health(b)).campaigns === campaigns.length);
    const healed = await traffic(both, 1_000, 16);
    expect(healed.degradedDecisions).toBe(0);

    // A retried notice for spend that was journaled and replayed is refused: nothing doubles.
    const replayed = [...acked.entries()].find(([, e]) => e.journaled && e.by === b.instanceId)!;
    const dup = await request('POST', `${a.url}/spend/track`, {
      campaign_id: replayed[1].campaignId,
      spend_cents: replayed[1].spendMicros / 10_000,
      event_id: replayed[0],
    });
    expect(dup.body).toMatchObject({ counted: false, duplicate: true });

    const expected = new Map<string, number>();
    for (const e of acked.values())
      expected.set(e.campaignId, (expected.get(e.campaignId) ?? 0) + e.spendMicros);
    const store = new RedisStore({ url: redis.url });
    try {
      const snaps = await store.readDays(campaigns.map((campaignId) => ({ campaignId, dayKey })));
      campaigns.forEach((id, i) => {
        expect(snaps[i]!.spentMicros, id).toBe(expected.get(id));
        expect(snaps[i]!.spentMicros, `${id} within budget`).toBeLessThanOrEqual(BUDGET_CENTS * 10_000);
      });
    } finally {
      await store.close();
    }
    console.log(
      `outage: ${acked.size} notices acknowledged (${[...acked.values()].filter((e) => e.journaled).length} journaled), phase1 allowed ${phase1.allowed}`,
    );
  }, 150_000);
});
