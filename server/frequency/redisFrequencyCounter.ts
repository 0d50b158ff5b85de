import type { RedisClient } from '../store/redisClient';
import { isCluster } from '../store/redisClient';
import {
  type Exposure,
  FREQUENCY_TTL_SECONDS,
  type FrequencyCounter,
  type FrequencyRef,
} from './frequencyCounter';

/**
 * One sorted set per campaign, local day and user, `<prefix>{c:<campaignId>}:freq:<dayKey>:<userId>`:
 * member = exposure id, score = until when it counts (the pending window of a won bid, +inf once
 * its impression came). The `{c:...}` hash tag is the campaign's, so Redis Cluster keeps a
 * campaign's counters on the slot of its budget keys. Each write renews a TTL of one (long) day.
 */
const TAKE_LUA = `
-- KEYS: the user's exposures   ARGV: cap, nowMs, untilMs, exposureId, ttlS
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
`;

type ScriptedClient = RedisClient & {
  pacerTakeImpression(
    key: string,
    cap: number,
    nowMs: number,
    untilMs: number | '+inf',
    exposureId: string,
    ttlSeconds: number,
  ): Promise<number>;
};

export interface RedisFrequencyCounterOptions {
  /** Same prefix as the RedisStore's keys (default "pacer:"); no braces. */
  readonly keyPrefix?: string;
  /** Closed by close() when true (a connection of its own). */
  readonly ownsClient?: boolean;
}

export class RedisFrequencyCounter implements FrequencyCounter {
  private readonly redis: ScriptedClient;
  private readonly prefix: string;
  private readonly ownsClient: boolean;

  constructor(client: RedisClient, options: RedisFrequencyCounterOptions = {}) {
    const prefix = options.keyPrefix ?? 'pacer:';
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new RangeError(`key prefix "${prefix}" must not contain braces: they would replace the hash tag`);
    }
    this.prefix = prefix;
    this.ownsClient = options.ownsClient ?? false;
    client.defineCommand('pacerTakeImpression', { numberOfKeys: 1, lua: TAKE_LUA });
    this.redis = client as ScriptedClient;
  }

  key(r: FrequencyRef): string {
    return `${this.prefix}{c:${r.campaignId}}:freq:${r.dayKey}:${r.userId}`;
  }

  async counts(refs: readonly FrequencyRef[], nowMs: number): Promise<number[]> {
    if (refs.length === 0) return [];
    // Exclusive of now: a pending exposure counts while its deadline is ahead (as in the take).
    const from = `(${nowMs}`;
    if (isCluster(this.redis)) {
      // A Cluster pipeline must stay on one node; separate commands are routed per slot.
      return Promise.all(refs.map((r) => this.redis.zcount(this.key(r), from, '+inf')));
    }
    const p = this.redis.pipeline();
    for (const r of refs) p.zcount(this.key(r), from, '+inf');
    const res = (await p.exec()) ?? [];
    return res.map(([err, v]) => {
      if (err) throw err;
      return Number(v);
    });
  }

  async confirmImpressions(items: readonly Exposure[]): Promise<void> {
    if (items.length === 0) return;
    const run = async (e: Exposure) => {
      const key = this.key(e);
      // GT: a pending exposure becomes a confirmed one; a confirmed one stays; a new one is added.
      const res = await this.redis
        .multi()
        .zadd(key, 'GT', '+inf', e.exposureId)
        .expire(key, FREQUENCY_TTL_SECONDS)
        .exec();
      for (const [err] of res ?? []) if (err) throw err;
    };
    await Promise.all(items.map(run));
  }

  async takeImpression(e: Exposure, cap: number, nowMs: number, untilMs: number): Promise<boolean> {
    const taken = await this.redis.pacerTakeImpression(
      this.key(e),
      cap,
      nowMs,
      untilMs === Number.POSITIVE_INFINITY ? '+inf' : untilMs,
      e.exposureId,
      FREQUENCY_TTL_SECONDS,
    );
    return taken === 1;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => undefined);
  }
}
