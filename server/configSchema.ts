import { type Static, type TSchema, Type } from '@sinclair/typebox';
import Ajv, { type ErrorObject } from 'ajv';
import { BREAKER_MODES, DEFAULT_BREAKER_CONFIG } from '../core/breaker';

/**
 * Every environment variable the server reads, as one TypeBox schema: its shape, range, default
 * and meaning in one place. `loadConfig` validates the environment against it once (every problem
 * at once), then only checks what spans variables (a read key needs a key, one Redis topology).
 * The list printed with a configuration error is derived from the descriptions here.
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Why a text value was refused, when its pattern alone would not tell a person. */
interface Hinted {
  readonly hint?: string;
}

function int(minimum: number, maximum: number, description: string, fallback?: number) {
  return Type.Integer({
    minimum,
    maximum,
    description,
    ...(fallback === undefined ? {} : { default: fallback }),
  });
}

/** A share from 0 (or just above, with `aboveZero`) to 1. */
function share(description: string, fallback: number, aboveZero = false) {
  return Type.Number({
    ...(aboveZero ? { exclusiveMinimum: 0 } : { minimum: 0 }),
    maximum: 1,
    description,
    default: fallback,
  });
}

function text(
  description: string,
  o: { pattern?: string; minLength?: number; hint?: string; default?: string } = {},
) {
  return Type.String({ minLength: o.minLength ?? 1, description, ...o });
}

function oneOf<const T extends readonly string[]>(values: T, description: string, fallback: T[number]) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], description, default: fallback });
}

const HOST_PORTS = '^[^,\\s]+(\\s*,\\s*[^,\\s]+)*$';
const b = DEFAULT_BREAKER_CONFIG;

export const ServerEnv = Type.Object(
  {
    REDIS_URL: Type.Optional(
      text('redis://host:6379/0 of the shared store; unset runs on the embedded in-memory store', {
        pattern: '^rediss?://\\S+$',
        hint: 'must look like redis://host:6379/0 or rediss://...',
      }),
    ),
    REDIS_SENTINELS: Type.Optional(
      text('host:port,... of the Redis Sentinels watching the primary (with REDIS_SENTINEL_NAME)', {
        pattern: HOST_PORTS,
        hint: 'must be a comma-separated list of host:port',
      }),
    ),
    REDIS_SENTINEL_NAME: Type.Optional(
      text('name of the primary the Sentinels watch (sentinel monitor <name> ...)', {
        pattern: '^[A-Za-z0-9._-]{1,64}$',
        hint: 'must be 1-64 letters, digits, ".", "_" or "-"',
      }),
    ),
    REDIS_CLUSTER_NODES: Type.Optional(
      text('host:port,... of some Redis Cluster nodes (the rest are discovered)', {
        pattern: HOST_PORTS,
        hint: 'must be a comma-separated list of host:port',
      }),
    ),
    REDIS_WAIT_REPLICAS: Type.Optional(
      int(
        0,
        16,
        'replicas that must hold spend and lease writes before they count (WAIT); default 1 with Sentinel or Cluster, 0 with REDIS_URL',
      ),
    ),
    WORKERS: Type.Optional(
      text(
        'server processes on this host, each its own instance on the shared port: a number (default 1) or "auto" (one per core)',
        { pattern: '^(auto|[0-9]{1,9})$', hint: 'must be "auto" or a whole number from 1 to 256' },
      ),
    ),
    PORT: int(0, 65535, 'TCP port to listen on (default 8080)', 8080),
    HOST: text('address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)', {
      pattern: '^\\S+$',
      default: '127.0.0.1',
    }),
    API_KEY: Type.Optional(
      text(
        'bearer token required by every route but /health*, /metrics and /docs (decisions included); unset leaves them open',
        { minLength: 16, hint: 'must be at least 16 characters long; a short key is guessable' },
      ),
    ),
    API_READ_KEY: Type.Optional(
      text('optional second key for read-only routes, the dashboard and the WebSocket (needs API_KEY)', {
        minLength: 16,
        hint: 'must be at least 16 characters long; a short key is guessable',
      }),
    ),
    JOURNAL_DIR: text('directory for the spend journal kept while Redis is down (default ./journal)', {
      default: './journal',
    }),
    INSTANCE_ID: Type.Optional(
      text('name of this instance in leases and journals (default: host name and pid)', {
        pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$',
        hint: 'must be 1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
      }),
    ),
    LOG_LEVEL: oneOf(LOG_LEVELS, `one of ${LOG_LEVELS.join(', ')} (default info)`, 'info'),
    BODY_LIMIT_BYTES: int(1024, 16 * 1024 * 1024, 'largest request body accepted (default 65536)', 65_536),
    SHUTDOWN_GRACE_MS: int(
      0,
      600_000,
      'longest wait for in-flight requests at shutdown (default 10000)',
      10_000,
    ),
    BREAKER_MODE: oneOf(
      BREAKER_MODES,
      `${BREAKER_MODES.join(' or ')}: keep bidding while reservations fit, or trip at the ratio (default ${b.mode})`,
      b.mode,
    ),
    BREAKER_TRIP_RATIO: share(
      `share of the daily budget that opens the breaker (default ${b.tripRatio})`,
      b.tripRatio,
      true,
    ),
    BREAKER_COOLDOWN_MS: int(
      0,
      86_400_000,
      `time OPEN before probing (default ${b.cooldownMs})`,
      b.cooldownMs,
    ),
    BREAKER_PROBE_COUNT: int(
      1,
      1000,
      `probe bids let through HALF_OPEN (default ${b.probeCount})`,
      b.probeCount,
    ),
    BREAKER_RECOVERED_THROTTLE: share(
      `throttle floor after recovery (default ${b.recoveredThrottle})`,
      b.recoveredThrottle,
    ),
    PACING_TICK_MS: int(
      100,
      3_600_000,
      'how often the controller re-plans (default 60000; half that for campaigns whose requests carry a value signal)',
      60_000,
    ),
    PACING_CATCH_UP_TICKS: int(1, 10_000, 'ticks over which the controller closes a gap (default 10)', 10),
    RESERVATION_TTL_MS: int(
      1000,
      86_400_000,
      'how long an allowed bid holds budget without a win notice (default 120000)',
      120_000,
    ),
    DEGRADED_THROTTLE: share('throttle floor while the store is unreachable (default 0.5)', 0.5),
    DATABASE_URL: Type.Optional(
      text('postgres://user:pass@host:5432/db of the system of record; unset runs PGlite under DATA_DIR', {
        pattern: '^postgres(ql)?://\\S+$',
        hint: 'must look like postgres://user:password@host:5432/database',
      }),
    ),
    DATA_DIR: text(
      'directory of the embedded database (PGlite) when DATABASE_URL is unset (default ./data)',
      {
        default: './data',
      },
    ),
    RECORD_DIR: Type.Optional(
      text(
        'directory for hourly traffic recordings (decisions, win notices; see docs/recording.md); unset records nothing',
      ),
    ),
    RECORD_SAMPLE: share(
      'share of requests recorded, 0 to 1, sampled by request id (default 1); needs RECORD_DIR',
      1,
    ),
  },
  { additionalProperties: true },
);
export type ServerEnvValues = Static<typeof ServerEnv>;

