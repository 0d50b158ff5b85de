import { Redis, type RedisOptions } from 'ioredis';
import {
  type BreakerSnapshot,
  type BudgetStore,
  type Campaign,
  type CampaignInput,
  type DayKeyRef,
  type DaySnapshot,
  HOUR_BUCKETS,
  type InstanceClaim,
  type LeaseRequest,
  type SpendRecord,
  type StoreFailureReason,
  StoreUnavailableError,
  makeCampaign,
} from '../../core/index';

/**
 * Key layout. Every key of one campaign carries the hash tag `{c:<campaignId>}`, so Redis Cluster
 * puts a campaign on one slot and each Lua script below touches a single slot:
 *
 *   <prefix>{c:ID}:day:<dayKey>        day spend (string counter)            TTL dayTtl
 *   <prefix>{c:ID}:hour:<dayKey>       hour index -> spend (hash)             TTL dayTtl
 *   <prefix>{c:ID}:spi:<dayKey>        instance -> spend (hash)               TTL dayTtl
 *   <prefix>{c:ID}:lease:<dayKey>      leases granted, all instances         TTL dayTtl
 *   <prefix>{c:ID}:lpi:<dayKey>        instance -> lease granted (hash)       TTL dayTtl
 *   <prefix>{c:ID}:total               lifetime spend                         no TTL
 *   <prefix>{c:ID}:ev:<eventId>        dedup marker                           TTL dedupTtl
 *   <prefix>{c:ID}:campaign            campaign JSON                          no TTL
 *   <prefix>{c:ID}:breaker             breaker snapshot JSON                  no TTL
 *   <prefix>campaigns                  index set of campaign ids (GLOBAL key: its own slot)
 *
 * The index set is the one key outside any campaign's slot, so registering a campaign is two
 * writes (campaign key first, then index); a reader skips index entries whose campaign key is gone.
 */

const APPLY_SPEND_LUA = `
-- KEYS: ev, day, hour, spi, total   ARGV: spend, hourIndex, instance, dedupTtlS, dayTtlS
if redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[4]) == false then
  return 0
end
local ttl = tonumber(ARGV[5])
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('HINCRBY', KEYS[3], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('HINCRBY', KEYS[4], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('INCRBY', KEYS[5], ARGV[1])
return 1
`;

const ACQUIRE_LEASE_LUA = `
-- KEYS: lease, lpi   ARGV: request, budget, instance, dayTtlS
local leased = tonumber(redis.call('GET', KEYS[1]) or '0')
local room = tonumber(ARGV[2]) - leased
local grant = tonumber(ARGV[1])
if room < grant then grant = room end
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[2], ARGV[3], grant)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
return grant
`;

const RETURN_LEASE_LUA = `
-- KEYS: lease, lpi   ARGV: micros, instance
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local back = tonumber(ARGV[1])
if held < back then back = held end
if back <= 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], -back)
redis.call('DECRBY', KEYS[1], back)
return back
`;

interface ScriptCommands {
  pacerApplySpend(...args: (string | number)[]): Promise<number>;
  pacerAcquireLease(...args: (string | number)[]): Promise<number>;
  pacerReturnLease(...args: (string | number)[]): Promise<number>;
  pacerClaimInstance(...args: (string | number)[]): Promise<number>;
  pacerReleaseInstance(...args: (string | number)[]): Promise<number>;
}
type ScriptedRedis = Redis & ScriptCommands;

export interface RedisStoreOptions {
  readonly url: string;
  /** Prepended to every key; tests use a unique one. Must not contain '{' (it would steal the hash tag). */
  readonly keyPrefix?: string;
  /** A command that gets no answer within this long fails, so the caller can go degraded. */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** How long an event id is remembered: a win notice retried later than this counts again. */
  readonly dedupTtlSeconds?: number;
  readonly dayTtlSeconds?: number;
  /** Longest pause between reconnect attempts. */
  readonly reconnectMaxDelayMs?: number;
}

export const DEFAULT_DEDUP_TTL_SECONDS = 3 * 86_400;
export const DEFAULT_DAY_TTL_SECONDS = 8 * 86_400;

