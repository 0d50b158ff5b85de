import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayWindowAt } from '../../core/index';
import { hashUnit } from '../../server/runtime/random';
import { RedisStore } from '../../server/store/redisStore';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { createCampaigns } from '../support/failoverTraffic';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer } from '../support/serverProcess';

/**
 * Three server processes on one Redis take 100,000 win notices (plus duplicates, some of them
 * concurrent on two instances) for bids they allowed. Redis must hold exactly the distinct spend,
 * and no campaign may pass its budget: every notice goes back to the deciding instance within the
 * reservation TTL, so the stated bound's extra term E is 0 here.
 */
const TARGET_EVENTS = 100_000;
const MAX_ATTEMPTS = 400_000;
const CONCURRENCY = 96;
const SEED = 'multi-1';

const campaigns = [
  ...Array.from({ length: 8 }, (_, i) => ({ id: `big-${i}`, cents: 100_000 })),
  ...Array.from({ length: 4 }, (_, i) => ({ id: `small-${i}`, cents: 500 })),
];

let redis: RedisServerHandle;
let servers: ServerProcess[] = [];
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-multi-'));
  redis = await startRedisServer();
  servers = await Promise.all(
    ['a', 'b', 'c'].map((x) =>
      startServer({ redisUrl: redis.url, journalDir: join(root, x), instanceId: `e2e-${x}` }),
    ),
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.dispose();
  rmSync(root, { recursive: true, force: true });
});

interface Event {
  campaignId: string;
  spendMicros: number;
  countedTimes: number;
}

function pickCampaign(n: number): string {
  // Small campaigns get 10% of the attempts: enough to exhaust them, not so many that most attempts are denied.
  const u = hashUnit(`${SEED}:c:${n}`);
  if (u < 0.1) return campaigns[8 + Math.floor((u / 0.1) * 4)]!.id;
  return campaigns[Math.floor(((u - 0.1) / 0.9) * 8)]!.id;
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} three instances on one Redis`, () => {
  it('count 100,000 notices with duplicates exactly and keep every campaign within budget', async () => {
    await createCampaigns(servers, campaigns);
    const dayKey = dayWindowAt('UTC', Date.now()).key;

    const events = new Map<string, Event>();
    let attempts = 0;
    let denied = 0;
    let duplicatesSent = 0;
    const failures: string[] = [];
    const startedMs = performance.now();

    const track = async (server: ServerProcess, body: object) => {
      const res = await request('POST', `${server.url}/spend/track`, body);
      if (res.status !== 200) failures.push(`track ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { counted: boolean };
    };

    const worker = async () => {
      while (events.size < TARGET_EVENTS && attempts < MAX_ATTEMPTS && failures.length === 0) {
        const n = attempts++;
        const server = servers[n % 3]!;
        const other = servers[(n + 1 + (n % 2)) % 3]!;
        const campaignId = pickCampaign(n);
        const bidCents = 100 + ((n * 7919) % 401);
        const requestId = `${SEED}-r${n}`;
        const d = await request('POST', `${server.url}/pacing/decision`, {
          campaign_id: campaignId,
          bid_cents: bidCents,
          request_id: requestId,
        });
        if (d.status !== 200) {
          failures.push(`decision ${d.status} ${JSON.stringify(d.body)}`);
          break;
        }
        const decision = d.body as { allow_bid: boolean; max_bid_cents: number };
        if (!decision.allow_bid) {
          denied++;
          continue;
        }
        // A second-price charge at the full bid: the worst case for the budget.
        const spendCents = decision.max_bid_cents / 1000;
        const eventId = `${SEED}-e${n}`;
        const ev: Event = { campaignId, spendMicros: decision.max_bid_cents * 10, countedTimes: 0 };
        events.set(eventId, ev);
        const body = {
          campaign_id: campaignId,
          spend_cents: spendCents,
          event_id: eventId,
          request_id: requestId,
        };
        const u = hashUnit(`${SEED}:dup:${n}`);
        if (u < 0.02) {
          // The same notice delivered to two instances at once.
          duplicatesSent++;
          const both = await Promise.all([track(server, body), track(other, body)]);
          ev.countedTimes += both.filter((b) => b.counted).length;
        } else {
          if ((await track(server, body)).counted) ev.countedTimes++;
          if (u < 0.12) {
            duplicatesSent++;
            if ((await track(other, body)).counted) ev.countedTimes++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsedS = (performance.now() - startedMs) / 1000;
    expect(failures.slice(0, 5)).toEqual([]);
    expect(events.size).toBeGreaterThanOrEqual(TARGET_EVENTS);
    console.log(
      `multiInstance: ${events.size} distinct notices + ${duplicatesSent} duplicates, ${attempts} decisions (${denied} denied) in ${elapsedS.toFixed(1)} s`,
    );

    const notOnce = [...events.entries()].filter(([, e]) => e.countedTimes !== 1);
    expect(notOnce.slice(0, 5)).toEqual([]);

    const expected = new Map<string, number>();
    for (const e of events.values())
      expected.set(e.campaignId, (expected.get(e.campaignId) ?? 0) + e.spendMicros);
    const store = new RedisStore({ url: redis.url });
    try {
      const snaps = await store.readDays(campaigns.map((c) => ({ campaignId: c.id, dayKey })));
      campaigns.forEach((c, i) => {
        const snap = snaps[i]!;
        const budgetMicros = c.cents * 10_000;
        expect(snap.spentMicros, c.id).toBe(expected.get(c.id) ?? 0);
        expect(snap.totalSpentMicros, c.id).toBe(expected.get(c.id) ?? 0);
        expect(snap.spentMicros, `${c.id} within budget`).toBeLessThanOrEqual(budgetMicros);
        expect(snap.leasedMicros, `${c.id} leases within budget`).toBeLessThanOrEqual(budgetMicros);
        const perInstance = Object.values(snap.spentByInstance).reduce((a, b) => a + b, 0);
        expect(perInstance, c.id).toBe(snap.spentMicros);
        if (c.id.startsWith('small')) {
          // The small budgets were exhausted, so the bound was actually exercised.
          expect(snap.spentMicros / budgetMicros, `${c.id} utilisation`).toBeGreaterThan(0.9);
        }
      });
    } finally {
      await store.close();
    }
  }, 240_000);
});
