import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { BreakerSnapshot } from '../../core/breaker';
import type { Campaign } from '../../core/campaign';
import { MemoryJournal } from '../../core/journal';
import { MemoryStore } from '../../core/memoryStore';
import {
  type BudgetStore,
  type DayKeyRef,
  type LeaseRequest,
  type SpendRecord,
  StoreUnavailableError,
} from '../../core/store';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import type { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { type Runtime, createRuntime } from '../../server/runtime/runtime';
import { FlakyStore } from '../support/flakyStore';
import { ManualClock, ManualTimers } from '../support/manualTime';

/** Noon UTC on a Monday: inside every test campaign's flight, far from any midnight. */
export const T0_MS = Date.UTC(2024, 5, 3, 12, 0, 0);
export const API_KEY = 'test-key-0123456789abcdef';

/** A parsed response body: tests read it through assertions, which do the checking. */
// biome-ignore lint/suspicious/noExplicitAny: assertions check the shape; typing every body would restate the schemas
export type Json = any;

export interface TestApp {
  readonly app: FastifyInstance;
  readonly runtime: Runtime;
  readonly store: FlakyStore;
  readonly clock: ManualClock;
  readonly timers: ManualTimers;
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  json<T = Json>(opts: InjectOptions): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * The real app on the real runtime over the embedded store (switchable off, as Redis going
 * down), with a clock and timers that move only when a test says so.
 */
export async function testApp(
  env: Record<string, string> = {},
  opts: {
    storeKind?: 'redis' | 'embedded';
    storeDownAtStart?: boolean;
    store?: FlakyStore;
    /** A traffic recorder on the test's clock and timers (RECORD_DIR). */
    recorder?: (clock: ManualClock, timers: ManualTimers) => TrafficRecorder;
  } = {},
): Promise<TestApp> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env }, { instanceId: 'test-1' });
  const clock = new ManualClock(T0_MS);
  const timers = new ManualTimers(clock);
  const store = opts.store ?? new FlakyStore();
  if (opts.storeDownAtStart) store.down = true;
  let runtime: Runtime | undefined;
  const app = await buildApp(config, {
    runtime: (log) => {
      runtime = createRuntime({
        store,
        journal: new MemoryJournal(),
        clock,
        timers,
        instanceId: config.instanceId,
        config: config.pacer,
        log,
        storeKind: opts.storeKind ?? 'embedded',
        seed: 7,
      });
      return runtime;
    },
    defaultMetrics: false,
    ...(opts.recorder && { recorder: opts.recorder(clock, timers) }),
  });
  await app.ready();
  const inject = (opts: InjectOptions) => app.inject(opts);
  return {
    app,
    runtime: runtime!,
    store,
    clock,
    timers,
    inject,
    async json<T>(opts: InjectOptions) {
      const res = await inject(opts);
      return { status: res.statusCode, body: (res.body === '' ? null : res.json()) as T };
    },
    close: () => app.close(),
  };
}

export const bearer = { authorization: `Bearer ${API_KEY}` };

export function campaignBody(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: `Campaign ${id}`,
    daily_budget_cents: 1_000_000,
    start_date: '2024-01-01T00:00:00',
    end_date: '2024-12-31T23:59:59',
    pacing_mode: 'EVEN',
    status: 'ACTIVE',
    ...extra,
  };
}

export async function createCampaign(t: TestApp, id: string, extra: Record<string, unknown> = {}) {
  const res = await t.inject({
    method: 'POST',
    url: '/campaigns',
    payload: campaignBody(id, extra),
    headers: bearer,
  });
  if (res.statusCode !== 201) throw new Error(`creating ${id} failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function statusOf(t: TestApp, id: string) {
  // The key is sent always: with API_KEY set every route but /health* and /metrics needs it.
  const res = await t.inject({ method: 'GET', url: `/budget/status/${id}`, headers: bearer });
  return res.json() as Json;
}