function clientOptions(o: RedisStoreOptions): RedisOptions {
  const maxDelayMs = o.reconnectMaxDelayMs ?? 1000;
  return {
    // Fail at once while disconnected instead of queueing: the runtime then journals and goes degraded.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command in flight when the link dropped may or may not have run; resending it later would
    // hand out a lease nobody knows about. Spend is safe either way (dedup), leases are not.
    autoResendUnfulfilledCommands: false,
    commandTimeout: o.commandTimeoutMs ?? 500,
    connectTimeout: o.connectTimeoutMs ?? 1000,
    retryStrategy: (times) => Math.min(50 * times, maxDelayMs),
    lazyConnect: false,
  };
}

/** Redis' reply prefixes and ioredis' own messages, mapped to why the store failed. */
function failureReason(detail: string): StoreFailureReason {
  if (detail.startsWith('READONLY')) return 'STORE_READONLY';
  if (detail.startsWith('OOM')) return 'STORE_OOM';
  if (/^(NOAUTH|WRONGPASS|NOPERM)/.test(detail)) return 'STORE_AUTH';
  if (/timed? ?out/i.test(detail)) return 'STORE_TIMEOUT';
  if (
    /ECONNREFUSED|ECONNRESET|EPIPE|closed|not connected|offline|Stream isn't writeable|aborted/i.test(detail)
  )
    return 'STORE_UNREACHABLE';
  return 'STORE_ERROR';
}

function unavailable(what: string, cause: unknown): StoreUnavailableError {
  if (cause instanceof StoreUnavailableError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StoreUnavailableError(`redis ${what} failed: ${detail}`, {
    cause,
    reason: failureReason(detail),
  });
}

/**
 * Commands per pipeline. ioredis times each command out `commandTimeout` after
 * it was sent, so one pipeline of 100,000 campaigns' reads timed out at its tail and a server
 * with that many campaigns could not start; bounded chunks keep every reply within the timeout.
 */
const PIPELINE_COMMANDS = 1_000;

async function inChunks<T, R>(
  items: readonly T[],
  commandsPerItem: number,
  run: (chunk: readonly T[]) => Promise<R[]>,
): Promise<R[]> {
  const size = Math.max(1, Math.floor(PIPELINE_COMMANDS / commandsPerItem));
  if (items.length <= size) return run(items);
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    const part = await run(items.slice(i, i + size));
    for (const r of part) out.push(r);
  }
  return out;
}

const CLAIM_INSTANCE_LUA = `
-- KEYS: claim   ARGV: bootId, ttlMs
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE_INSTANCE_LUA = `
-- KEYS: claim   ARGV: bootId
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

function toInt(v: string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : 0;
}

/** Null prototype: instance ids are keys, and "__proto__" must be one like any other. */
function intHash(h: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  for (const [k, v] of Object.entries(h)) {
    const n = toInt(v);
    if (n !== 0) out[k] = n;
  }
  return out;
}

type PipelineResult = [Error | null, unknown][] | null;

/** Unwraps a pipeline's replies, failing as a whole if any command failed: callers retry, dedup makes it safe. */
function replies(what: string, res: PipelineResult): unknown[] {
  if (res === null) throw unavailable(what, new Error('pipeline aborted'));
  return res.map(([err, value]) => {
    if (err) throw unavailable(what, err);
    return value;
  });
}

export class RedisStore implements BudgetStore {
  readonly kind = 'redis';
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly dedupTtlSeconds: number;
  private readonly dayTtlSeconds: number;
  /** Settles once the first connection attempt has succeeded or failed. */
  private readonly firstAttempt: Promise<void>;
  private attempted = false;

