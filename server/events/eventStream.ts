import { StoreUnavailableError } from '../../core/store';
import type { RedisClient } from '../store/redisClient';
import { AD_EVENT_TYPES, type AdEvent, type AdEventType } from './adEvent';
import { CONSUMER_GROUP, STREAM_PARTITIONS, partitionOf, seenKey, streamKey } from './eventKeys';

/**
 * Checks each event id and appends the new ones to the partition's stream in one step, so an
 * event is either in the log and marked seen, or neither: a retry after a timeout can neither
 * lose it nor add it twice.
 */
const APPEND_LUA = `
-- KEYS: stream, seen_1..seen_n   ARGV: dedupTtlS, then one encoded entry per event
local ttl = ARGV[1]
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/** One stream entry as read back: `event` is null when the entry was deleted while pending. */
export interface StreamEntry {
  readonly id: string;
  readonly event: AdEvent | null;
}

export interface StreamStats {
  /** Entries appended and not yet delivered to any consumer. */
  readonly undelivered: number;
  /** Entries delivered and not yet acknowledged (in a batch being written, or held by a dead consumer). */
  readonly pending: number;
}

type RawEntry = [id: string, fields: string[] | null];
type AppendingRedis = RedisClient & {
  pacerAppendEvents(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

const TYPES = new Set<string>(AD_EVENT_TYPES);

/**
 * One entry holds one field, the event as a JSON array: a seventh of the arguments and fields of
 * one field per value (the client's encoding was most of an append's CPU), and JSON escapes any
 * character an event id may hold.
 */
export function encodeEvent(e: AdEvent): string {
  return JSON.stringify([e.eventId, e.type, e.campaignId, e.userId, e.atMs, e.dayKey, e.hourIndex, e.bidId]);
}

/** Rebuilds an event from its stream fields; null for anything this version did not write. */
export function decodeFields(fields: readonly string[] | null): AdEvent | null {
  if (fields === null || fields[0] !== 'e' || fields[1] === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(fields[1]);
  } catch {
    return null;
  }
  // Seven elements: written before impressions carried their bid id.
  if (!Array.isArray(v) || (v.length !== 7 && v.length !== 8)) return null;
  const [eventId, type, campaignId, userId, atMs, dayKey, hourIndex, bidId = null] = v as unknown[];
  if (typeof eventId !== 'string' || typeof campaignId !== 'string' || typeof dayKey !== 'string')
    return null;
  if (typeof type !== 'string' || !TYPES.has(type)) return null;
  if (!Number.isSafeInteger(atMs) || !Number.isInteger(hourIndex)) return null;
  if (userId !== null && typeof userId !== 'string') return null;
  if (bidId !== null && typeof bidId !== 'string') return null;
  return {
    eventId,
    type: type as AdEventType,
    campaignId,
    userId: userId as string | null,
    atMs: atMs as number,
    dayKey,
    hourIndex: hourIndex as number,
    bidId: bidId as string | null,
  };
}

function unavailable(what: string, cause: unknown): StoreUnavailableError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StoreUnavailableError(`redis ${what} failed: ${detail}`, { cause, reason: 'STORE_ERROR' });
}

/** The event log on Redis Streams: appends with dedup, and the consumer group's reads and acks. */
export class EventStream {
  private readonly redis: AppendingRedis;

  constructor(
    redis: RedisClient,
    private readonly opts: { readonly prefix: string; readonly dedupTtlSeconds: number },
  ) {
    redis.defineCommand('pacerAppendEvents', { lua: APPEND_LUA });
    this.redis = redis as AppendingRedis;
  }

  key(partition: number): string {
    return streamKey(this.opts.prefix, partition);
  }

  /** Appends the events not seen before (per campaign, within the dedup window); true per new event. */
  async append(events: readonly AdEvent[]): Promise<boolean[]> {
    const byPartition = new Map<number, number[]>();
    events.forEach((e, i) => {
      const p = partitionOf(e.campaignId);
      const list = byPartition.get(p);
      if (list === undefined) byPartition.set(p, [i]);
      else list.push(i);
    });
    const out = new Array<boolean>(events.length).fill(false);
    try {
      await Promise.all(
        [...byPartition].map(async ([p, idx]) => {
          const keys = [
            this.key(p),
            ...idx.map((i) => seenKey(this.opts.prefix, p, events[i]!.campaignId, events[i]!.eventId)),
          ];
          const args: (string | number)[] = [this.opts.dedupTtlSeconds];
          for (const i of idx) args.push(encodeEvent(events[i]!));
          const res = await this.redis.pacerAppendEvents(keys.length, ...keys, ...args);
          idx.forEach((i, k) => {
            out[i] = res[k] === 1;
          });
        }),
      );
    } catch (err) {
      throw unavailable('event append', err);
    }
    return out;
  }

  /** Creates the consumer group on every partition (from the start of each stream), if missing. */
  async ensureGroups(): Promise<void> {
    for (let p = 0; p < STREAM_PARTITIONS; p++) {
      try {
        await this.redis.xgroup('CREATE', this.key(p), CONSUMER_GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
      }
    }
  }

  /**
   * Up to `count` entries for `consumer`: new ones, or (`own`) those already delivered to it and
   * not acknowledged, which a restarted consumer must finish first.
   */
  async read(partition: number, consumer: string, count: number, own: boolean): Promise<StreamEntry[]> {
    const res = (await this.redis.xreadgroup(
      'GROUP',
      CONSUMER_GROUP,
      consumer,
      'COUNT',
      count,
      'STREAMS',
      this.key(partition),
      own ? '0' : '>',
    )) as [string, RawEntry[]][] | null;
    return (res?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, event: decodeFields(fields) }));
  }

  /**
   * Takes over entries another consumer has held longer than `minIdleMs` (it died mid-batch), up
   * to `count` from `cursor` on; `next` is where to go on, '0-0' when the scan is complete.
   */
  async claim(
    partition: number,
    consumer: string,
    minIdleMs: number,
    count: number,
    cursor = '0-0',
  ): Promise<{ next: string; entries: StreamEntry[] }> {
    const res = (await this.redis.xautoclaim(
      this.key(partition),
      CONSUMER_GROUP,
      consumer,
      minIdleMs,
      cursor,
      'COUNT',
      count,
    )) as [string, RawEntry[], string[]?];
    return { next: res[0], entries: res[1].map(([id, fields]) => ({ id, event: decodeFields(fields) })) };
  }

  /**
   * Acknowledges entries whose events are committed, and deletes them: the stream holds only what
   * is not yet in the history store. A crash between the two leaves an acknowledged entry behind,
   * which is never delivered again and costs only its memory.
   */
  async ack(partition: number, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const key = this.key(partition);
    await this.redis.xack(key, CONSUMER_GROUP, ...ids);
    await this.redis.xdel(key, ...ids);
  }

  /** Undelivered and pending entries over all partitions (XINFO GROUPS; Redis 7). */
  async stats(): Promise<StreamStats> {
    let undelivered = 0;
    let pending = 0;
    for (let p = 0; p < STREAM_PARTITIONS; p++) {
      const groups = (await this.redis.xinfo('GROUPS', this.key(p))) as unknown[][];
      for (const g of groups) {
        const f = new Map<string, unknown>();
        for (let i = 0; i + 1 < g.length; i += 2) f.set(String(g[i]), g[i + 1]);
        if (f.get('name') !== CONSUMER_GROUP) continue;
        const held = Number(f.get('pending') ?? 0);
        pending += held;
        const lag = f.get('lag');
        // Redis leaves lag null when it cannot tell; acknowledged entries are deleted, so the
        // stream's length less what is pending is what is still to deliver.
        undelivered +=
          lag === null || lag === undefined
            ? Math.max(0, (await this.redis.xlen(this.key(p))) - held)
            : Number(lag);
      }
    }
    return { undelivered, pending };
  }
}
