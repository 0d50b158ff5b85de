import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * An instance killed with -9 under load holds up to a second of counted spend it has not yet
 * written to PostgreSQL. That tail is in its history log (fsynced before each acknowledgement),
 * which it writes when it starts again; the notices whose answer the kill cut off are retried, and
 * those Redis had counted come back as duplicates, which go to the history as what was counted.
 * The history ends equal to what was acknowledged, each notice once.
 */
let db: TestDatabase;
let redis: RedisServerHandle;
let server: ServerProcess;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-histkill-'));
  [db, redis] = await Promise.all([createTestDatabase('histkill'), startRedisServer()]);
  server = await startServer({
    redisUrl: redis.url,
    journalDir: join(root, 'j'),
    instanceId: 'hk-a',
    env: { DATABASE_URL: db.url },
    startTimeoutMs: 90_000,
  });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await redis?.dispose();
  await db?.drop();
  rmSync(root, { recursive: true, force: true });
}, 60_000);

const acked = new Map<string, number>();
const unanswered = new Map<string, number>();
let seq = 0;

function load(concurrency: number): { stop(): Promise<void> } {
  let running = true;
  const worker = async () => {
    while (running) {
      const n = seq++;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: 'hk-1',
        bid_cents: 100,
        request_id: `hk-r${n}`,
      }).catch(() => null);
      if (d === null || d.status !== 200 || !(d.body as { allow_bid: boolean }).allow_bid) continue;
      const body = { campaign_id: 'hk-1', spend_cents: 0.1, event_id: `hk-e${n}`, request_id: `hk-r${n}` };
      const res = await request('POST', `${server.url}/spend/track`, body).catch(() => null);
      if (res !== null && res.status === 200) acked.set(body.event_id, 1_000);
      else if (res === null) unanswered.set(body.event_id, 1_000);
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

describe('history after a kill -9', () => {
  it('writes back the spend Redis counted but PostgreSQL never got', async () => {
    const created = await request('POST', `${server.url}/campaigns`, {
      id: 'hk-1',
      daily_budget_cents: 1_000_000,
      pacing_mode: 'ASAP',
    });
    expect(created.status).toBe(201);
    const traffic = load(8);
    await waitFor('spend flowing', async () => acked.size >= 400, 600);
    await server.kill9();
    await traffic.stop();
    await server.restart();
    for (const [eventId, micros] of unanswered) {
      const retry = await request('POST', `${server.url}/spend/track`, {
        campaign_id: 'hk-1',
        spend_cents: micros / 10_000,
        event_id: eventId,
      });
      expect(retry.status).toBe(200);
      acked.set(eventId, micros);
    }
    const total = [...acked.values()].reduce((s, v) => s + v, 0);
    await waitFor('history to match what was acknowledged', async () => {
      const perf = (await request('GET', `${server.url}/performance/hk-1?days=1`)).body as {
        totals: { spent_micros: number };
      };
      return perf.totals.spent_micros === total;
    });
    const status = (await request('GET', `${server.url}/budget/status/hk-1`)).body as {
      spent_today_micros: number;
    };
    expect(status.spent_today_micros).toBe(total);
  }, 240_000);
});
