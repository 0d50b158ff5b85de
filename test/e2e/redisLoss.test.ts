import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayWindowAt } from '../../core/index';
import { hashUnit } from '../../server/runtime/random';
import { RedisStore } from '../../server/store/redisStore';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startRecordedFleet, waitFor } from '../support/serverProcess';

/**
 * Three instances on one Redis and one PostgreSQL, under load. Redis is killed and restarted
 * EMPTY (no persistence). The fleet must notice, re-seed Redis from PostgreSQL plus its own
 * unflushed spend and journals, and go on: every campaign still there, the day's spend intact to
 * the micro, no campaign-day past budget + the README's repair bound, every decision answered.
 */
const CAMPAIGNS = [
  { id: 'rl-big', budgetCents: 100_000 },
  { id: 'rl-mid', budgetCents: 20_000 },
  // Small enough to run out during the test: the bound is checked where it binds.
  { id: 'rl-small', budgetCents: 60 },
];
const BID_CENTS = 250;
/**
 * README bound during a repair: bids reserved at the loss (at most the load's 12 in flight) plus
 * spend counted but not yet in PostgreSQL when the repair read it (about one second of notices,
 * well under 100 at this load), each at most the bid.
 */
const REPAIR_SLACK_MICROS = 100 * (BID_CENTS * 10);

let db: TestDatabase;
let redis: RedisServerHandle;
const servers: ServerProcess[] = [];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-redisloss-'));
  [db, redis] = await Promise.all([createTestDatabase('redisloss'), startRedisServer()]);
  await startRecordedFleet(servers, {
    root,
    redisUrl: redis.url,
    databaseUrl: db.url,
    prefix: 'rl',
    size: 3,
  });
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.dispose();
  await db?.drop();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

interface Health {
  status: string;
  pending_replay: number;
  campaigns: number;
  records: {
    generation: string | null;
    postgres_healthy: boolean;
    history_queued: number;
    data_loss_detected: number;
    repairs_run: number;
  };
}

async function health(s: ServerProcess): Promise<Health> {
  return (await request('GET', `${s.url}/health`)).body as Health;
}

const acked = new Map<string, { campaignId: string; spendMicros: number }>();
const stats = { decisions: 0, failedDecisions: 0, allowed: 0, allowedAfterRepair: 0 };
let repaired = false;
let seq = 0;

