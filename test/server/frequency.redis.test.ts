import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, makeCampaign } from '../../core/campaign';
import {
  FREQUENCY_TTL_SECONDS,
  PENDING_IMPRESSION_MS,
  frequencyDayKey,
} from '../../server/frequency/frequencyCounter';
import { MemoryFrequencyCounter } from '../../server/frequency/memoryFrequencyCounter';
import { RedisFrequencyCounter } from '../../server/frequency/redisFrequencyCounter';
import { CampaignRecords } from '../../server/records/campaignRecords';
import { migrate } from '../../server/records/migrate';
import { pgClient } from '../../server/records/pgClient';
import { RedisStore } from '../../server/store/redisStore';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';

/** The machine's shared Redis; every key of this file lives under its own prefix. */
const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `freqtest${process.pid}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const ref = (userId: string, campaignId = 'c1', dayKey = '2024-06-03') => ({ campaignId, userId, dayKey });
const exp = (exposureId: string, userId: string, campaignId = 'c1', dayKey = '2024-06-03') => ({
  ...ref(userId, campaignId, dayKey),
  exposureId,
});
const T = Date.UTC(2024, 5, 3, 12, 0);

describe.each([
  ['redis', () => new RedisFrequencyCounter(redis, { keyPrefix: `${prefix}${Math.random()}:` })],
  ['memory', () => new MemoryFrequencyCounter()],
] as const)('%s frequency counter', (_kind, make) => {
  it('counts impressions per campaign, user and day, each exposure once', async () => {
    const f = make();
    await f.confirmImpressions([exp('b1', 'u1'), exp('b2', 'u1'), exp('b1', 'u1'), exp('b3', 'u2')]);
    // A re-delivered batch changes nothing.
    await f.confirmImpressions([exp('b3', 'u2'), exp('b4', 'u1', 'c2')]);
    expect(
      await f.counts([ref('u1'), ref('u2'), ref('u3'), ref('u1', 'c2'), ref('u1', 'c1', '2024-06-04')], T),
    ).toEqual([2, 1, 0, 1, 0]);
    expect(await f.counts([], T)).toEqual([]);
  });

  it('takes an impression only below the cap, even with 50 takes racing', async () => {
    const f = make();
    const taken = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        f.takeImpression(exp(`bid-${i}`, 'racer'), 7, T, T + PENDING_IMPRESSION_MS),
      ),
    );
    expect(taken.filter(Boolean)).toHaveLength(7);
    expect(await f.counts([ref('racer')], T)).toEqual([7]);
    expect(
      await f.takeImpression(exp('bid-x', 'racer', 'c1', '2024-06-04'), 7, T, T + PENDING_IMPRESSION_MS),
    ).toBe(true);
  });

  it('counts a won bid until its impression confirms it, once; an unconfirmed win lapses', async () => {
    const f = make();
    expect(await f.takeImpression(exp('won-1', 'u1'), 2, T, T + PENDING_IMPRESSION_MS)).toBe(true);
    expect(await f.takeImpression(exp('won-2', 'u1'), 2, T, T + PENDING_IMPRESSION_MS)).toBe(true);
    // Both wins count while their impressions are on the way: the cap of 2 is reached.
    expect(await f.takeImpression(exp('won-3', 'u1'), 2, T + 1_000, T + 1_000 + PENDING_IMPRESSION_MS)).toBe(
      false,
    );
    // The impression of won-1 arrives: the same exposure, not a third one.
    await f.confirmImpressions([exp('won-1', 'u1')]);
    expect(await f.counts([ref('u1')], T + 2_000)).toEqual([2]);
    // won-2's impression never comes: once the window has passed only won-1 counts.
    const later = T + PENDING_IMPRESSION_MS + 1;
    expect(await f.counts([ref('u1')], later)).toEqual([1]);
    expect(await f.takeImpression(exp('won-4', 'u1'), 2, later, later + PENDING_IMPRESSION_MS)).toBe(true);
    expect(await f.takeImpression(exp('won-5', 'u1'), 2, later, later + PENDING_IMPRESSION_MS)).toBe(false);
  });

  it('counts a win all day where no impressions come (no event pipeline)', async () => {
    const f = make();
    expect(await f.takeImpression(exp('won-1', 'u9'), 1, T, Number.POSITIVE_INFINITY)).toBe(true);
    const muchLater = T + 20 * PENDING_IMPRESSION_MS;
    expect(await f.counts([ref('u9')], muchLater)).toEqual([1]);
    expect(await f.takeImpression(exp('won-2', 'u9'), 1, muchLater, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('keeps "__proto__" and "constructor" user ids apart from everything else', async () => {
    const f = make();
    await f.confirmImpressions([exp('e:1', '__proto__'), exp('e:2', 'constructor')]);
    expect(await f.counts([ref('__proto__'), ref('constructor'), ref('toString')], T)).toEqual([1, 1, 0]);
  });
});

describe('RedisFrequencyCounter keys', () => {
  it("share the campaign's hash tag and expire within a long day", async () => {
    const f = new RedisFrequencyCounter(redis, { keyPrefix: prefix });
    expect(f.key(ref('u', 'camp-9'))).toBe(`${prefix}{c:camp-9}:freq:2024-06-03:u`);
    await f.takeImpression(exp('b', 'u', 'camp-9'), 3, T, T + PENDING_IMPRESSION_MS);
    const ttl = await redis.ttl(f.key(ref('u', 'camp-9')));
    expect(ttl).toBeGreaterThan(FREQUENCY_TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(FREQUENCY_TTL_SECONDS);
    expect(() => new RedisFrequencyCounter(redis, { keyPrefix: 'a{b' })).toThrow(/braces/);
  });

  it("counts in the campaign's local day", () => {
    // 02:00 UTC on 4 June is still 3 June in New York.
    const t = Date.UTC(2024, 5, 4, 2, 0);
    expect(frequencyDayKey('UTC', t)).toBe('2024-06-04');
    expect(frequencyDayKey('America/New_York', t)).toBe('2024-06-03');
  });
});

const targeted: Campaign = makeCampaign({
  id: 'persist-1',
  dailyBudgetMicros: 5_000_000,
  maxBidCpmMicros: 2_000_000,
  creativeId: 'cr-7',
  targeting: {
    geo: ['USA'],
    deviceTypes: [4],
    os: ['ios'],
    apps: ['com.game'],
    sites: ['news.example'],
    segments: ['s1'],
    dayparts: [{ weekdays: [1, 7], hours: [0, 23] }],
    frequencyCapPerDay: 4,
  },
});

describe('targeting persists wherever campaigns do', () => {
  it('in the Redis registry', async () => {
    const store = new RedisStore({ url: REDIS_URL, keyPrefix: `${prefix}store:` });
    try {
      await store.putCampaign(targeted);
      expect(await store.getCampaign('persist-1')).toEqual(targeted);
      expect((await store.listCampaigns()).find((c) => c.id === 'persist-1')).toEqual(targeted);
    } finally {
      await store.close();
    }
  });

  describe('in the PostgreSQL records', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase('bidtargeting');
    });
    afterAll(async () => {
      await db.drop();
    });

    it('round-trips, and a targeting change is an audited update', async () => {
      const sql = pgClient({ url: db.url });
      try {
        await migrate(sql);
        const records = new CampaignRecords(sql);
        expect(await records.put(targeted, 'test', 0)).toBe('create');
        expect(await records.get('persist-1')).toEqual(targeted);
        const narrower = makeCampaign({ ...targeted, targeting: { ...targeted.targeting, geo: ['CAN'] } });
        expect(await records.put(narrower, 'test', 1)).toBe('update');
        const audit = await records.audit('persist-1');
        expect(audit.map((a) => a.newValue?.targeting?.geo)).toEqual([['USA'], ['CAN']]);
      } finally {
        await sql.close();
      }
    });
  });
});
