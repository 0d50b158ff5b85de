import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BudgetStore,
  HOUR_BUCKETS,
  MemoryStore,
  type SpendRecord,
  StoreUnavailableError,
  makeCampaign,
} from '../../core/index';
import { INDEX_BUCKETS, RedisStore, parseMarker } from '../../server/store/redisStore';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type RedisClusterHandle, startRedisCluster } from '../support/redisCluster';
import { type RedisServerHandle, freePort, startRedisServer } from '../support/redisServer';

let server: RedisServerHandle;
let cluster: RedisClusterHandle;
let prefixSeq = 0;
const opened: RedisStore[] = [];

/** Where a store connects: the private single node, or the private six-node Cluster. */
type Topology = 'single' | 'cluster';
const TOPOLOGIES: Topology[] = ['single', 'cluster'];

function newRedisStore(prefix = `t${process.pid}-${prefixSeq++}:`, on: Topology = 'single'): RedisStore {
  const where =
    on === 'single'
      ? { url: server.url }
      : {
          topology: {
            kind: 'cluster' as const,
            nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
            waitReplicas: 1,
          },
        };
  // The Cluster's replies wait for a replica (WAIT): a looser timeout on this shared machine.
  const s = new RedisStore({ ...where, keyPrefix: prefix, commandTimeoutMs: on === 'single' ? 300 : 2000 });
  opened.push(s);
  return s;
}

async function readyRedisStore(prefix?: string, on: Topology = 'single'): Promise<RedisStore> {
  const s = newRedisStore(prefix, on);
  expect(await s.waitReady(10_000)).toBe(true);
  return s;
}

/** A raw client on the same topology, for looking at keys behind the store's back. */
async function rawClient(on: Topology): Promise<Redis | Cluster> {
  if (on === 'single') return new Redis(server.url);
  const c = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  await new Promise((resolve) => c.once('ready', resolve));
  return c;
}

async function keysMatching(raw: Redis | Cluster, pattern: string): Promise<string[]> {
  if (raw instanceof Redis) return raw.keys(pattern);
  const perNode = await Promise.all(raw.nodes('master').map((n) => n.keys(pattern)));
  return perNode.flat();
}

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
}, 60_000);

afterAll(async () => {
  for (const s of opened) await s.close();
  await server?.dispose();
  await cluster?.dispose();
});

function rec(eventId: string, spendMicros: number, over: Partial<SpendRecord> = {}): SpendRecord {
  return {
    eventId,
    campaignId: 'c1',
    dayKey: '2024-03-01',
    hourIndex: 3,
    spendMicros,
    instanceId: 'i1',
    ...over,
  };
}

const day = { campaignId: 'c1', dayKey: '2024-03-01' };

/** Stores may or may not keep an instance whose lease went back to zero; the contract is about amounts. */
function nonZero(m: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));
}

/** Every suite here needs redis-server (the file's beforeAll starts one): skipped, titled, without it. */
const describeWithRedis = REDIS_SERVER === null ? describe.skip : describe;

/** The same contract holds for the embedded store and for Redis: the simulator trusts one, production the other. */
const stores: [string, () => Promise<BudgetStore>][] = [
  ['MemoryStore', async () => new MemoryStore()],
  ['RedisStore (single node)', () => readyRedisStore()],
  ['RedisStore (Cluster: 3 primaries, 3 replicas)', () => readyRedisStore(undefined, 'cluster')],
];

