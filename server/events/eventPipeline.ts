import type { SqlClient } from '../records/sqlClient';
import type { Clock, Timers } from '../runtime/time';
import type { RedisClient } from '../store/redisClient';
import { type AdEvent, type ImpressionsHook, impressionItems, noImpressionsHook } from './adEvent';
import { EventConsumer } from './eventConsumer';
import { startEventPruner } from './eventPruner';
import { EventRecords } from './eventRecords';
import { EventStream } from './eventStream';
import type { EventsHealth } from './eventsHealth';

/** The event pipeline as the HTTP layer and the app see it. */
export interface EventPipeline {
  readonly records: EventRecords;
  /** Counts each event once by (campaign, event id); true per event that was new. */
  ingest(events: readonly AdEvent[]): Promise<boolean[]>;
  /** The frequency caps' listener (default: none). Called with impressions that carry a user id, once each. */
  setOnImpressions(hook: ImpressionsHook): void;
  health(): EventsHealth;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Counters {
  ingested: number;
  duplicates: number;
}

function count(c: Counters, fresh: readonly boolean[]): void {
  for (const f of fresh) {
    if (f) c.ingested++;
    else c.duplicates++;
  }
}

/**
 * Embedded (no Redis): the records (PGlite under DATA_DIR) are the durable log. An event is
 * written in the request, before it is acknowledged to the sender, exactly as embedded spend is:
 * a crash before the commit loses nothing the sender was told was counted.
 */
export function directPipeline(o: {
  readonly db: SqlClient;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: { warn(obj: object, msg: string): void };
  /** The frequency caps' listener; default none (setOnImpressions can set it later). */
  readonly onImpressions?: ImpressionsHook;
}): EventPipeline {
  const records = new EventRecords(o.db);
  const c: Counters = { ingested: 0, duplicates: 0 };
  let hook: ImpressionsHook = o.onImpressions ?? noImpressionsHook;
  let stopPruner = () => {};
  return {
    records,
    async ingest(events) {
      const fresh = await records.record(events, o.clock.nowMs());
      count(c, fresh);
      // Every impression, not only fresh ones: a sender retrying after a failed hook gets its
      // exposures counted then (idempotently), as the stream consumer's re-delivery does.
      const items = impressionItems(events);
      if (items.length > 0) await hook(items);
      return fresh;
    },
    setOnImpressions(h) {
      hook = h;
    },
    health: () => ({
      log: 'records',
      ...c,
      undelivered: 0,
      pending: 0,
      aggregated: c.ingested,
      lastError: null,
    }),
    start: async () => {
      stopPruner = startEventPruner({ records, clock: o.clock, timers: o.timers, log: o.log });
    },
    close: async () => stopPruner(),
  };
}

/**
 * With Redis: POST /events appends to the partitioned stream (deduplicated there within the
 * dedup window), and this instance's consumer aggregates into PostgreSQL.
 */
export function streamPipeline(o: {
  readonly db: SqlClient;
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  readonly dedupTtlSeconds: number;
  readonly consumer: string;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: { warn(obj: object, msg: string): void };
  readonly claimIdleMs?: number;
  readonly batchSize?: number;
  /** The frequency caps' listener; default none (setOnImpressions can set it later). */
  readonly onImpressions?: ImpressionsHook;
}): EventPipeline {
  const records = new EventRecords(o.db);
  const stream = new EventStream(o.redis, { prefix: o.keyPrefix, dedupTtlSeconds: o.dedupTtlSeconds });
  const c: Counters = { ingested: 0, duplicates: 0 };
  let hook: ImpressionsHook = o.onImpressions ?? noImpressionsHook;
  let stopPruner = () => {};
  const consumer = new EventConsumer({
    stream,
    records,
    consumer: o.consumer,
    clock: o.clock,
    timers: o.timers,
    onImpressions: () => hook,
    log: o.log,
    ...(o.claimIdleMs === undefined ? {} : { claimIdleMs: o.claimIdleMs }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
  });
  return {
    records,
    async ingest(events) {
      const fresh = await stream.append(events);
      count(c, fresh);
      return fresh;
    },
    setOnImpressions(h) {
      hook = h;
    },
    health: () => ({ log: 'redis-stream', ...c, ...consumer.health() }),
    start: async () => {
      consumer.start();
      stopPruner = startEventPruner({ records, clock: o.clock, timers: o.timers, log: o.log });
    },
    async close() {
      stopPruner();
      await consumer.close();
      o.redis.disconnect();
    },
  };
}
