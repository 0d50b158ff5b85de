/** What the event pipeline reports in /health and the metrics. */
export interface EventsHealth {
  /** Where POST /events writes: a Redis Stream read by the consumer group, or the records directly (embedded). */
  readonly log: 'redis-stream' | 'records';
  readonly ingested: number;
  readonly duplicates: number;
  /** Appended and not yet delivered to a consumer. */
  readonly undelivered: number;
  /** Delivered and not yet acknowledged. */
  readonly pending: number;
  /** Events this instance's consumer wrote to the history store. */
  readonly aggregated: number;
  readonly lastError: { readonly message: string; readonly atMs: number } | null;
}
