import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayWindowAt, hourIndex } from '../../core/dayWindow';
import { CONSUMER_GROUP, STREAM_PARTITIONS } from '../../server/events/eventKeys';
import { hashUnit } from '../../server/runtime/random';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * Three instances on a private Redis and one PostgreSQL take 24,000 events (and batches of 200
 * more until the kill has landed), each sent twice to two different instances, shuffled so
 * duplicates and hours arrive out of order. One instance is killed with -9 while its consumer
 * holds a batch it has read and not acknowledged, and started again. /analytics must then report exactly the distinct events, on every instance.
 */
const SEED = 'events-1';
const EVENTS = 24_000;
const BATCH = 400;
const CONCURRENCY = 6;
const TYPES = ['impression', 'impression', 'impression', 'impression', 'click', 'conversion'] as const;
const CAMPAIGNS = [
  { id: 'ev-utc', timeZone: 'UTC' },
  { id: 'ev-ny', timeZone: 'America/New_York' },
  { id: 'ev:tokyo', timeZone: 'Asia/Tokyo' },
];

interface SentEvent {
  event_id: string;
  type: (typeof TYPES)[number];
  campaign_id: string;
  user_id: string;
  at_ms: number;
}

let redis: RedisServerHandle;
let db: TestDatabase;
const servers: ServerProcess[] = [];
let root: string;
let raw: Redis;

