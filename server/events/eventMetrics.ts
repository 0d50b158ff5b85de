import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventsHealth } from './eventsHealth';

/**
 * Prometheus series of the event pipeline, read from its health at scrape time. Alert on
 * pacer_events_consumer_lag growing: events are taken but not reaching the history store.
 */
export function registerEventMetrics(registry: Registry, health: () => EventsHealth): void {
  new Gauge({
    name: 'pacer_events_consumer_lag',
    help: 'Events in the stream not yet written to the history store: undelivered plus pending (all consumers).',
    registers: [registry],
    collect() {
      const h = health();
      this.set(h.undelivered + h.pending);
    },
  });
  new Gauge({
    name: 'pacer_events_pending',
    help: 'Events delivered to a consumer and not yet acknowledged (a batch in flight, or held by a dead consumer).',
    registers: [registry],
    collect() {
      this.set(health().pending);
    },
  });
  const seen = { ingested: 0, duplicates: 0, aggregated: 0 };
  const counter = (name: string, help: string, read: (h: EventsHealth) => number, key: keyof typeof seen) => {
    const c: Counter = new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read(health());
        if (now > seen[key]) c.inc(now - seen[key]);
        seen[key] = now;
      },
    });
  };
  counter(
    'pacer_events_ingested_total',
    'Events this instance took in as new.',
    (h) => h.ingested,
    'ingested',
  );
  counter(
    'pacer_events_duplicates_total',
    'Events this instance was sent again (already counted).',
    (h) => h.duplicates,
    'duplicates',
  );
  counter(
    'pacer_events_aggregated_total',
    "Events this instance's consumer wrote to the history store.",
    (h) => h.aggregated,
    'aggregated',
  );
}