const PROPERTIES = ServerEnv.properties as Record<string, TSchema & Hinted>;

/** Every variable the server reads, with what it means: printed with a config error. */
export const CONFIG_VARIABLES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(PROPERTIES).map(([name, s]) => [name, String(s.description)])),
);

/** Variables whose value is a word: compared in lower case, as "Classic" means classic. */
const CASE_FREE = new Set(['LOG_LEVEL', 'BREAKER_MODE', 'WORKERS']);

let validate: ReturnType<Ajv['compile']> | null = null;

/**
 * The environment's values for the schema's variables, trimmed (blank means unset), validated,
 * numbers converted and defaults filled in; `problems` gets one sentence per bad variable.
 */
export function readServerEnv(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): ServerEnvValues {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(PROPERTIES)) {
    const v = env[name]?.trim();
    if (v === undefined || v === '') continue;
    raw[name] = CASE_FREE.has(name) ? v.toLowerCase() : v;
  }
  const values: Record<string, unknown> = { ...raw };
  // Ajv would coerce any text JavaScript reads as a number ("1e3", "0x10", "+5"): whole numbers
  // are written in decimal digits, as the hand parser before the schema required (shares, as
  // before, take any number JavaScript reads).
  for (const [name, v] of Object.entries(raw)) {
    if (PROPERTIES[name]!.type !== 'integer' || /^-?\d+$/.test(v)) continue;
    problems.push(`${name}="${v}" ${requirement(PROPERTIES[name]!, null)}: ${CONFIG_VARIABLES[name]}.`);
    const fallback = (PROPERTIES[name] as { default?: unknown }).default;
    if (fallback === undefined) delete values[name];
    else values[name] = fallback;
  }
  validate ??= new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false }).compile(
    ServerEnv,
  );
  if (!validate(values)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const name = e.instancePath.slice(1);
      if (name === '' || seen.has(name)) continue;
      seen.add(name);
      problems.push(
        `${name}="${raw[name]}" ${requirement(PROPERTIES[name]!, e)}: ${CONFIG_VARIABLES[name]}.`,
      );
      // A bad value falls back to the default, so later checks read something sensible.
      const fallback = (PROPERTIES[name] as { default?: unknown }).default;
      if (fallback === undefined) delete values[name];
      else values[name] = fallback;
    }
  }
  return values as ServerEnvValues;
}

/** What a variable must be, in words: from its schema, not from Ajv's generic message. */
function requirement(s: TSchema & Hinted, e: ErrorObject | null): string {
  if (s.hint !== undefined) return s.hint;
  const o = s as { enum?: string[]; minimum?: number; maximum?: number; exclusiveMinimum?: number };
  if (o.enum !== undefined) return `must be one of ${o.enum.join(', ')}`;
  if (s.type === 'integer') return `must be a whole number from ${o.minimum} to ${o.maximum}`;
  if (s.type === 'number')
    return o.exclusiveMinimum !== undefined
      ? `must be a number above ${o.exclusiveMinimum} and up to ${o.maximum}`
      : `must be a number from ${o.minimum} to ${o.maximum}`;
  return String(e?.message ?? 'is not valid');
}
