import type { Clock, Timers } from '../runtime/time';
import type { EventRecords } from './eventRecords';
import { MAX_EVENT_AGE_MS } from './eventStamp';

/**
 * Event ids are kept for dedup this long: an event older than MAX_EVENT_AGE_MS is refused at the
 * edge, and a batch is re-delivered within minutes of a crash, so 8 days (with the day keys of any
 * time zone) can never drop an id that could still arrive.
 */
export const KEEP_EVENT_IDS_MS = MAX_EVENT_AGE_MS + 5 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/** Deletes old event ids every hour, so ad_events does not grow by one row per event forever. */
export function startEventPruner(o: {
  readonly records: EventRecords;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: { warn(obj: object, msg: string): void };
}): () => void {
  return o.timers.every(PRUNE_EVERY_MS, () => {
    const before = new Date(o.clock.nowMs() - KEEP_EVENT_IDS_MS).toISOString().slice(0, 10);
    o.records.pruneBefore(before).catch((err: unknown) => {
      // Harmless to skip: the next hour tries again, and dedup only grows stricter meanwhile.
      o.log.warn({ err }, 'event ids not pruned; retrying in an hour');
    });
  });
}
