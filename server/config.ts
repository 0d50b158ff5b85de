import { BREAKER_MODES, type BreakerMode, DEFAULT_BREAKER_CONFIG } from '../core/breaker';
import { type PacerConfig, pacerConfig } from '../core/config';
import { ConfigError } from './errors';
import { REDIS_TOPOLOGY_VARIABLES, type RedisTopology, readRedisTopology } from './store/redisTopology';
import { WORKERS_VARIABLE, readWorkers } from './workers';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
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

/** Every variable the server reads, with what it means: printed with a config error. */
export const CONFIG_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  REDIS_URL: 'redis://host:6379/0 of the shared store; unset runs on the embedded in-memory store',
  ...REDIS_TOPOLOGY_VARIABLES,
  WORKERS: WORKERS_VARIABLE,
  PORT: 'TCP port to listen on (default 8080)',
  HOST: 'address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)',
  API_KEY:
    'bearer token required by every route but /health*, /metrics and /docs (decisions included); unset leaves them open',
  API_READ_KEY: 'optional second key for read-only routes, the dashboard and the WebSocket (needs API_KEY)',
  JOURNAL_DIR: 'directory for the spend journal kept while Redis is down (default ./journal)',
  INSTANCE_ID: 'name of this instance in leases and journals (default: host name and pid)',
  LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')} (default info)`,
  BODY_LIMIT_BYTES: 'largest request body accepted (default 65536)',
  SHUTDOWN_GRACE_MS: 'longest wait for in-flight requests at shutdown (default 10000)',
  BREAKER_MODE: `${BREAKER_MODES.join(' or ')}: keep bidding while reservations fit, or trip at the ratio (default ${DEFAULT_BREAKER_CONFIG.mode})`,
  BREAKER_TRIP_RATIO: `share of the daily budget that opens the breaker (default ${DEFAULT_BREAKER_CONFIG.tripRatio})`,
  BREAKER_COOLDOWN_MS: `time OPEN before probing (default ${DEFAULT_BREAKER_CONFIG.cooldownMs})`,
  BREAKER_PROBE_COUNT: `probe bids let through HALF_OPEN (default ${DEFAULT_BREAKER_CONFIG.probeCount})`,
  BREAKER_RECOVERED_THROTTLE: `throttle floor after recovery (default ${DEFAULT_BREAKER_CONFIG.recoveredThrottle})`,
  PACING_TICK_MS: 'how often the controller re-plans (default 60000)',
  PACING_CATCH_UP_TICKS: 'ticks over which the controller closes a gap (default 10)',
  RESERVATION_TTL_MS: 'how long an allowed bid holds budget without a win notice (default 120000)',
  DEGRADED_THROTTLE: 'throttle floor while the store is unreachable (default 0.5)',
  DATABASE_URL: 'postgres://user:pass@host:5432/db of the system of record; unset runs PGlite under DATA_DIR',
  DATA_DIR: 'directory of the embedded database (PGlite) when DATABASE_URL is unset (default ./data)',
  RECORD_DIR:
    'directory for hourly traffic recordings (decisions, win notices; see docs/recording.md); unset records nothing',
  RECORD_SAMPLE: 'share of requests recorded, 0 to 1, sampled by request id (default 1); needs RECORD_DIR',
});

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the environment once. Collects every problem before failing, so a bad deployment is
 * fixed in one round rather than one variable at a time.
 */
