import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordingStats } from './trafficRecorder';

/** A counter that follows a monotonic total read at scrape time. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  const c: Counter = new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) c.inc(now - seen);
      seen = now;
    },
  });
}

/**
 * Prometheus series of the traffic recording: alert on any increase of
 * pacer_recording_rows_dropped_total (the disk cannot keep up: the recording has holes) or
 * pacer_recording_rows_lost_total (writes fail: /health's recording.last_error says why).
 */
export function registerRecordingMetrics(registry: Registry, stats: () => RecordingStats): void {
  totalCounter(
    registry,
    'pacer_recording_rows_written_total',
    'Traffic rows (decisions, win notices) written to the recording.',
    () => stats().rowsWritten,
  );
  totalCounter(
    registry,
    'pacer_recording_rows_dropped_total',
    'Traffic rows dropped because the in-memory recording buffer was full.',
    () => stats().rowsDropped,
  );
  totalCounter(
    registry,
    'pacer_recording_rows_lost_total',
    'Traffic rows lost because writing them to the recording directory failed.',
    () => stats().rowsLost,
  );
  new Gauge({
    name: 'pacer_recording_rows_buffered',
    help: 'Traffic rows waiting in memory for the next recording write.',
    registers: [registry],
    collect() {
      this.set(stats().rowsBuffered);
    },
  });
}
