import { type BreakerMode, DEFAULT_BREAKER_CONFIG } from '../core/breaker';
import { type PacerConfig, pacerConfig } from '../core/config';
import { CONFIG_VARIABLES, LOG_LEVELS, readServerEnv } from './configSchema';
import { ConfigError } from './errors';
import { type RedisTopology, readRedisTopology } from './store/redisTopology';
import { readWorkers } from './workers';

export { CONFIG_VARIABLES, LOG_LEVELS };
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The server's settings, read once from the environment at start, validated and frozen. */
export interface ServerConfig {
  /** null: run on the embedded in-process store; nothing survives a restart. */
  readonly redis: RedisTopology | null;
  /** REDIS_URL when the topology is a single node, else null. */
  readonly redisUrl: string | null;
  /** Server processes on this host (node:cluster), each its own instance. */
  readonly workers: number;
  readonly port: number;
  readonly host: string;
  /** null: every route is open (the server says so at start). */
  readonly apiKey: string | null;
  /** A second key that may only read (GET routes, the dashboard, the WebSocket); needs apiKey. */
  readonly apiReadKey: string | null;
  readonly journalDir: string;
  readonly instanceId: string;
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  /** How long graceful shutdown waits for in-flight requests before closing anyway. */
  readonly shutdownGraceMs: number;
  readonly pacer: PacerConfig;
  /** null: the records (registry, audit, history) live in PGlite under dataDir. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  /** null: no traffic recording. */
  readonly recordDir: string | null;
  /** Share of requests recorded (by a hash of the request id), 0..1. */
  readonly recordSample: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the environment once, against the one schema of every variable (server/configSchema.ts),
 * then checks what spans variables. Collects every problem before failing, so a bad deployment is
 * fixed in one round rather than one variable at a time.
 */
export function loadConfig(env: Env, defaults: { instanceId: string }): ServerConfig {
  const problems: string[] = [];
  const v = readServerEnv(env, problems);
  const redis = readRedisTopology(v, problems);
  const workers = readWorkers(v.WORKERS, problems);
  const apiKey = v.API_KEY ?? null;
  const apiReadKey = v.API_READ_KEY ?? null;
  if (apiReadKey !== null && apiKey === null) {
    problems.push('API_READ_KEY is set but API_KEY is not: set API_KEY too, or every route stays open.');
  } else if (apiReadKey !== null && apiReadKey === apiKey) {
    problems.push('API_READ_KEY must differ from API_KEY, or it grants writing too.');
  }
  const instanceId = v.INSTANCE_ID ?? defaults.instanceId;
  if (v.INSTANCE_ID === undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(instanceId)) {
    problems.push(`the default instance id "${instanceId}" is not a valid INSTANCE_ID: set INSTANCE_ID.`);
  } else if (instanceId in Object.prototype) {
    // Instance ids key per-instance spend and leases; a name JavaScript objects already carry is
    // refused outright rather than trusted to every map the id passes through.
    problems.push(`INSTANCE_ID="${instanceId}" is a reserved name; pick another.`);
  }

  let pacer: PacerConfig | undefined;
  const breaker = {
    ...DEFAULT_BREAKER_CONFIG,
    mode: v.BREAKER_MODE as BreakerMode,
    tripRatio: v.BREAKER_TRIP_RATIO,
    cooldownMs: v.BREAKER_COOLDOWN_MS,
    probeCount: v.BREAKER_PROBE_COUNT,
    recoveredThrottle: v.BREAKER_RECOVERED_THROTTLE,
  };
  try {
    pacer = pacerConfig({
      breaker: Object.freeze(breaker),
      tickMs: v.PACING_TICK_MS,
      catchUpTicks: v.PACING_CATCH_UP_TICKS,
      reservationTtlMs: v.RESERVATION_TTL_MS,
      degradedThrottle: v.DEGRADED_THROTTLE,
    });
  } catch (err) {
    problems.push((err as Error).message);
  }

  const recordDir = v.RECORD_DIR ?? null;
  if (recordDir === null && env.RECORD_SAMPLE?.trim())
    problems.push('RECORD_SAMPLE is set but RECORD_DIR is not: set RECORD_DIR too, or nothing is recorded.');

  if (problems.length > 0 || pacer === undefined) throw new ConfigError(problems);
  return Object.freeze({
    redis,
    redisUrl: redis?.kind === 'single' ? redis.url : null,
    workers,
    port: v.PORT,
    host: v.HOST,
    apiKey,
    apiReadKey,
    journalDir: v.JOURNAL_DIR,
    instanceId,
    logLevel: v.LOG_LEVEL as LogLevel,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    pacer,
    databaseUrl: v.DATABASE_URL ?? null,
    dataDir: v.DATA_DIR,
    recordDir,
    recordSample: v.RECORD_SAMPLE,
  });
}