describeWithRedis.each(stores)(`${NEEDS_REDIS} BudgetStore contract: %s`, (_name, make) => {
  it('counts each event id once, within a batch and across batches', async () => {
    const s = await make();
    expect(await s.applySpend([rec('e1', 100), rec('e2', 250), rec('e1', 100)])).toEqual([true, true, false]);
    expect(await s.applySpend([rec('e2', 250), rec('e3', 7, { hourIndex: 24, instanceId: 'i2' })])).toEqual([
      false,
      true,
    ]);
    const [d] = await s.readDays([day]);
    expect(d!.spentMicros).toBe(357);
    expect(d!.hourSpentMicros).toHaveLength(HOUR_BUCKETS);
    expect(d!.hourSpentMicros[3]).toBe(350);
    expect(d!.hourSpentMicros[24]).toBe(7);
    expect(d!.spentByInstance).toEqual({ i1: 350, i2: 7 });
    expect(d!.totalSpentMicros).toBe(357);
  });

  it('keeps days apart and sums the lifetime total across them', async () => {
    const s = await make();
    await s.applySpend([rec('a', 10), rec('b', 20, { dayKey: '2024-03-02' })]);
    const [d1, d2, empty] = await s.readDays([
      day,
      { campaignId: 'c1', dayKey: '2024-03-02' },
      { campaignId: 'other', dayKey: '2024-03-01' },
    ]);
    expect(d1!.spentMicros).toBe(10);
    expect(d2!.spentMicros).toBe(20);
    expect(d2!.totalSpentMicros).toBe(30);
    expect(empty).toEqual({
      spentMicros: 0,
      hourSpentMicros: new Array(HOUR_BUCKETS).fill(0),
      leasedMicros: 0,
      leasedByInstance: {},
      spentByInstance: {},
      totalSpentMicros: 0,
    });
  });

  it('grants leases up to the budget and no further, and takes back at most what was held', async () => {
    const s = await make();
    const req = (instanceId: string, requestMicros: number) => ({
      ...day,
      instanceId,
      requestMicros,
      budgetMicros: 1000,
    });
    expect(await s.acquireLeases([req('i1', 600), req('i2', 600), req('i3', 600)])).toEqual([600, 400, 0]);
    await s.returnLease(day, 'i1', 10_000);
    await s.returnLease(day, 'i3', 50);
    const [d] = await s.readDays([day]);
    expect(d!.leasedMicros).toBe(400);
    expect(nonZero(d!.leasedByInstance)).toEqual({ i2: 400 });
    expect(await s.acquireLeases([req('i3', 700)])).toEqual([600]);
  });

  it('keeps an instance named __proto__ like any other instance', async () => {
    const s = await make();
    await s.applySpend([rec('p1', 10, { instanceId: '__proto__' }), rec('p2', 5, { instanceId: 'i1' })]);
    await s.acquireLeases([{ ...day, instanceId: '__proto__', requestMicros: 600, budgetMicros: 1000 }]);
    const [d] = await s.readDays([day]);
    expect(Object.hasOwn(d!.spentByInstance, '__proto__')).toBe(true);
    expect(d!.spentByInstance.__proto__ as unknown).toBe(10);
    expect(d!.leasedByInstance.__proto__ as unknown).toBe(600);
    expect(d!.spentByInstance.i1).toBe(5);
  });

  it('stores campaigns and breaker snapshots', async () => {
    const s = await make();
    const c = makeCampaign({
      id: 'camp-9',
      dailyBudgetMicros: 5_000_000,
      pacingMode: 'ASAP',
      timeZone: 'Asia/Tokyo',
    });
    await s.putCampaign(c);
    await s.putCampaign(makeCampaign({ id: 'camp-1', dailyBudgetMicros: 1 }));
    expect(await s.getCampaign('camp-9')).toEqual(c);
    expect((await s.listCampaigns()).map((x) => x.id)).toEqual(['camp-1', 'camp-9']);
    const snap = {
      state: 'OPEN' as const,
      recovered: false,
      openedAtMs: 5,
      probesUsed: 0,
      trips: 1,
      lastTransitionMs: 5,
    };
    await s.saveBreaker('camp-9', snap);
    expect(await s.loadBreaker('camp-9')).toEqual(snap);
    expect(await s.deleteCampaign('camp-9')).toBe(true);
    expect(await s.deleteCampaign('camp-9')).toBe(false);
    expect(await s.getCampaign('camp-9')).toBeNull();
    expect(await s.loadBreaker('camp-9')).toBeNull();
    expect((await s.listCampaigns()).map((x) => x.id)).toEqual(['camp-1']);
  });
});

