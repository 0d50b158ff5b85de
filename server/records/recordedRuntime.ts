import type { BudgetStore } from '../../core/store';
import { CONFIG_EXIT_CODE } from '../errors';
import type { RecordsAccess } from '../http/recordRoutes';
import type { Runtime } from '../runtime/runtime';
import type { Clock, Timers } from '../runtime/time';
import { ActivityRecorder } from './activityRecorder';
import { type GenerationMarker, MemoryMarker, RedisMarker } from './generationMarker';
import { HistoryWriter } from './historyWriter';
import { type Records, RecordsStartError, openRecords } from './openRecords';
import { RecordedStore } from './recordedStore';

type Log = ConstructorParameters<typeof RecordedStore>[0]['log'];

/**
 * A logger usable before the app's logger exists (the parts are built before the app, which
 * hands its logger to the runtime factory): lines go to `bind`'s target once set.
 */
export function deferredLogger(): Log & { bind(target: Log): void } {
  let target: Log | null = null;
  return {
    info: (obj, msg) => target?.info(obj, msg),
    warn: (obj, msg) => target?.warn(obj, msg),
    error: (obj, msg) => target?.error(obj, msg),
    bind: (t) => {
      target = t;
    },
  };
}

/**
 * Opens the records (PostgreSQL at DATABASE_URL, else PGlite under DATA_DIR) and migrates them. A
 * database that cannot be reached or migrated stops the process with exit code 78 and a message
 * that says what to fix; nothing has been changed by then.
 */
export async function openRecordsOrExit(config: {
  readonly databaseUrl: string | null;
  readonly dataDir: string;
}): Promise<Records> {
  try {
    return await openRecords(config);
  } catch (err) {
    if (!(err instanceof RecordsStartError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
}

export interface RecordedParts {
  readonly store: RecordedStore;
  readonly access: RecordsAccess;
  onDecision(campaignId: string, allowed: boolean): void;
  /** Once the runtime exists: lets repairs reach its leases and starts the background writers. */
  attach(runtime: Runtime): void;
  /** Before the runtime starts: checks (or sets up, or repairs) the hot store's generation. */
  init(): Promise<void>;
}

/**
 * The pieces that put the records in front of the hot store. With Redis, counted spend goes to
 * PostgreSQL in background batches; embedded (no REDIS_URL), spend is written to PGlite before it
 * counts, because PGlite is then the only copy that survives the process (and the dedup of event
 * ids across restarts).
 */
export function recordedParts(o: {
  readonly records: Records;
  readonly inner: BudgetStore;
  readonly redisUrl: string | null;
  readonly journalDir: string;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly log: Log;
}): RecordedParts {
  const marker: GenerationMarker = o.redisUrl === null ? new MemoryMarker() : new RedisMarker(o.redisUrl);
  const writer =
    o.redisUrl === null
      ? null
      : new HistoryWriter({
          history: o.records.history,
          clock: o.clock,
          timers: o.timers,
          instanceId: o.instanceId,
          spillDir: o.journalDir,
          log: o.log,
        });
  let runtime: Runtime | null = null;
  const activity = new ActivityRecorder({
    history: o.records.history,
    clock: o.clock,
    timers: o.timers,
    instanceId: o.instanceId,
    states: () => runtime?.instance.states ?? new Map(),
  });
  const store = new RecordedStore({
    inner: o.inner,
    marker,
    records: o.records,
    writer,
    activity,
    kind: o.redisUrl === null ? 'embedded' : 'redis',
    instanceId: o.instanceId,
    clock: o.clock,
    timers: o.timers,
    monotonicMs: () => performance.now(),
    log: o.log,
  });
  return {
    store,
    access: { records: o.records, health: () => store.health(), clock: o.clock },
    onDecision: (campaignId, allowed) => activity.note(campaignId, allowed),
    attach(r) {
      runtime = r;
      store.attach(r.instance);
      writer?.start();
      activity.start();
    },
    init: () => store.init(),
  };
}
