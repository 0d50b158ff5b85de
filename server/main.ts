import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { buildApp } from './app';
import { CONFIG_VARIABLES, type ServerConfig, loadConfig } from './config';
import { CONFIG_EXIT_CODE, ConfigError, InstanceIdInUseError } from './errors';
import { type EventPipeline, directPipeline, streamPipeline } from './events/eventPipeline';
import { RedisFrequencyCounter } from './frequency/redisFrequencyCounter';
import { TrafficRecorder } from './recording/trafficRecorder';
import { deferredLogger, openRecordsOrExit, recordedParts } from './records/recordedRuntime';
import { createRuntime } from './runtime/runtime';
import { type Clock, intervalTimers, monotonicClock } from './runtime/time';
import { EmbeddedStore } from './store/embeddedStore';
import { FileJournal } from './store/journal';
import { createRedisClient } from './store/redisClient';
import { DEFAULT_DEDUP_TTL_SECONDS, RedisStore } from './store/redisStore';
import type { RedisTopology } from './store/redisTopology';
import { superviseWorkers } from './workers';

/**
 * The process: reads the environment once, wires store, journal, clock and timers into the
 * runtime, listens, and shuts down gracefully. The only place the wall clock becomes a Clock.
 */
const clock: Clock = monotonicClock(() => Date.now());