describeWithRedis.each(TOPOLOGIES)(`${NEEDS_REDIS} RedisStore specifics on a %s`, (on) => {
  it('puts every campaign key under the campaign hash tag and sets TTLs', async () => {
    const prefix = `tag${prefixSeq++}:`;
    const s = await readyRedisStore(prefix, on);
    await s.applySpend([rec('ev-1', 5)]);
    await s.acquireLeases([{ ...day, instanceId: 'i1', requestMicros: 5, budgetMicros: 10 }]);
    await s.putCampaign(makeCampaign({ id: 'c1', dailyBudgetMicros: 10 }));
    await s.saveBreaker('c1', {
      state: 'CLOSED',
      recovered: false,
      openedAtMs: 0,
      probesUsed: 0,
      trips: 0,
      lastTransitionMs: 0,
    });
    const raw = await rawClient(on);
    try {
      const keys = (await keysMatching(raw, `${prefix}*`)).sort();
      const outside = keys.filter((k) => !k.startsWith(`${prefix}{c:c1}:`));
      expect(outside).toEqual([expect.stringMatching(new RegExp(`^${prefix}\\{idx:\\d+\\}:campaigns$`))]);
      expect(keys.length).toBe(10);
      const ttl = async (k: string) => raw.ttl(`${prefix}{c:c1}:${k}`);
      const dedupTtl = await ttl('ev:ev-1');
      expect(dedupTtl).toBeGreaterThan(3 * 86_400 - 60);
      expect(dedupTtl).toBeLessThanOrEqual(3 * 86_400);
      for (const k of ['day', 'hour', 'spi', 'lease', 'lpi']) {
        expect(await ttl(`${k}:2024-03-01`)).toBeGreaterThan(8 * 86_400 - 60);
      }
      expect(await ttl('total')).toBe(-1);
    } finally {
      raw.disconnect();
    }
  });

  it('says what a duplicate was counted as: the instance, amount, day and hour its marker holds', async () => {
    const s = await readyRedisStore(`who${prefixSeq++}:`, on);
    expect(await s.applySpendCountedBy([rec('w1', 5), rec('w2', 7, { instanceId: '1' })])).toEqual([
      true,
      true,
    ]);
    expect(
      await s.applySpendCountedBy([rec('w1', 9, { instanceId: 'i2' }), rec('w2', 7), rec('w3', 1)]),
    ).toEqual([
      { instanceId: 'i1', spendMicros: 5, dayKey: '2024-03-01', hourIndex: 3 },
      { instanceId: '1', spendMicros: 7, dayKey: '2024-03-01', hourIndex: 3 },
      true,
    ]);
    expect(await s.applySpend([rec('w1', 5), rec('w4', 2)])).toEqual([false, true]);
    const [d] = await s.readDays([day]);
    expect(d!.spentMicros).toBe(15);
    // A marker of an earlier version holds the instance id alone.
    expect(parseMarker('i7')).toEqual({ instanceId: 'i7' });
    expect(parseMarker('')).toBeNull();
  });

  it('answers the first command of a fresh client instead of failing it while connecting', async () => {
    const s = newRedisStore(undefined, on);
    expect(await s.applySpend([rec('first', 3)])).toEqual([true]);
  });

  it('lists 10,000 campaigns spread over the index buckets, and those of the old single index', async () => {
    const prefix = `many${prefixSeq++}:`;
    const s = await readyRedisStore(prefix, on);
    const raw = await rawClient(on);
    try {
      // Written straight to Redis in big batches: putCampaign one at a time would take a while.
      const ids = Array.from({ length: 10_000 }, (_, i) => `m-${String(i).padStart(5, '0')}`);
      const json = (id: string) => JSON.stringify(makeCampaign({ id, dailyBudgetMicros: 1_000 }));
      for (let i = 0; i < ids.length; i += 1000) {
        await Promise.all(
          ids.slice(i, i + 1000).map((id) => raw.set(`${prefix}{c:${id}}:campaign`, json(id))),
        );
      }
      for (let i = 0; i < 5_000; i += 500) {
        const batch = ids.slice(i, i + 500);
        await Promise.all(batch.map((id) => s.putCampaign(makeCampaign({ id, dailyBudgetMicros: 1_000 }))));
      }
      // The second half only in the index an earlier version kept: it must still be listed.
      await raw.sadd(`${prefix}campaigns`, ...ids.slice(5_000));
      const listed = await s.listCampaigns();
      expect(listed.length).toBe(10_000);
      expect(listed.map((c) => c.id)).toEqual(ids);
      const buckets = await keysMatching(raw, `${prefix}{idx:*`);
      expect(buckets.length).toBe(INDEX_BUCKETS);
      expect(await s.deleteCampaign('m-07000')).toBe(true);
      expect(await s.deleteCampaign('m-00001')).toBe(true);
      const after = (await s.listCampaigns()).map((c) => c.id);
      expect(after.length).toBe(9_998);
      expect(after).not.toContain('m-07000');
      expect(after).not.toContain('m-00001');
    } finally {
      raw.disconnect();
    }
  }, 60_000);

  it('never grants more than the budget to concurrent acquirers on separate connections', async () => {
    const prefix = `prop${prefixSeq++}:`;
    const clients = [
      await readyRedisStore(prefix, on),
      await readyRedisStore(prefix, on),
      await readyRedisStore(prefix, on),
    ];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(
          fc.record({
            client: fc.integer({ min: 0, max: 2 }),
            requestMicros: fc.integer({ min: 0, max: 400_000 }),
            giveBackMicros: fc.integer({ min: 0, max: 200_000 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        async (budgetMicros, ops) => {
          const ref = { campaignId: `p${run++}`, dayKey: '2024-03-01' };
          const grants = await Promise.all(
            ops.map(async (op, i) => {
              const store = clients[op.client]!;
              const instanceId = `inst${op.client}`;
              const [g] = await store.acquireLeases([
                { ...ref, instanceId, requestMicros: op.requestMicros, budgetMicros },
              ]);
              if (i % 3 === 0) await store.returnLease(ref, instanceId, op.giveBackMicros);
              return g!;
            }),
          );
          const [d] = await clients[0]!.readDays([ref]);
          for (const g of grants) expect(g).toBeGreaterThanOrEqual(0);
          expect(d!.leasedMicros).toBeLessThanOrEqual(budgetMicros);
          const byInstance = Object.values(d!.leasedByInstance).reduce((a, b) => a + b, 0);
          expect(byInstance).toBe(d!.leasedMicros);
          for (const v of Object.values(d!.leasedByInstance)) expect(v).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 60, seed: 4242 },
    );
  });

  it('counts concurrent duplicate deliveries from several connections exactly once', async () => {
    const prefix = `dup${prefixSeq++}:`;
    const clients = [
      await readyRedisStore(prefix, on),
      await readyRedisStore(prefix, on),
      await readyRedisStore(prefix, on),
    ];
    const events = Array.from({ length: 500 }, (_, i) => rec(`e${i}`, 1 + (i % 97)));
    const expected = events.reduce((a, e) => a + e.spendMicros, 0);
    // Each client sends every event, in its own order and batch size.
    const results = await Promise.all(
      clients.map(async (c, ci) => {
        const mine = ci === 1 ? [...events].reverse() : events;
        const counted: boolean[] = [];
        for (let i = 0; i < mine.length; i += 17 + ci * 13) {
          counted.push(...(await c.applySpend(mine.slice(i, i + 17 + ci * 13))));
        }
        return counted.filter(Boolean).length;
      }),
    );
    expect(results.reduce((a, b) => a + b, 0)).toBe(events.length);
    const [d] = await clients[0]!.readDays([day]);
    expect(d!.spentMicros).toBe(expected);
    expect(d!.totalSpentMicros).toBe(expected);
  });
});

describe('RedisStore specifics', () => {
  it('rejects at once when nothing listens, as a store failure', async () => {
    const port = await freePort();
    const s = new RedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 });
    opened.push(s);
    await expect(s.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(s.listCampaigns()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('rejects a key prefix that would steal the hash tag', () => {
    expect(() => new RedisStore({ url: server.url, keyPrefix: 'a{b}:' })).toThrow(RangeError);
  });

  it('fails fast with STORE_UNAVAILABLE while Redis is down and reconnects by itself', async () => {
    const prefix = `down${prefixSeq++}:`;
    const s = await readyRedisStore(prefix);
    expect(await s.applySpend([rec('before', 1_000)])).toEqual([true]);
    await server.stop({ save: true });
    const err = await s.applySpend([rec('during', 5)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
    await expect(s.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(
      s.acquireLeases([{ ...day, instanceId: 'i', requestMicros: 1, budgetMicros: 9 }]),
    ).rejects.toThrow(StoreUnavailableError);
    await server.restart();
    expect(await s.waitReady(10_000)).toBe(true);
    // The restarted server forgot the scripts: the store must reload them on NOSCRIPT.
    expect(await s.applySpend([rec('before', 1_000), rec('after', 5)])).toEqual([false, true]);
    const [d] = await s.readDays([day]);
    expect(d!.spentMicros).toBe(1_005);
  });

  it('reads 30,000 campaign-days in one call within a 1 s command timeout', async () => {
    // One pipeline of 180,000 commands cannot answer its last one within 1 s; chunks each can.
    const s = new RedisStore({ url: server.url, keyPrefix: `big${prefixSeq++}:`, commandTimeoutMs: 1_000 });
    opened.push(s);
    expect(await s.waitReady(5000)).toBe(true);
    const refs = Array.from({ length: 30_000 }, (_, i) => ({ campaignId: `big${i}`, dayKey: '2024-03-01' }));
    const snaps = await s.readDays(refs);
    expect(snaps).toHaveLength(30_000);
    expect(snaps.every((d) => d.spentMicros === 0)).toBe(true);
  });

  it('claims an instance id for one boot: a second boot is refused until the claim is released or lapses', async () => {
    const s = await readyRedisStore();
    const a = { instanceId: 'pacer-1', bootId: 'boot-a', startedAtMs: 1_000, ttlMs: 400 };
    const b = { instanceId: 'pacer-1', bootId: 'boot-b', startedAtMs: 2_000, ttlMs: 400 };
    expect(await s.claimInstance(a)).toBe(true);
    expect(await s.claimInstance(a)).toBe(true);
    expect(await s.claimInstance(b)).toBe(false);
    expect(await s.claimInstance({ ...b, instanceId: 'pacer-2' })).toBe(true);
    await s.releaseInstance(b);
    expect(await s.claimInstance(b)).toBe(false);
    await s.releaseInstance(a);
    expect(await s.claimInstance(b)).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(await s.claimInstance(a)).toBe(true);
  });

  it('gives an instance id back to the older process after the store lost the claim (chaos seed 301)', async () => {
    const s = await readyRedisStore();
    const older = {
      instanceId: 'pacer-301',
      bootId: 'boot-old',
      startedAtMs: 1_000,
      ttlMs: 5_000,
    };
    const newer = {
      instanceId: 'pacer-301',
      bootId: 'boot-new',
      startedAtMs: 9_000,
      ttlMs: 5_000,
    };
    expect(await s.claimInstance(older)).toBe(true);
    // Redis restarted empty: the claim is gone and a second process with the same id claims it.
    await s.releaseInstance(older);
    expect(await s.claimInstance(newer)).toBe(true);
    // The running holder's renewal takes it back; the newcomer's confirmation then fails.
    expect(await s.claimInstance(older)).toBe(true);
    expect(await s.claimInstance(newer)).toBe(false);
    // A process older still, starting now, takes it from the running holder (chaos seed 122021):
    // one rule at start and at renewal, the older process keeps the id.
    expect(await s.claimInstance({ ...older, bootId: 'boot-older', startedAtMs: 500 })).toBe(true);
    expect(await s.claimInstance(older)).toBe(false);
  });

  it('says why it failed: a read-only replica is STORE_READONLY, not an outage', async () => {
    const s = await readyRedisStore();
    const admin = new Redis(server.url);
    try {
      await admin.config('SET', 'replica-read-only', 'yes');
      // A replica of a master that does not exist: it answers reads and refuses writes.
      await admin.replicaof('127.0.0.1', String(await freePort()));
      const err = (await s.applySpend([rec('ro', 1)]).catch((e: unknown) => e)) as StoreUnavailableError;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(err.reason).toBe('STORE_READONLY');
    } finally {
      await admin.replicaof('NO', 'ONE');
      await admin.quit();
    }
  });

  it('times out instead of hanging when Redis stops answering', async () => {
    const s = await readyRedisStore();
    server.pause();
    try {
      await expect(s.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(s.applySpend([rec('hang', 1)])).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      server.resume();
    }
    expect(await s.waitReady(10_000)).toBe(true);
  });
});