  constructor(options: RedisStoreOptions) {
    const prefix = options.keyPrefix ?? 'pacer:';
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new RangeError(`key prefix "${prefix}" must not contain braces: they would replace the hash tag`);
    }
    this.prefix = prefix;
    this.dedupTtlSeconds = options.dedupTtlSeconds ?? DEFAULT_DEDUP_TTL_SECONDS;
    this.dayTtlSeconds = options.dayTtlSeconds ?? DEFAULT_DAY_TTL_SECONDS;
    const redis = new Redis(options.url, clientOptions(options));
    // Connection errors surface through command rejections; without a listener ioredis logs each one.
    redis.on('error', () => {});
    redis.defineCommand('pacerApplySpend', { numberOfKeys: 5, lua: APPLY_SPEND_LUA });
    redis.defineCommand('pacerAcquireLease', { numberOfKeys: 2, lua: ACQUIRE_LEASE_LUA });
    redis.defineCommand('pacerReturnLease', { numberOfKeys: 2, lua: RETURN_LEASE_LUA });
    redis.defineCommand('pacerClaimInstance', { numberOfKeys: 1, lua: CLAIM_INSTANCE_LUA });
    redis.defineCommand('pacerReleaseInstance', { numberOfKeys: 1, lua: RELEASE_INSTANCE_LUA });
    this.redis = redis as ScriptedRedis;
    // Without the offline queue, a command sent while the first connection is still being made
    // fails; a process that just started would report the store down for no reason. So commands
    // wait for the first attempt (bounded by connectTimeout), and only for that one.
    this.firstAttempt = new Promise((resolve) => {
      const done = () => {
        this.attempted = true;
        redis.off('ready', done);
        redis.off('error', done);
        redis.off('close', done);
        resolve();
      };
      redis.on('ready', done);
      redis.on('error', done);
      redis.on('close', done);
    });
  }

  private async connected(): Promise<void> {
    if (!this.attempted) await this.firstAttempt;
  }

  /** Resolves true once connected, false if that takes longer than `timeoutMs` (it keeps trying). */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  private tag(campaignId: string): string {
    return `${this.prefix}{c:${campaignId}}`;
  }

  private dayKeys(campaignId: string, dayKey: string) {
    const t = this.tag(campaignId);
    return {
      day: `${t}:day:${dayKey}`,
      hour: `${t}:hour:${dayKey}`,
      spi: `${t}:spi:${dayKey}`,
      lease: `${t}:lease:${dayKey}`,
      lpi: `${t}:lpi:${dayKey}`,
      total: `${t}:total`,
    };
  }

  private indexKey(): string {
    return `${this.prefix}campaigns`;
  }

  applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    return inChunks(records, 1, (chunk) => this.applySpendChunk(chunk));
  }

  private async applySpendChunk(records: readonly SpendRecord[]): Promise<boolean[]> {
    if (records.length === 0) return [];
    const p = this.redis.pipeline() as unknown as ScriptCommands & { exec(): Promise<PipelineResult> };
    for (const r of records) {
      const k = this.dayKeys(r.campaignId, r.dayKey);
      const hour = Math.min(Math.max(Math.trunc(r.hourIndex), 0), HOUR_BUCKETS - 1);
      p.pacerApplySpend(
        `${this.tag(r.campaignId)}:ev:${r.eventId}`,
        k.day,
        k.hour,
        k.spi,
        k.total,
        r.spendMicros,
        hour,
        r.instanceId,
        this.dedupTtlSeconds,
        this.dayTtlSeconds,
      );
    }
    let res: PipelineResult;
    try {
      await this.connected();
      res = await p.exec();
    } catch (err) {
      throw unavailable('applySpend', err);
    }
    return replies('applySpend', res).map((v) => v === 1);
  }

  acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    return inChunks(requests, 1, (chunk) => this.acquireLeasesChunk(chunk));
  }

  private async acquireLeasesChunk(requests: readonly LeaseRequest[]): Promise<number[]> {
    if (requests.length === 0) return [];
    const p = this.redis.pipeline() as unknown as ScriptCommands & { exec(): Promise<PipelineResult> };
    for (const q of requests) {
      const k = this.dayKeys(q.campaignId, q.dayKey);
      p.pacerAcquireLease(k.lease, k.lpi, q.requestMicros, q.budgetMicros, q.instanceId, this.dayTtlSeconds);
    }
    let res: PipelineResult;
    try {
      await this.connected();
      res = await p.exec();
    } catch (err) {
      throw unavailable('acquireLeases', err);
    }
    return replies('acquireLeases', res).map((v) => Number(v));
  }

  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    if (!(micros > 0)) return;
    const k = this.dayKeys(ref.campaignId, ref.dayKey);
    try {
      await this.connected();
      await this.redis.pacerReturnLease(k.lease, k.lpi, Math.floor(micros), instanceId);
    } catch (err) {
      throw unavailable('returnLease', err);
    }
  }

  readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    return inChunks(refs, 6, (chunk) => this.readDaysChunk(chunk));
  }

  private async readDaysChunk(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    if (refs.length === 0) return [];
    const p = this.redis.pipeline();
    for (const ref of refs) {
      const k = this.dayKeys(ref.campaignId, ref.dayKey);
      p.get(k.day).hgetall(k.hour).get(k.lease).hgetall(k.lpi).hgetall(k.spi).get(k.total);
    }
    let res: PipelineResult;
    try {
      await this.connected();
      res = await p.exec();
    } catch (err) {
      throw unavailable('readDays', err);
    }
    const v = replies('readDays', res);
    return refs.map((_, i) => {
      const o = i * 6;
      const hours = v[o + 1] as Record<string, string>;
      const hourSpentMicros = new Array<number>(HOUR_BUCKETS).fill(0);
      for (const [h, micros] of Object.entries(hours)) {
        const idx = Number(h);
        if (Number.isInteger(idx) && idx >= 0 && idx < HOUR_BUCKETS) hourSpentMicros[idx] = toInt(micros);
      }
      return {
        spentMicros: toInt(v[o] as string | null),
        hourSpentMicros,
        leasedMicros: toInt(v[o + 2] as string | null),
        leasedByInstance: intHash(v[o + 3] as Record<string, string>),
        spentByInstance: intHash(v[o + 4] as Record<string, string>),
        totalSpentMicros: toInt(v[o + 5] as string | null),
      };
    });
  }

  async putCampaign(campaign: Campaign): Promise<void> {
    try {
      await this.connected();
      await this.redis.set(`${this.tag(campaign.id)}:campaign`, JSON.stringify(campaign));
      await this.redis.sadd(this.indexKey(), campaign.id);
    } catch (err) {
      throw unavailable('putCampaign', err);
    }
  }

  async getCampaign(id: string): Promise<Campaign | null> {
    let raw: string | null;
    try {
      await this.connected();
      raw = await this.redis.get(`${this.tag(id)}:campaign`);
    } catch (err) {
      throw unavailable('getCampaign', err);
    }
    return raw === null ? null : makeCampaign(JSON.parse(raw) as CampaignInput);
  }

  async deleteCampaign(id: string): Promise<boolean> {
    try {
      await this.connected();
      const t = this.tag(id);
      const removed = await this.redis.del(`${t}:campaign`, `${t}:breaker`);
      await this.redis.srem(this.indexKey(), id);
      return removed > 0;
    } catch (err) {
      throw unavailable('deleteCampaign', err);
    }
  }

  async listCampaigns(): Promise<Campaign[]> {
    let raws: (string | null)[];
    try {
      await this.connected();
      const ids = (await this.redis.smembers(this.indexKey())).sort();
      if (ids.length === 0) return [];
      // One GET per id rather than MGET: the keys live on different cluster slots.
      const p = this.redis.pipeline();
      for (const id of ids) p.get(`${this.tag(id)}:campaign`);
      raws = replies('listCampaigns', await p.exec()) as (string | null)[];
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw unavailable('listCampaigns', err);
    }
    const out: Campaign[] = [];
    for (const raw of raws) if (raw !== null) out.push(makeCampaign(JSON.parse(raw) as CampaignInput));
    return out;
  }

  async saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    try {
      await this.connected();
      await this.redis.set(`${this.tag(campaignId)}:breaker`, JSON.stringify(snapshot));
    } catch (err) {
      throw unavailable('saveBreaker', err);
    }
  }

  async loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    let raw: string | null;
    try {
      await this.connected();
      raw = await this.redis.get(`${this.tag(campaignId)}:breaker`);
    } catch (err) {
      throw unavailable('loadBreaker', err);
    }
    return raw === null ? null : (JSON.parse(raw) as BreakerSnapshot);
  }

  async claimInstance(claim: InstanceClaim): Promise<boolean> {
    try {
      await this.connected();
      return (await this.redis.pacerClaimInstance(this.claimKey(claim), claim.bootId, claim.ttlMs)) === 1;
    } catch (err) {
      throw unavailable('claimInstance', err);
    }
  }

  async releaseInstance(claim: InstanceClaim): Promise<void> {
    try {
      await this.connected();
      await this.redis.pacerReleaseInstance(this.claimKey(claim), claim.bootId);
    } catch (err) {
      throw unavailable('releaseInstance', err);
    }
  }

  private claimKey(claim: InstanceClaim): string {
    return `${this.prefix}instance:{i:${claim.instanceId}}`;
  }

  async ping(): Promise<void> {
    try {
      await this.connected();
      await this.redis.ping();
    } catch (err) {
      throw unavailable('ping', err);
    }
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      // Already down: nothing to hand back.
      this.redis.disconnect();
    }
  }
}
