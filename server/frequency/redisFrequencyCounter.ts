import type { RedisClient } from '../store/redisClient';
import { isCluster } from '../store/redisClient';
import {
  FREQUENCY_TTL_SECONDS,
  type FrequencyCounter,
  type FrequencyRef,
  type ImpressionItem,
} from './frequencyCounter';

/**
 * One hash per campaign and local day, `<prefix>{c:<campaignId>}:freq:<dayKey>`, user id ->
 * impressions. The `{c:...}` hash tag is the campaign's, so Redis Cluster keeps a campaign's
 * counters on the slot of its budget keys. Each write renews a TTL of one (long) day.
 */
const TAKE_LUA = `
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

type ScriptedClient = RedisClient & {
  pacerTakeImpression(key: string, userId: string, cap: number, ttlSeconds: number): Promise<number>;
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

  key(campaignId: string, dayKey: string): string {
    return `${this.prefix}{c:${campaignId}}:freq:${dayKey}`;
  }

  async counts(refs: readonly FrequencyRef[]): Promise<number[]> {
    if (refs.length === 0) return [];
    let raw: (string | null)[];
    if (isCluster(this.redis)) {
      // A Cluster pipeline must stay on one node; separate commands are routed per slot.
      raw = await Promise.all(refs.map((r) => this.redis.hget(this.key(r.campaignId, r.dayKey), r.userId)));
    } else {
      const p = this.redis.pipeline();
      for (const r of refs) p.hget(this.key(r.campaignId, r.dayKey), r.userId);
      const res = (await p.exec()) ?? [];
      raw = res.map(([err, v]) => {
        if (err) throw err;
        return v as string | null;
      });
    }
    return raw.map((v) => (v === null ? 0 : Number(v)));
  }

  async recordImpressions(items: readonly ImpressionItem[]): Promise<void> {
    if (items.length === 0) return;
    const run = async (item: ImpressionItem) => {
      const key = this.key(item.campaignId, item.dayKey);
      const res = await this.redis
        .multi()
        .hincrby(key, item.userId, item.count ?? 1)
        .expire(key, FREQUENCY_TTL_SECONDS)
        .exec();
      for (const [err] of res ?? []) if (err) throw err;
    };
    await Promise.all(items.map(run));
  }

  async takeImpression(ref: FrequencyRef, cap: number): Promise<boolean> {
    const key = this.key(ref.campaignId, ref.dayKey);
    return (await this.redis.pacerTakeImpression(key, ref.userId, cap, FREQUENCY_TTL_SECONDS)) === 1;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => undefined);
  }
}