/** Runs until `stop()` is called: decision + notice pairs over all three instances. */
function load(concurrency: number): { stop(): Promise<void> } {
  let running = true;
  const worker = async () => {
    while (running) {
      const n = seq++;
      const server = servers[n % servers.length]!;
      const campaignId = CAMPAIGNS[Math.floor(hashUnit(`rl:${n}`) * CAMPAIGNS.length)]!.id;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: campaignId,
        bid_cents: BID_CENTS,
        request_id: `rl-r${n}`,
      }).catch(() => null);
      stats.decisions++;
      if (d === null || d.status !== 200) {
        stats.failedDecisions++;
        continue;
      }
      if (!(d.body as { allow_bid: boolean }).allow_bid) continue;
      stats.allowed++;
      if (repaired) stats.allowedAfterRepair++;
      const spendMicros = BID_CENTS * 10;
      const body = {
        campaign_id: campaignId,
        spend_cents: spendMicros / 10_000,
        event_id: `rl-e${n}`,
        request_id: `rl-r${n}`,
      };
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await request(
          'POST',
          `${servers[(n + attempt) % servers.length]!.url}/spend/track`,
          body,
        ).catch(() => null);
        if (res !== null && res.status === 200) {
          acked.set(body.event_id, { campaignId, spendMicros });
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

function ackedBy(campaignId: string): number {
  let sum = 0;
  for (const e of acked.values()) if (e.campaignId === campaignId) sum += e.spendMicros;
  return sum;
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} Redis restarted empty under load`, () => {
  it('is detected and repaired by the fleet: campaigns, spend and budgets survive', async () => {
    for (const c of CAMPAIGNS) {
      const res = await request('POST', `${servers[0]!.url}/campaigns`, {
        id: c.id,
        daily_budget_cents: c.budgetCents,
        pacing_mode: 'ASAP',
      });
      expect(res.status).toBe(201);
    }
    await waitFor('every instance to load the campaigns', async () =>
      (await Promise.all(servers.map(health))).every((h) => h.campaigns === CAMPAIGNS.length),
    );
    const dayKey = dayWindowAt('UTC', Date.now()).key;
    const traffic = load(12);
    await waitFor('spend before the loss', async () => acked.size >= 600, 600);
    const spentBeforeMicros = ackedBy('rl-big') + ackedBy('rl-mid') + ackedBy('rl-small');
    const beforeLoss = [...acked.entries()].slice(0, 100);

    await redis.restart(); // SIGKILL, then a fresh process without the dataset
    await waitFor(
      'the fleet to detect the loss and repair Redis',
      async () => {
        const hs = await Promise.all(servers.map(health));
        return (
          hs.every((h) => h.status === 'healthy' && h.pending_replay === 0) &&
          hs.reduce((s, h) => s + h.records.repairs_run, 0) >= 1 &&
          new Set(hs.map((h) => h.records.generation)).size === 1
        );
      },
      600,
    );
    repaired = true;
    const hs = await Promise.all(servers.map(health));
    expect(hs.reduce((s, h) => s + h.records.data_loss_detected, 0)).toBeGreaterThanOrEqual(1);
    const metrics = (await request('GET', `${servers[0]!.url}/metrics`)).body as string;
    expect(metrics).toMatch(/pacer_store_data_loss_total \d+/);

    await waitFor(
      'decisions allowed again after the repair',
      async () => stats.allowedAfterRepair >= 50,
      600,
    );
    await traffic.stop();
    expect(stats.failedDecisions, 'every decision answered').toBe(0);
    // Notices counted before the loss, sent again after the repair (an exchange's late retries):
    // the repair restored their dedup keys, so none counts a second time.
    for (const [eventId, e] of beforeLoss) {
      const again = await request('POST', `${servers[2]!.url}/spend/track`, {
        campaign_id: e.campaignId,
        spend_cents: e.spendMicros / 10_000,
        event_id: eventId,
      });
      expect(again.status).toBe(200);
    }

    // Every campaign exists on every instance, and in Redis.
    for (const s of servers) {
      const list = (await request('GET', `${s.url}/campaigns`)).body as { count: number };
      expect(list.count).toBe(CAMPAIGNS.length);
    }
    await waitFor('history written', async () =>
      (await Promise.all(servers.map(health))).every((h) => h.records.history_queued === 0),
    );
    const store = new RedisStore({ url: redis.url });
    try {
      const snaps = await store.readDays(CAMPAIGNS.map((c) => ({ campaignId: c.id, dayKey })));
      CAMPAIGNS.forEach((c, i) => {
        // Redis holds the whole day's spend again, to the micro: seeds + own queues + journals.
        expect(snaps[i]!.spentMicros, c.id).toBe(ackedBy(c.id));
        expect(snaps[i]!.spentMicros, `${c.id} within budget + repair bound`).toBeLessThanOrEqual(
          c.budgetCents * 10_000 + REPAIR_SLACK_MICROS,
        );
      });
      expect(snaps.reduce((s, x) => s + x.spentMicros, 0)).toBeGreaterThan(spentBeforeMicros);
      console.log(
        CAMPAIGNS.map((c, i) => `${c.id}: ${snaps[i]!.spentMicros} of ${c.budgetCents * 10_000} micros`).join(
          ', ',
        ),
      );
    } finally {
      await store.close();
    }
    for (const c of CAMPAIGNS) {
      // An instance reads peers' spend for campaigns it decided on since its last sync: touch it.
      const s = servers[1]!;
      await waitFor(`${c.id} status on ${s.instanceId} to show the day's spend`, async () => {
        await request('POST', `${s.url}/pacing/decision`, { campaign_id: c.id, bid_cents: 1 });
        const status = (await request('GET', `${s.url}/budget/status/${c.id}`)).body as {
          spent_today_micros: number;
        };
        return status.spent_today_micros === ackedBy(c.id);
      });
      // PostgreSQL's history has every event once.
      const perf = (await request('GET', `${servers[2]!.url}/performance/${c.id}?days=1`)).body as {
        totals: { spent_micros: number };
      };
      expect(perf.totals.spent_micros, `${c.id} history`).toBe(ackedBy(c.id));
    }
    console.log(
      `redis loss: ${acked.size} notices, ${stats.decisions} decisions (${stats.allowedAfterRepair} allowed after the repair)`,
    );
  }, 300_000);
});
