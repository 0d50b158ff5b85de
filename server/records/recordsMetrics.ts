import { Counter, Gauge, type Registry } from 'prom-client';
import type { RecordsHealth } from './recordedStore';

/**
 * Prometheus series of the records layer, read from the store's health at scrape time: alert on
 * pacer_records_postgres_healthy == 0 (history is queueing) and on any increase of
 * pacer_store_data_loss_total (the hot store lost its data and was re-seeded).
 */
export function registerRecordsMetrics(registry: Registry, health: () => RecordsHealth): void {
  new Gauge({
    name: 'pacer_records_postgres_healthy',
    help: '1 while PostgreSQL takes writes, 0 while they fail (history queues in memory and spills to disk).',
    registers: [registry],
    collect() {
      this.set(health().postgresHealthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pacer_records_history_queued',
    help: 'Spend records counted but not yet written to PostgreSQL (memory and spill files).',
    registers: [registry],
    collect() {
      this.set(health().history?.queuedRecords ?? 0);
    },
  });
  let lossSeen = 0;
  const loss = new Counter({
    name: 'pacer_store_data_loss_total',
    help: 'Times this instance found the hot store without its generation marker (data lost).',
    registers: [registry],
    collect() {
      const now = health().dataLossDetected;
      if (now > lossSeen) loss.inc(now - lossSeen);
      lossSeen = now;
    },
  });
  let repairsSeen = 0;
  const repairs = new Counter({
    name: 'pacer_store_repairs_total',
    help: 'Repairs this instance ran: the hot store re-seeded from PostgreSQL.',
    registers: [registry],
    collect() {
      const now = health().repairsRun;
      if (now > repairsSeen) repairs.inc(now - repairsSeen);
      repairsSeen = now;
    },
  });
}