function readConfig(): ServerConfig {
  try {
    // Embedded, one process owns DATA_DIR: a stable id finds its journal again after a kill -9.
    const instanceId = process.env.REDIS_URL ? `${hostname()}-${process.pid}` : hostname();
    return loadConfig(process.env, { instanceId });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n\nThe server reads:\n`);
    for (const [name, meaning] of Object.entries(CONFIG_VARIABLES)) {
      process.stderr.write(`  ${name.padEnd(28)} ${meaning}\n`);
    }
    process.exit(CONFIG_EXIT_CODE);
  }
}

/** Frequency caps shared by the fleet: a connection of their own, so a slow cap read never queues behind spend. */
function redisFrequencyCounter(topology: RedisTopology): RedisFrequencyCounter {
  const client = createRedisClient(topology);
  // Failures surface as rejected reads (capped campaigns then sit requests out); no log per retry.
  client.on('error', () => {});
  client.on('node error', () => {});
  return new RedisFrequencyCounter(client, { ownsClient: true });
}

async function main(): Promise<void> {
  const config = readConfig();
  if (config.workers > 1 && cluster.isPrimary) {
    superviseWorkers(config.workers, config.instanceId, {
      info: (msg) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`),
      error: (msg) => process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), msg })}\n`),
    });
    return;
  }
  const redis = config.redis;
  // The records know one hot store by its URL (the generation marker is a connection of its own):
  // with Sentinel or Cluster they would act as if embedded and miscount, so such a fleet runs
  // without them for now (README says so): Redis alone holds campaigns and spend, as before.
  // Workers without DATABASE_URL would each open a PGlite of their own beside one Redis: the same
  // split registry as separate hosts without it, so they run on Redis alone too.
  const withRecords =
    (redis === null || config.redisUrl !== null) && !(config.workers > 1 && config.databaseUrl === null);
  // The system of record first: a database that cannot be reached or migrated exits 78 here.
  const records = withRecords ? await openRecordsOrExit(config) : null;
  const store = redis === null ? new EmbeddedStore() : new RedisStore({ topology: redis });
  // The journal keeps spend while the store (Redis, or PGlite when embedded) refuses it.
  const journal = await FileJournal.open({ dir: config.journalDir, instanceId: config.instanceId });
  const recordsLog = deferredLogger();
  const recorded =
    records === null
      ? null
      : recordedParts({
          ...config,
          records,
          inner: store,
          clock,
          timers: intervalTimers,
          log: recordsLog,
        });

  // Events are aggregated into the records, so they exist only where the records do.
  let events: EventPipeline | null = null;
  if (records !== null) {
    events =
      redis === null
        ? directPipeline({ db: records.db, clock, timers: intervalTimers, log: recordsLog })
        : streamPipeline({
            db: records.db,
            // A connection of its own: a batch of 1,000 events must not queue behind the decision path.
            redis: createRedisClient(redis, { commandTimeoutMs: 5000 }),
            keyPrefix: 'pacer:',
            dedupTtlSeconds: DEFAULT_DEDUP_TTL_SECONDS,
            consumer: config.instanceId,
            clock,
            timers: intervalTimers,
            log: recordsLog,
          });
  }

  let stopForConflict: (err: Error) => void = () => {};
  const app = await buildApp(config, {
    runtime: (log) => {
      recordsLog.bind(log);
      const runtime = createRuntime({
        store: recorded?.store ?? store,
        journal,
        clock,
        timers: intervalTimers,
        instanceId: config.instanceId,
        config: config.pacer,
        log,
        storeKind: redis === null ? 'embedded' : 'redis',
        bootId: randomUUID(),
        onFatal: (err) => stopForConflict(err),
        ...(recorded === null ? {} : { onDecision: recorded.onDecision }),
      });
      recorded?.attach(runtime);
      return runtime;
    },
    ...(recorded === null ? {} : { records: recorded.access }),
    ...(config.recordDir !== null && {
      recorder: new TrafficRecorder({
        dir: config.recordDir,
        sample: config.recordSample,
        instanceId: config.instanceId,
        clock,
        timers: intervalTimers,
      }),
    }),
    ...(redis === null ? {} : { frequency: redisFrequencyCounter(redis) }),
    ...(events === null ? {} : { events }),
  });
  if (recorded !== null && records !== null) {
    await recorded.init();
    app.log.info({ records: records.where, generation: recorded.store.health().generation }, 'records ready');
  } else {
    app.log.warn(
      config.redisUrl === null
        ? 'Redis Sentinel or Cluster: running without the PostgreSQL system of record (not yet supported on these topologies); Redis alone holds campaigns and spend.'
        : `WORKERS=${config.workers} without DATABASE_URL: running without the system of record (each worker would open a PGlite of its own); Redis alone holds campaigns and spend. Set DATABASE_URL to keep them in PostgreSQL.`,
    );
  }
  if (redis === null) {
    app.log.warn(
      `REDIS_URL is not set: running on the embedded store. Campaigns and spend persist in PGlite under ${config.dataDir}; instances do not share budgets.`,
    );
  }
  if (config.recordDir !== null) {
    app.log.info({ dir: config.recordDir, sample: config.recordSample }, 'recording traffic');
  }
  if (config.apiKey === null) {
    app.log.warn('API_KEY is not set: write routes accept requests without authentication.');
  }

  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) {
      app.log.warn({ signal }, 'already shutting down');
      return;
    }
    shuttingDown = true;
    app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining requests');
    // Past the grace period, cut open connections so close() can go on to flush spend: dropping a
    // slow client is better than losing the spend the runtime still holds.
    const force = setTimeout(() => {
      app.log.warn('grace period over: closing remaining connections');
      app.server.closeAllConnections();
    }, config.shutdownGraceMs);
    force.unref();
    // A repair begun now would outlive the connections it needs (see RecordedStore.stopRepairs).
    void recorded?.store.stopRepairs();
    try {
      await app.close();
      app.log.info('shut down cleanly: spend flushed');
      process.exit(process.exitCode ?? 0);
    } catch (err) {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  // Another process took this INSTANCE_ID: flush and stop, with the code of a bad deployment.
  stopForConflict = () => {
    process.exitCode = CONFIG_EXIT_CODE;
    void shutdown('instance id conflict');
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A worker whose primary is gone (killed) would serve on alone, unmanaged: it stops instead.
  if (cluster.isWorker) process.on('disconnect', () => void shutdown('primary gone'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    if (err instanceof InstanceIdInUseError) {
      process.stderr.write(`${err.message}\n`);
      await app.close().catch(() => undefined);
      process.exit(CONFIG_EXIT_CODE);
    }
    app.log.error({ err }, 'could not start listening');
    await app.close().catch(() => undefined);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
