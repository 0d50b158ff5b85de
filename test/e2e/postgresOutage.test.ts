import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashUnit } from '../../server/runtime/random';
import { type PostgresServerHandle, startPostgresServer } from '../support/postgresServer';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startRecordedFleet, waitFor } from '../support/serverProcess';

/**
 * Three instances on one Redis and a PRIVATE PostgreSQL (stopped by its pid; never the shared
 * one), under load. PostgreSQL stops for 30 s: decisions and spend go on (nothing on those paths
 * waits for it), /health and the metrics say history is queueing, a registry change is refused
 * with 503 and changes nothing, and once PostgreSQL is back every notice is in its history once.
 */
const CAMPAIGNS = ['po-1', 'po-2'];
const OUTAGE_MS = 30_000;

let postgres: PostgresServerHandle;
let redis: RedisServerHandle;
const servers: ServerProcess[] = [];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-pgoutage-'));
  [postgres, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
  await startRecordedFleet(servers, {
    root,
    redisUrl: redis.url,
    databaseUrl: postgres.url,
    prefix: 'po',
    size: 3,
  });
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.dispose();
  await postgres?.dispose();
  rmSync(root, { recursive: true, force: true });
}, 120_000);

interface Health {
  status: string;
  campaigns: number;
  records: { postgres_healthy: boolean; history_queued: number; last_error: string | null };
}

async function health(s: ServerProcess): Promise<Health> {
  return (await request('GET', `${s.url}/health`)).body as Health;
}

const acked = new Map<string, { campaignId: string; spendMicros: number }>();
const stats = { decisions: 0, failed: 0, allowedDuringOutage: 0, spendDuringOutage: 0 };
let outage = false;
let seq = 0;

function load(concurrency: number): { stop(): Promise<void> } {
  let running = true;
  const worker = async () => {
    while (running) {
      const n = seq++;
      const server = servers[n % servers.length]!;
      const campaignId = CAMPAIGNS[Math.floor(hashUnit(`po:${n}`) * CAMPAIGNS.length)]!;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: campaignId,
        bid_cents: 200,
        request_id: `po-r${n}`,
      }).catch(() => null);
      stats.decisions++;
      if (d === null || d.status !== 200) {
        stats.failed++;
        continue;
      }
      if (!(d.body as { allow_bid: boolean }).allow_bid) continue;
      if (outage) stats.allowedDuringOutage++;
      const body = {
        campaign_id: campaignId,
        spend_cents: 0.2,
        event_id: `po-e${n}`,
        request_id: `po-r${n}`,
      };
      const res = await request('POST', `${server.url}/spend/track`, body).catch(() => null);
      if (res !== null && res.status === 200) {
        acked.set(body.event_id, { campaignId, spendMicros: 2_000 });
        if (outage) stats.spendDuringOutage++;
      } else {
        stats.failed++;
      }
      // Keep the machine usable: this is a correctness test, not a load test.
      await new Promise((r) => setTimeout(r, 5));
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

function ackedBy(campaignId: string): { micros: number; count: number } {
  let micros = 0;
  let count = 0;
  for (const e of acked.values()) {
    if (e.campaignId !== campaignId) continue;
    micros += e.spendMicros;
    count++;
  }
  return { micros, count };
}

describe('PostgreSQL stopped for 30 s under load', () => {
  it('keeps deciding and taking spend, reports the backlog, and loses no history', async () => {
    for (const id of CAMPAIGNS) {
      const res = await request('POST', `${servers[0]!.url}/campaigns`, {
        id,
        daily_budget_cents: 1_000_000,
        pacing_mode: 'ASAP',
      });
      expect(res.status).toBe(201);
    }
    await waitFor('every instance to load the campaigns', async () =>
      (await Promise.all(servers.map(health))).every((h) => h.campaigns === CAMPAIGNS.length),
    );
    const traffic = load(6);
    await waitFor('spend before the outage', async () => acked.size >= 200, 600);

    await postgres.stop();
    outage = true;
    const outageEndsAt = Date.now() + OUTAGE_MS;
    let last: Health[] = [];
    await waitFor(
      'an instance to report PostgreSQL down with history queued',
      async () => {
        last = await Promise.all(servers.map(health));
        return last.some((h) => !h.records.postgres_healthy && h.records.history_queued > 0);
      },
      300,
    ).catch((err) => {
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify(last)} ${JSON.stringify(stats)} ${servers.map((s) => s.output().slice(-1500)).join('\n')}`,
      );
    });
    const down = (await Promise.all(servers.map(health))).find((h) => !h.records.postgres_healthy)!;
    expect(down.status, 'Redis is fine: deciding stays healthy').toBe('healthy');
    expect(down.records.last_error).not.toBeNull();
    const metrics = (await request('GET', `${servers[0]!.url}/metrics`)).body as string;
    expect(metrics).toMatch(/pacer_records_history_queued \d+/);

    // The registry refuses changes it cannot record, and changes nothing.
    const refused = await request('POST', `${servers[1]!.url}/campaigns`, {
      id: 'po-late',
      daily_budget_cents: 1_000,
    });
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string } }).error.code).toBe('PACER_ERR_RECORDS_UNAVAILABLE');
    expect((await request('GET', `${servers[1]!.url}/campaigns/po-late`)).status).toBe(404);

    await new Promise((r) => setTimeout(r, Math.max(0, outageEndsAt - Date.now())));
    await postgres.start();
    outage = false;
    await waitFor(
      'every instance to write to PostgreSQL again',
      async () => {
        last = await Promise.all(servers.map(health));
        return last.every((h) => h.records.postgres_healthy);
      },
      600,
    ).catch((err) => {
      throw new Error(
        `${(err as Error).message} at ${new Date().toISOString()}: ${JSON.stringify(last)} ${JSON.stringify(stats)}`,
      );
    });
    await traffic.stop();
    expect(stats.failed, 'every decision and notice answered').toBe(0);
    expect(stats.spendDuringOutage).toBeGreaterThan(50);
    await waitFor('the last notices written', async () =>
      (await Promise.all(servers.map(health))).every((h) => h.records.history_queued === 0),
    );

    for (const id of CAMPAIGNS) {
      const perf = (await request('GET', `${servers[2]!.url}/performance/${id}?days=1`)).body as {
        totals: { spent_micros: number; wins: number };
      };
      expect(perf.totals, id).toMatchObject({ spent_micros: ackedBy(id).micros, wins: ackedBy(id).count });
    }
    console.log(
      `postgres outage: ${acked.size} notices (${stats.spendDuringOutage} during the ${OUTAGE_MS / 1000} s outage), ${stats.decisions} decisions`,
    );
  }, 300_000);
});
