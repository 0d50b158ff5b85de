import { type Static, Type } from '@sinclair/typebox';
import type { EventsHealth } from './eventsHealth';

/** The `events` part of GET /health. */
export const EventsHealthJson = Type.Object({
  log: Type.String({
    description: 'redis-stream (consumer group) or records (embedded: written in the request).',
  }),
  consumer_lag: Type.Integer({
    description: 'Events taken in and not yet in the history store (undelivered + pending), all consumers.',
  }),
  undelivered: Type.Integer(),
  pending: Type.Integer({ description: 'Delivered, not yet acknowledged.' }),
  ingested: Type.Integer({ description: 'New events this instance took in.' }),
  duplicates: Type.Integer(),
  aggregated: Type.Integer({ description: "Events this instance's consumer wrote to the history store." }),
  last_error: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
  last_error_at: Type.Unsafe<string | null>({ type: 'string', nullable: true }),
});

export function eventsHealthToJson(h: EventsHealth): Static<typeof EventsHealthJson> {
  return {
    log: h.log,
    consumer_lag: h.undelivered + h.pending,
    undelivered: h.undelivered,
    pending: h.pending,
    ingested: h.ingested,
    duplicates: h.duplicates,
    aggregated: h.aggregated,
    last_error: h.lastError?.message ?? null,
    last_error_at: h.lastError === null ? null : new Date(h.lastError.atMs).toISOString(),
  };
}