export function loadConfig(env: Env, defaults: { instanceId: string }): ServerConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(
        `${name}="${raw}" must be a whole number from ${min} to ${max}: ${CONFIG_VARIABLES[name]}.`,
      );
      return fallback;
    }
    return n;
  };
  const ratio = (name: string, fallback: number, inclusiveMin: boolean): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n > 1 || (inclusiveMin ? n < 0 : n <= 0)) {
      problems.push(
        `${name}="${raw}" must be a number ${inclusiveMin ? 'from 0' : 'above 0 and up'} to 1: ${CONFIG_VARIABLES[name]}.`,
      );
      return fallback;
    }
    return n;
  };

  const redis = readRedisTopology(env, problems);
  const workers = readWorkers(str('WORKERS'), problems);
  const port = int('PORT', 8080, 0, 65535);
  const host = str('HOST') ?? '127.0.0.1';
  const apiKey = str('API_KEY') ?? null;
  if (apiKey !== null && apiKey.length < 16) {
    problems.push('API_KEY must be at least 16 characters long; a short key is guessable.');
  }
  const apiReadKey = str('API_READ_KEY') ?? null;
  if (apiReadKey !== null && apiKey === null) {
    problems.push('API_READ_KEY is set but API_KEY is not: set API_KEY too, or every route stays open.');
  } else if (apiReadKey !== null && apiReadKey.length < 16) {
    problems.push('API_READ_KEY must be at least 16 characters long; a short key is guessable.');
  } else if (apiReadKey !== null && apiReadKey === apiKey) {
    problems.push('API_READ_KEY must differ from API_KEY, or it grants writing too.');
  }
  const instanceId = str('INSTANCE_ID') ?? defaults.instanceId;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(instanceId)) {
    problems.push(
      `INSTANCE_ID="${instanceId}" must be 1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit.`,
    );
  } else if (instanceId in Object.prototype) {
    // Instance ids key per-instance spend and leases; a name JavaScript objects already carry is
    // refused outright rather than trusted to every map the id passes through.
    problems.push(`INSTANCE_ID="${instanceId}" is a reserved name; pick another.`);
  }
  const logLevelRaw = (str('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`LOG_LEVEL="${logLevelRaw}" must be one of ${LOG_LEVELS.join(', ')}.`);
  }
  const bodyLimitBytes = int('BODY_LIMIT_BYTES', 65_536, 1024, 16 * 1024 * 1024);
  const shutdownGraceMs = int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000);

  let pacer: PacerConfig | undefined;
  const breakerMode = (str('BREAKER_MODE') ?? DEFAULT_BREAKER_CONFIG.mode).toLowerCase();
  if (!(BREAKER_MODES as readonly string[]).includes(breakerMode))
    problems.push(`BREAKER_MODE="${breakerMode}" must be ${BREAKER_MODES.join(' or ')}.`);
  const breaker = {
    ...DEFAULT_BREAKER_CONFIG,
    mode: (BREAKER_MODES as readonly string[]).includes(breakerMode)
      ? (breakerMode as BreakerMode)
      : DEFAULT_BREAKER_CONFIG.mode,
    tripRatio: ratio('BREAKER_TRIP_RATIO', DEFAULT_BREAKER_CONFIG.tripRatio, false),
    cooldownMs: int('BREAKER_COOLDOWN_MS', DEFAULT_BREAKER_CONFIG.cooldownMs, 0, 86_400_000),
    probeCount: int('BREAKER_PROBE_COUNT', DEFAULT_BREAKER_CONFIG.probeCount, 1, 1000),
    recoveredThrottle: ratio('BREAKER_RECOVERED_THROTTLE', DEFAULT_BREAKER_CONFIG.recoveredThrottle, true),
  };
  const overrides = {
    breaker: Object.freeze(breaker),
    tickMs: int('PACING_TICK_MS', 60_000, 100, 3_600_000),
    catchUpTicks: int('PACING_CATCH_UP_TICKS', 10, 1, 10_000),
    reservationTtlMs: int('RESERVATION_TTL_MS', 120_000, 1000, 86_400_000),
    degradedThrottle: ratio('DEGRADED_THROTTLE', 0.5, true),
  };
  try {
    pacer = pacerConfig(overrides);
  } catch (err) {
    problems.push((err as Error).message);
  }

  const databaseUrl = str('DATABASE_URL') ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl)) {
    problems.push('DATABASE_URL must look like postgres://user:password@host:5432/database.');
  }

  const recordDir = str('RECORD_DIR') ?? null;
  const recordSample = ratio('RECORD_SAMPLE', 1, true);
  if (recordDir === null && str('RECORD_SAMPLE') !== undefined)
    problems.push('RECORD_SAMPLE is set but RECORD_DIR is not: set RECORD_DIR too, or nothing is recorded.');

  if (problems.length > 0 || pacer === undefined) throw new ConfigError(problems);
  return Object.freeze({
    redis,
    redisUrl: redis?.kind === 'single' ? redis.url : null,
    workers,
    port,
    host,
    apiKey,
    apiReadKey,
    journalDir: str('JOURNAL_DIR') ?? './journal',
    instanceId,
    logLevel: logLevelRaw as LogLevel,
    bodyLimitBytes,
    shutdownGraceMs,
    pacer,
    databaseUrl,
    dataDir: str('DATA_DIR') ?? './data',
    recordDir,
    recordSample,
  });
}
