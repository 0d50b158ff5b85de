import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander } from 'ioredis';
import {
  type BreakerSnapshot,
  type BudgetStore,
  type Campaign,
  type CampaignInput,
  type CountedAs,
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
import { type RedisClient, type RedisConnectionOptions, createRedisClient, isCluster } from './redisClient';
import type { RedisTopology } from './redisTopology';

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
 *   <prefix>{c:ID}:ev:<eventId>        dedup marker: the counting instance    TTL dedupTtl
 *   <prefix>{c:ID}:campaign            campaign JSON                          no TTL
 *   <prefix>{c:ID}:breaker             breaker snapshot JSON                  no TTL
 *   <prefix>{idx:<b>}:campaigns        index set of the campaign ids in bucket b (0-63)     no TTL
 *   <prefix>campaigns                  the index of earlier versions: still read, no longer written
 *
 * The index is split over INDEX_BUCKETS sets, each under its own hash tag, so on a Cluster it
 * spreads over the nodes instead of making one slot hold every id. Index keys are outside any
 * campaign's slot, so registering a campaign is two writes (campaign key first, then index); a
 * reader skips index entries whose campaign key is gone.
 *
 * On a Cluster every Lua script touches one slot, and a pipeline carries only commands for slots
 * served by one node (the store groups them), as ioredis requires.
 */

const APPLY_SPEND_LUA = `
-- KEYS: ev, day, hour, spi, total   ARGV: spend, hourIndex, instance, dedupTtlS, dayTtlS, marker
if redis.call('SET', KEYS[1], ARGV[6], 'NX', 'EX', ARGV[4]) == false then
  return redis.call('GET', KEYS[1]) or ''
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

/**
 * A dedup marker's value: the counting instance, then the amount, day and hour it counted, so a
 * duplicate can be written to the history as what was counted, not as what the retry says.
 * Instance ids hold no tab (INSTANCE_ID's pattern). Markers of earlier versions hold the id alone.
 */
function markerOf(r: SpendRecord, hour: number): string {
  return `${r.instanceId}\t${r.spendMicros}\t${r.dayKey}\t${hour}`;
}

export function parseMarker(marker: string): CountedAs | null {
  const [instanceId, micros, dayKey, hour, ...rest] = marker.split('\t');
  if (instanceId === undefined || instanceId === '') return null;
  const spendMicros = Number(micros);
  const hourIndex = Number(hour);
  if (
    rest.length > 0 ||
    dayKey === undefined ||
    !Number.isSafeInteger(spendMicros) ||
    !Number.isInteger(hourIndex)
  )
    return { instanceId };
  return { instanceId, spendMicros, dayKey, hourIndex };
}

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
type ScriptedRedis = RedisClient & ScriptCommands;
type Pipe = ChainableCommander & ScriptCommands;

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** One node. Or give `topology` (Sentinel, Cluster); one of the two is required. */
  readonly url?: string;
  readonly topology?: RedisTopology;
  /** Prepended to every key; tests use a unique one. Must not contain '{' (it would steal the hash tag). */
  readonly keyPrefix?: string;
  /** How long an event id is remembered: a win notice retried later than this counts again. */
  readonly dedupTtlSeconds?: number;
  readonly dayTtlSeconds?: number;
}

export const DEFAULT_DEDUP_TTL_SECONDS = 3 * 86_400;
export const DEFAULT_DAY_TTL_SECONDS = 8 * 86_400;
/** Index sets the campaign ids are spread over (by hash slot of the id). */
export const INDEX_BUCKETS = 64;
/**
 * Commands per pipeline. Each command's timeout runs from when it is queued, so a pipeline must
 * be small enough for its last reply to come back in time even on a busy machine (one pipeline of
 * 600,000 reads timed out at its tail, and a server with 100,000 campaigns could not start).
 */
const PIPELINE_CHUNK = 1000;
/** WAIT gives up this long before the command timeout would cut it off. */
const WAIT_MARGIN_MS = 100;

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

const CLAIM_INSTANCE_LUA = `
-- KEYS: claim   ARGV: holder ("startedAtMs:bootId"), ttlMs
-- The older process keeps the id: after Redis lost the claim, the running holder takes it back
-- from a newcomer; a restart started before a duplicate takes it from the duplicate.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local theirs = tonumber(string.match(holder, '^(%d+):')) or 0
  local ours = tonumber(string.match(ARGV[1], '^(%d+):')) or 0
  if theirs < ours or (theirs == ours and holder < ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE_INSTANCE_LUA = `
-- KEYS: claim   ARGV: bootId
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** The claim key's value: start time first, so the Lua script can tell the older claimant. */
function claimHolder(claim: InstanceClaim): string {
  return `${Math.max(0, Math.trunc(claim.startedAtMs))}:${claim.bootId}`;
}

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
  /**
   * Replicas that must hold a spend or lease write before it counts: a primary that dies before
   * replicating would otherwise take acknowledged spend, or a lease another instance relies on,
   * with it when its replica is promoted.
   */
  private readonly waitReplicas: number;
  /** How long a write waits for its replicas before it counts as failed (and is retried). */
  private readonly waitTimeoutMs: number;
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
    const topology: RedisTopology | undefined =
      options.topology ??
      (options.url === undefined ? undefined : { kind: 'single', url: options.url, waitReplicas: 0 });
    if (topology === undefined) throw new RangeError('RedisStore needs a url or a topology');
    this.waitReplicas = topology.waitReplicas;
    this.waitTimeoutMs = Math.max(50, (options.commandTimeoutMs ?? 500) - WAIT_MARGIN_MS);
    const redis = createRedisClient(topology, options);
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
      // A Cluster reports an error when its first slots refresh fails and then retries by itself:
      // ending the wait there failed a fresh client's first command on a healthy cluster ("Cluster
      // isn't ready"). It is waited for until ready, ended, or twice the connect timeout.
      const cluster = isCluster(redis);
      const failed = cluster ? 'end' : 'error';
      const timer = cluster ? setTimeout(() => done(), 2 * (options.connectTimeoutMs ?? 1000)) : null;
      timer?.unref();
      const done = () => {
        this.attempted = true;
        if (timer !== null) clearTimeout(timer);
        redis.off('ready', done);
        redis.off(failed, done);
        redis.off('close', done);
        resolve();
      };
      redis.on('ready', done);
      redis.on(failed, done);
      if (!cluster) redis.on('close', done);
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

  private indexKey(campaignId: string): string {
    return `${this.prefix}{idx:${calculateSlot(campaignId) % INDEX_BUCKETS}}:campaigns`;
  }

  private legacyIndexKey(): string {
    return `${this.prefix}campaigns`;
  }

  /**
   * Runs `perItem` commands per item, in pipelines that each stay on one node (one group on a
   * single node; per node group of the key's slot on a Cluster), at most PIPELINE_CHUNK commands
   * each, and returns every item's replies in order. With `wait`, each pipeline ends with ROLE and
   * WAIT and fails unless min(waitReplicas, replicas connected) acknowledged it. Call after connected().
   */
  private async grouped<T>(
    what: string,
    items: readonly T[],
    keyOf: (item: T) => string,
    perItem: number,
    add: (p: Pipe, item: T) => void,
    wait = false,
  ): Promise<unknown[][]> {
    const redis = this.redis;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < items.length; i++) {
      let group = '';
      if (isCluster(redis)) {
        const slot = calculateSlot(keyOf(items[i]!));
        group = redis.slots[slot]?.join(',') ?? `slot:${slot}`;
      }
      const list = groups.get(group);
      if (list) list.push(i);
      else groups.set(group, [i]);
    }
    const perPipeline = Math.max(1, Math.floor(PIPELINE_CHUNK / perItem));
    const waitFor = wait ? this.waitReplicas : 0;
    const out: unknown[][] = new Array(items.length);
    const runTask = async (chunk: number[]) => {
      const p = redis.pipeline() as unknown as Pipe;
      for (const i of chunk) add(p, items[i]!);
      if (waitFor > 0) p.role().wait(waitFor, this.waitTimeoutMs);
      const v = replies(what, await p.exec());
      if (waitFor > 0) {
        // A primary whose replicas are all gone (its own replica was just promoted) cannot replicate:
        // it waits for the replicas it has, so the fleet keeps working until one returns.
        const role = v[v.length - 2] as [string, number, unknown[]];
        const needed = Math.min(waitFor, Array.isArray(role?.[2]) ? role[2].length : 0);
        const acked = Number(v[v.length - 1]);
        if (acked < needed)
          throw unavailable(what, new Error(`${acked} of ${needed} replicas acknowledged the write`));
        v.length -= 2;
      }
      chunk.forEach((item, k) => {
        out[item] = v.slice(k * perItem, (k + 1) * perItem);
      });
    };
    // One pipeline at a time per node (a second one would only queue behind it on the same
    // connection, eating its timeout); the nodes of a Cluster work in parallel.
    const perGroup = async (list: number[]) => {
      for (let i = 0; i < list.length; i += perPipeline) await runTask(list.slice(i, i + perPipeline));
    };
    await Promise.all([...groups.values()].map(perGroup));
    return out;
  }

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    return (await this.applySpendCountedBy(records)).map((v) => v === true);
  }

  /** A duplicate answers with what its marker says it was counted as. */
  async applySpendCountedBy(records: readonly SpendRecord[]): Promise<(true | CountedAs | null)[]> {
    if (records.length === 0) return [];
    const add = (p: Pipe, r: SpendRecord) => {
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
        markerOf(r, hour),
      );
    };
    let res: unknown[][];
    try {
      await this.connected();
      res = await this.grouped('applySpend', records, (r) => this.tag(r.campaignId), 1, add, true);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw unavailable('applySpend', err);
    }
    return res.map((v) => (v[0] === 1 ? true : parseMarker(String(v[0] ?? ''))));
  }

  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    if (requests.length === 0) return [];
    const add = (p: Pipe, q: LeaseRequest) => {
      const k = this.dayKeys(q.campaignId, q.dayKey);
      p.pacerAcquireLease(k.lease, k.lpi, q.requestMicros, q.budgetMicros, q.instanceId, this.dayTtlSeconds);
    };
    let res: unknown[][];
    try {
      await this.connected();
      // A grant the replicas never saw would be forgotten by a promoted replica, which could then
      // grant the same budget again: it counts only once replicated (else it is left unused).
      res = await this.grouped('acquireLeases', requests, (q) => this.tag(q.campaignId), 1, add, true);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw unavailable('acquireLeases', err);
    }
    return res.map((v) => Number(v[0]));
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

  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    if (refs.length === 0) return [];
    const add = (p: Pipe, ref: DayKeyRef) => {
      const k = this.dayKeys(ref.campaignId, ref.dayKey);
      p.get(k.day).hgetall(k.hour).get(k.lease).hgetall(k.lpi).hgetall(k.spi).get(k.total);
    };
    let res: unknown[][];
    try {
      await this.connected();
      res = await this.grouped('readDays', refs, (r) => this.tag(r.campaignId), 6, add);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw unavailable('readDays', err);
    }
    return res.map((v) => {
      const hours = v[1] as Record<string, string>;
      const hourSpentMicros = new Array<number>(HOUR_BUCKETS).fill(0);
      for (const [h, micros] of Object.entries(hours)) {
        const idx = Number(h);
        if (Number.isInteger(idx) && idx >= 0 && idx < HOUR_BUCKETS) hourSpentMicros[idx] = toInt(micros);
      }
      return {
        spentMicros: toInt(v[0] as string | null),
        hourSpentMicros,
        leasedMicros: toInt(v[2] as string | null),
        leasedByInstance: intHash(v[3] as Record<string, string>),
        spentByInstance: intHash(v[4] as Record<string, string>),
        totalSpentMicros: toInt(v[5] as string | null),
      };
    });
  }

  async putCampaign(campaign: Campaign): Promise<void> {
    try {
      await this.connected();
      await this.redis.set(`${this.tag(campaign.id)}:campaign`, JSON.stringify(campaign));
      await this.redis.sadd(this.indexKey(campaign.id), campaign.id);
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
      await this.redis.srem(this.indexKey(id), id);
      await this.redis.srem(this.legacyIndexKey(), id);
      return removed > 0;
    } catch (err) {
      throw unavailable('deleteCampaign', err);
    }
  }

  async listCampaigns(): Promise<Campaign[]> {
    let raws: (string | null)[];
    try {
      await this.connected();
      const indexKeys = [this.legacyIndexKey()];
      for (let b = 0; b < INDEX_BUCKETS; b++) indexKeys.push(`${this.prefix}{idx:${b}}:campaigns`);
      const members = await this.grouped(
        'listCampaigns',
        indexKeys,
        (k) => k,
        1,
        (p, k) => p.smembers(k),
      );
      const ids = [...new Set(members.flatMap((m) => m[0] as string[]))].sort();
      if (ids.length === 0) return [];
      // One GET per id rather than MGET: the keys live on different cluster slots.
      const got = await this.grouped(
        'listCampaigns',
        ids,
        (id) => this.tag(id),
        1,
        (p, id) => p.get(`${this.tag(id)}:campaign`),
      );
      raws = got.map((v) => v[0] as string | null);
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
      return (
        (await this.redis.pacerClaimInstance(this.claimKey(claim), claimHolder(claim), claim.ttlMs)) === 1
      );
    } catch (err) {
      throw unavailable('claimInstance', err);
    }
  }

  async releaseInstance(claim: InstanceClaim): Promise<void> {
    try {
      await this.connected();
      await this.redis.pacerReleaseInstance(this.claimKey(claim), claimHolder(claim));
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
