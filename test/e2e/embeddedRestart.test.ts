import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleServer } from '../../server/build';
import { type ServerProcess, request, startServer } from '../support/serverProcess';

/**
 * `npm start` with neither DATABASE_URL nor REDIS_URL, three times on one DATA_DIR: stopped
 * gracefully once, killed with SIGKILL once. Campaigns and every cent of spend acknowledged
 * before each stop are there in the next run, and a retried notice is still a duplicate.
 * Runs what `npm start` runs: the bundle `npm run build` writes, with the same node flags.
 */
const ROOT = join(import.meta.dirname, '..', '..');
/** Where `npm run build` (npm start's prestart) puts the bundle; its imports resolve from the repo. */
const BUNDLE = join(ROOT, 'dist', 'server.mjs');
let root: string;
let server: ServerProcess;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-embedded-'));
  await bundleServer(join(ROOT, 'server', 'main.ts'), BUNDLE);
  server = await startServer({
    redisUrl: '',
    journalDir: join(root, 'journal'),
    instanceId: 'embedded-e2e',
    env: { DATA_DIR: join(root, 'data') },
    nodeArgs: ['--max-semi-space-size=8', BUNDLE],
    startTimeoutMs: 150_000,
  });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const acked = new Map<string, number>();
/** Notices whose answer never came (the server died): a real ad server retries them. */
const unanswered = new Map<string, number>();
let seq = 0;

/** Decision + notice pairs, `concurrency` at a time; only acknowledged notices are remembered. */
async function traffic(count: number, concurrency: number): Promise<void> {
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent++;
      const n = seq++;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: 'emb-1',
        bid_cents: 100 + (n % 50),
        request_id: `emb-r${n}`,
      }).catch(() => null);
      if (d === null || d.status !== 200 || !(d.body as { allow_bid: boolean }).allow_bid) continue;
      const spendMicros = 1_000 + (n % 7) * 13;
      const res = await request('POST', `${server.url}/spend/track`, {
        campaign_id: 'emb-1',
        spend_cents: spendMicros / 10_000,
        event_id: `emb-e${n}`,
        request_id: `emb-r${n}`,
      }).catch(() => null);
      if (res !== null && res.status === 200 && (res.body as { counted: boolean }).counted) {
        acked.set(`emb-e${n}`, spendMicros);
      } else if (res === null) {
        unanswered.set(`emb-e${n}`, spendMicros);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function ackedMicros(): number {
  let sum = 0;
  for (const v of acked.values()) sum += v;
  return sum;
}

async function spentTodayMicros(): Promise<number> {
  const res = await request('GET', `${server.url}/budget/status/emb-1`);
  expect(res.status).toBe(200);
  return (res.body as { spent_today_micros: number }).spent_today_micros;
}

describe('embedded mode across restarts', () => {
  it('keeps campaigns and every acknowledged cent through a graceful stop and a kill -9', async () => {
    const created = await request('POST', `${server.url}/campaigns`, {
      id: 'emb-1',
      daily_budget_cents: 1_000_000,
      pacing_mode: 'ASAP',
    });
    expect(created.status).toBe(201);
    await traffic(300, 8);
    expect(acked.size).toBeGreaterThan(100);
    expect(await spentTodayMicros()).toBe(ackedMicros());

    await server.stop();
    await server.restart();
    expect((await request('GET', `${server.url}/campaigns/emb-1`)).status).toBe(200);
    expect(await spentTodayMicros()).toBe(ackedMicros());

    // Killed while notices are in flight: whatever was acknowledged must be there.
    const load = traffic(400, 8);
    while (acked.size < 350) await new Promise((r) => setTimeout(r, 20));
    await server.kill9();
    await load;
    await server.restart();
    const ackedBeforeKill = ackedMicros();
    const stored = await spentTodayMicros();
    // Notices in flight at the kill may have counted without an answer; nothing answered is lost.
    expect(stored).toBeGreaterThanOrEqual(ackedBeforeKill);
    let inFlightMicros = 0;
    for (const [eventId, micros] of unanswered) {
      const retry = await request('POST', `${server.url}/spend/track`, {
        campaign_id: 'emb-1',
        spend_cents: micros / 10_000,
        event_id: eventId,
      });
      expect(retry.status).toBe(200);
      acked.set(eventId, micros);
      if ((retry.body as { duplicate: boolean }).duplicate) inFlightMicros += micros;
    }
    expect(stored).toBe(ackedBeforeKill + inFlightMicros);
    expect(await spentTodayMicros()).toBe(ackedMicros());
    const audit = await request('GET', `${server.url}/campaigns/emb-1/audit`);
    expect((audit.body as { entries: { action: string }[] }).entries.map((e) => e.action)).toEqual([
      'create',
    ]);

    // A notice counted in an earlier run is still recognised.
    const [eventId, micros] = [...acked.entries()][0]!;
    const dup = await request('POST', `${server.url}/spend/track`, {
      campaign_id: 'emb-1',
      spend_cents: micros / 10_000,
      event_id: eventId,
    });
    expect(dup.body).toMatchObject({ counted: false, duplicate: true });
    expect(await spentTodayMicros()).toBe(ackedMicros());

    const perf = await request('GET', `${server.url}/performance/emb-1?days=1`);
    expect((perf.body as { totals: { spent_micros: number; wins: number } }).totals).toMatchObject({
      spent_micros: ackedMicros(),
      wins: acked.size,
    });
  }, 240_000);
});