beforeAll(async () => {
  if (REDIS_SERVER === null) return;
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-events-'));
  redis = await startRedisServer();
  raw = new Redis(redis.url);
  db = await createTestDatabase('events_e2e');
  // One after another: three processes migrating one fresh database at once would race.
  for (const x of ['a', 'b', 'c']) {
    servers.push(
      await startServer({
        redisUrl: redis.url,
        journalDir: join(root, x),
        instanceId: `e2e-ev-${x}`,
        env: { DATABASE_URL: db.url },
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  raw?.disconnect();
  await redis?.dispose();
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Entries the consumer named `name` has read and not acknowledged, over every partition. */
async function pendingOf(name: string): Promise<number> {
  let n = 0;
  for (let p = 0; p < STREAM_PARTITIONS; p++) {
    const summary = (await raw.xpending(`pacer:{ev:${p}}:stream`, CONSUMER_GROUP)) as [
      number,
      string | null,
      string | null,
      [string, string][] | null,
    ];
    for (const [consumer, count] of summary[3] ?? []) if (consumer === name) n += Number(count);
  }
  return n;
}

function makeEvents(nowMs: number, tag: string, count: number): SentEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    event_id: `${SEED}-${tag}-${n}`,
    type: TYPES[Math.floor(hashUnit(`${SEED}:${tag}:t:${n}`) * TYPES.length)]!,
    campaign_id: CAMPAIGNS[n % CAMPAIGNS.length]!.id,
    user_id: `user-${Math.floor(hashUnit(`${SEED}:${tag}:u:${n}`) * 500)}`,
    // Over the last 30 hours: several local days and hours per campaign, in no particular order.
    at_ms: nowMs - Math.floor(hashUnit(`${SEED}:${tag}:at:${n}`) * 30 * 3_600_000),
  }));
}

/** Every event twice, as one seeded shuffle: copies and hours arrive out of order. */
function shuffledTwice(events: readonly SentEvent[]): SentEvent[] {
  const all = [...events, ...events];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(hashUnit(`${SEED}:shuffle:${i}`) * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

type Totals = { impressions: number; clicks: number; conversions: number };

function expectedPerHour(events: readonly SentEvent[]): Map<string, Totals> {
  const zones = new Map(CAMPAIGNS.map((c) => [c.id, c.timeZone]));
  const out = new Map<string, Totals>();
  for (const e of events) {
    const w = dayWindowAt(zones.get(e.campaign_id)!, e.at_ms);
    const k = `${e.campaign_id}/${w.key}/${hourIndex(w, e.at_ms)}`;
    const t = out.get(k) ?? { impressions: 0, clicks: 0, conversions: 0 };
    if (e.type === 'impression') t.impressions++;
    else if (e.type === 'click') t.clicks++;
    else t.conversions++;
    out.set(k, t);
  }
  return out;
}

interface AnalyticsBody {
  totals: Totals & { ctr: number | null };
  buckets: (Totals & { day: string; hour: number })[];
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} event pipeline on three instances`, () => {
  it('counts events sent twice, out of order, across a consumer killed mid-batch, exactly', async () => {
    for (const c of CAMPAIGNS) {
      const res = await request('POST', `${servers[0]!.url}/campaigns`, {
        id: c.id,
        daily_budget_cents: 100_000,
        pacing_mode: 'EVEN',
        time_zone: c.timeZone,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const nowMs = Date.now();
    const events = makeEvents(nowMs, 'main', EVENTS);
    const sends = shuffledTwice(events);
    const batches: SentEvent[][] = [];
    for (let i = 0; i < sends.length; i += BATCH) batches.push(sends.slice(i, i + BATCH));

    const down = new Set<number>();
    const failures: string[] = [];
    /** Posts a batch, moving to the next live instance when one is down (or dies in the request). */
    const post = async (batch: SentEvent[], first: number) => {
      for (let attempt = 0; attempt < 30; attempt++) {
        const i = (first + attempt) % 3;
        if (down.has(i)) continue;
        const res = await request('POST', `${servers[i]!.url}/events`, batch).catch(() => null);
        if (res?.status === 202) return;
        if (res !== null && res.status < 500) {
          failures.push(`${res.status} ${JSON.stringify(res.body)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      failures.push('a batch found no live instance');
    };

    let next = 0;
    // Until c has died mid-batch, senders keep the consumers busy with more events (each sent
    // twice too) once the main ones are out: a kill needs a batch in flight to land in.
    let killing = true;
    let fillers = 0;
    const sender = async () => {
      for (;;) {
        if (next < batches.length) {
          const b = next++;
          await post(batches[b]!, b % 3);
        } else if (killing && fillers < 500) {
          const more = makeEvents(nowMs, `filler${fillers++}`, BATCH / 2);
          events.push(...more);
          await post([...more, ...more], fillers % 3);
        } else {
          return;
        }
      }
    };
    const sending = Promise.all(Array.from({ length: CONCURRENCY }, sender));

    // Kill instance c the moment its consumer holds a batch it has read and not acknowledged. The
    // batch may be finished between the look and the kill: then c comes back and is killed again.
    let killedMidBatch = false;
    try {
      for (let attempt = 0; attempt < 5 && !killedMidBatch; attempt++) {
        await waitFor('instance c to hold a batch', async () => (await pendingOf('e2e-ev-c')) > 0, 3000, 5);
        down.add(2);
        await servers[2]!.kill9();
        killedMidBatch = (await pendingOf('e2e-ev-c')) > 0;
        if (!killedMidBatch) {
          await servers[2]!.restart();
          down.delete(2);
        }
      }
    } finally {
      // However the kills went, the senders stop feeding and finish.
      killing = false;
    }
    await sending;
    expect(failures).toEqual([]);
    if (down.has(2)) {
      await servers[2]!.restart();
      down.delete(2);
    }

    // The restarted consumer finishes its own batch; then every instance reports no lag.
    await waitFor(
      'consumer lag 0 everywhere',
      async () => {
        for (const s of servers) {
          const h = (await request('GET', `${s.url}/health`)).body as { events?: { consumer_lag: number } };
          if (h.events?.consumer_lag !== 0) return false;
        }
        return (await pendingOf('e2e-ev-c')) === 0;
      },
      600,
      100,
    );
    expect(killedMidBatch, 'instance c died holding unacknowledged entries').toBe(true);

    const expected = expectedPerHour(events);
    for (const c of CAMPAIGNS) {
      const today = dayWindowAt(c.timeZone, nowMs).key;
      const from = dayWindowAt(c.timeZone, nowMs - 31 * 3_600_000).key;
      for (const s of servers) {
        const res = await request('GET', `${s.url}/analytics/${c.id}?from=${from}&to=${today}&by=hour`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const body = res.body as AnalyticsBody;
        const want = { impressions: 0, clicks: 0, conversions: 0 };
        for (const [k, t] of expected) {
          if (!k.startsWith(`${c.id}/`)) continue;
          want.impressions += t.impressions;
          want.clicks += t.clicks;
          want.conversions += t.conversions;
        }
        expect(body.totals).toMatchObject(want);
        expect(body.totals.ctr).toBe(want.clicks / want.impressions);
        const got = new Map(
          body.buckets
            .filter((b) => b.impressions + b.clicks + b.conversions > 0)
            .map((b) => [
              `${c.id}/${b.day}/${b.hour}`,
              { impressions: b.impressions, clicks: b.clicks, conversions: b.conversions },
            ]),
        );
        expect(got).toEqual(new Map([...expected].filter(([k]) => k.startsWith(`${c.id}/`))));
      }
    }
    const metrics = (await request('GET', `${servers[0]!.url}/metrics`)).body as string;
    expect(metrics).toMatch(/^pacer_events_consumer_lag 0$/m);
  }, 300_000);
});
