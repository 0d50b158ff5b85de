import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdEvent, AdEventType } from '../../server/events/adEvent';
import { EventConsumer } from '../../server/events/eventConsumer';
import { STREAM_PARTITIONS } from '../../server/events/eventKeys';
import { EventRecords } from '../../server/events/eventRecords';
import { EventStream } from '../../server/events/eventStream';
import type { Exposure } from '../../server/frequency/frequencyCounter';
import { type Records, openRecords } from '../../server/records/openRecords';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { ManualClock, ManualTimers } from '../support/manualTime';
import { type RedisClusterHandle, startRedisCluster } from '../support/redisCluster';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';

/**
 * The stream half of the pipeline against a real Redis and a real PGlite: dedup at append, and a
 * consumer group whose members die between reading and acknowledging (before or after the
 * commit) without a single event counted twice or lost.
 */
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const types: AdEventType[] = ['impression', 'impression', 'impression', 'click', 'conversion'];

let server: RedisServerHandle;
let records: Records;
let dir: string;
const clients: (Redis | Cluster)[] = [];
let seq = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pacer-events-'));
  records = await openRecords({ databaseUrl: null, dataDir: dir });
  if (REDIS_SERVER !== null) server = await startRedisServer();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await records?.close();
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function event(campaignId: string, n: number, over: Partial<AdEvent> = {}): AdEvent {
  return {
    eventId: `e${n}`,
    type: types[n % types.length]!,
    campaignId,
    userId: n % 2 === 0 ? `u${n % 7}` : null,
    atMs: T0 + (n % 3) * 3_600_000,
    dayKey: '2026-11-30',
    hourIndex: 12 + (n % 3),
    bidId: n % 4 === 0 ? `bid-${n}` : null,
    ...over,
  };
}

/** What exactly-once counting must give: per campaign and hour, by type. */
function expected(events: readonly AdEvent[]) {
  const out = new Map<string, { impressions: number; clicks: number; conversions: number }>();
  for (const e of events) {
    const k = `${e.campaignId}/${e.hourIndex}`;
    const c = out.get(k) ?? { impressions: 0, clicks: 0, conversions: 0 };
    if (e.type === 'impression') c.impressions++;
    if (e.type === 'click') c.clicks++;
    if (e.type === 'conversion') c.conversions++;
    out.set(k, c);
  }
  return out;
}

async function stored(campaigns: readonly string[]) {
  const out = new Map<string, { impressions: number; clicks: number; conversions: number }>();
  for (const c of campaigns) {
    for (const h of await new EventRecords(records.db).hours(c, '2026-11-30', '2026-11-30')) {
      out.set(`${c}/${h.hourIndex}`, {
        impressions: h.impressions,
        clicks: h.clicks,
        conversions: h.conversions,
      });
    }
  }
  return out;
}

function singleClient(): Redis {
  const c = new Redis(server.url, { maxRetriesPerRequest: 1 });
  clients.push(c);
  return c;
}

function streamOn(client: Redis | Cluster, prefix = `t${process.pid}-${seq++}:`): EventStream {
  return new EventStream(client, { prefix, dedupTtlSeconds: 3600 });
}

function consumer(
  stream: EventStream,
  name: string,
  o: { claimIdleMs?: number; hook?: Exposure[]; eventRecords?: EventRecords } = {},
) {
  const clock = new ManualClock(T0);
  return new EventConsumer({
    stream,
    records: o.eventRecords ?? new EventRecords(records.db),
    consumer: name,
    clock,
    timers: new ManualTimers(clock),
    onImpressions: () => async (items) => void o.hook?.push(...items),
    log: { warn: () => {} },
    batchSize: 50,
    claimIdleMs: o.claimIdleMs ?? 3_600_000,
  });
}

async function drain(c: EventConsumer): Promise<void> {
  for (let i = 0; i < 1000 && (await c.pollOnce()) > 0; i++) {
    // until the log is empty
  }
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} event stream and consumer group`, () => {
  it('appends each event id once per campaign, within a batch and across batches', async () => {
    const s = streamOn(singleClient());
    expect(await s.append([event('c1', 1), event('c1', 1), event('c2', 1)])).toEqual([true, false, true]);
    expect(await s.append([event('c1', 1), event('c2', 1), event('c2', 2)])).toEqual([false, false, true]);
    // Campaign ids may hold ':'; ("a:b", "c") and ("a", "b:c") are different events.
    expect(
      await s.append([
        event('a:b', 0, { eventId: 'c' }),
        event('a', 0, { eventId: 'b:c' }),
        event('__proto__', 0),
      ]),
    ).toEqual([true, true, true]);
  });

  it('counts exactly once when consumers die before and after their commit and another takes over', async () => {
    const s = streamOn(singleClient());
    const campaigns = [`dead-a-${seq}`, `dead-b-${seq}`, `dead-c-${seq}`];
    const events = Array.from({ length: 600 }, (_, n) => event(campaigns[n % 3]!, n));
    await s.append(events);
    await s.ensureGroups();
    // "dead-1" read a batch on every partition and died before writing it.
    for (let p = 0; p < STREAM_PARTITIONS; p++) await s.read(p, 'dead-1', 40, false);
    // "dead-2" read the next batches, wrote them, and died before acknowledging (and before
    // telling the frequency caps).
    for (let p = 0; p < STREAM_PARTITIONS; p++) {
      const batch = (await s.read(p, 'dead-2', 40, false)).map((e) => e.event!);
      await new EventRecords(records.db).record(batch, T0);
    }
    expect((await s.stats()).pending).toBeGreaterThan(0);

    const hook: Exposure[] = [];
    const live = consumer(s, 'live', { claimIdleMs: 0, hook });
    await drain(live);

    expect(await stored(campaigns)).toEqual(expected(events));
    expect(await s.stats()).toEqual({ undelivered: 0, pending: 0 });
    // The caps hear every impression with a user, those "dead-2" committed too (it died before
    // telling them), each as its exposure: the bid id when the event has one, else its event id.
    const exposures = events
      .filter((e) => e.type === 'impression' && e.userId !== null)
      .map((e) => e.bidId ?? `e:${e.eventId}`);
    expect(hook.map((x) => x.exposureId).sort()).toEqual(exposures.sort());
    // Sent again after all that: nothing new reaches the stream.
    expect((await s.append(events)).some(Boolean)).toBe(false);
  });

  it('a consumer restarted under its own name finishes its pending batch before new entries', async () => {
    const s = streamOn(singleClient());
    const campaigns = [`own-${seq}`];
    const events = Array.from({ length: 120 }, (_, n) => event(campaigns[0]!, n));
    await s.append(events);
    await s.ensureGroups();
    for (let p = 0; p < STREAM_PARTITIONS; p++) await s.read(p, 'worker-1', 30, false);
    // Same name, and nobody else would claim for an hour: only its own-pending read can finish them.
    await drain(consumer(s, 'worker-1'));
    expect(await stored(campaigns)).toEqual(expected(events));
    expect(await s.stats()).toEqual({ undelivered: 0, pending: 0 });
  });

  it('leaves a batch pending when the history write fails, and counts it once when the write works', async () => {
    const s = streamOn(singleClient());
    const campaigns = [`fail-${seq}`];
    const events = Array.from({ length: 80 }, (_, n) => event(campaigns[0]!, n));
    await s.append(events);
    const real = new EventRecords(records.db);
    let failures = 1;
    const flaky = Object.assign(Object.create(real) as EventRecords, {
      async record(batch: readonly AdEvent[], nowMs: number) {
        const fresh = await real.record(batch, nowMs);
        // Committed, then the connection drops before the answer: the worst moment to fail.
        if (failures-- > 0) throw new Error('connection terminated unexpectedly');
        return fresh;
      },
    });
    const c = consumer(s, 'flaky', { eventRecords: flaky });
    await expect(c.pollOnce()).rejects.toThrow(/terminated/);
    expect((await s.stats()).pending).toBeGreaterThan(0);
    await drain(c);
    expect(await stored(campaigns)).toEqual(expected(events));
    expect(await s.stats()).toEqual({ undelivered: 0, pending: 0 });
  });

  it('leaves a batch pending when the frequency caps cannot take its impressions, and tells them again', async () => {
    const s = streamOn(singleClient());
    const campaigns = [`capfail-${seq}`];
    const events = Array.from({ length: 80 }, (_, n) => event(campaigns[0]!, n));
    await s.append(events);
    const clock = new ManualClock(T0);
    const heard: Exposure[] = [];
    let failures = 1;
    const c = new EventConsumer({
      stream: s,
      records: new EventRecords(records.db),
      consumer: 'capfail',
      clock,
      timers: new ManualTimers(clock),
      onImpressions: () => async (items) => {
        if (failures-- > 0) throw new Error('frequency counter unreachable');
        heard.push(...items);
      },
      log: { warn: () => {} },
      batchSize: 50,
      claimIdleMs: 3_600_000,
    });
    await expect(c.pollOnce()).rejects.toThrow(/unreachable/);
    expect((await s.stats()).pending).toBeGreaterThan(0);
    await drain(c);
    // The history counted each event once, and the caps heard every impression with a user.
    expect(await stored(campaigns)).toEqual(expected(events));
    expect(await s.stats()).toEqual({ undelivered: 0, pending: 0 });
    const withUser = events.filter((e) => e.type === 'impression' && e.userId !== null);
    expect(new Set(heard.map((x) => x.exposureId)).size).toBe(withUser.length);
  });
});

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} event stream after Redis lost its streams`, () => {
  it('creates the consumer group again and goes on consuming', async () => {
    const client = singleClient();
    const prefix = `lost${process.pid}-${seq++}:`;
    const s = streamOn(client, prefix);
    const campaigns = [`lost-${seq}`];
    const c = consumer(s, 'survivor');
    await s.append([event(campaigns[0]!, 1)]);
    await drain(c);
    // Redis restarted empty: the streams and their group are gone.
    await client.del(...Array.from({ length: STREAM_PARTITIONS }, (_, p) => s.key(p)));
    const later = Array.from({ length: 30 }, (_, n) => event(campaigns[0]!, n + 2));
    await s.append(later);
    await expect(c.pollOnce()).rejects.toThrow(/NOGROUP/);
    await drain(c);
    expect(await stored(campaigns)).toEqual(expected([event(campaigns[0]!, 1), ...later]));
  });
});

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} event stream on a Redis Cluster`, () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.dispose();
  });

  it('appends and consumes across the hash-tagged partitions of every node', async () => {
    const client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    clients.push(client);
    await new Promise((resolve) => client.once('ready', resolve));
    const s = streamOn(client);
    const campaigns = Array.from({ length: 12 }, (_, i) => `cl-${seq}-${i}`);
    const events = Array.from({ length: 360 }, (_, n) => event(campaigns[n % campaigns.length]!, n));
    expect((await s.append([...events, ...events])).filter(Boolean)).toHaveLength(events.length);
    await drain(consumer(s, 'cluster-1'));
    expect(await stored(campaigns)).toEqual(expected(events));
    expect(await s.stats()).toEqual({ undelivered: 0, pending: 0 });
  }, 60_000);
});
