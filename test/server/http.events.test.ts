import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../../core/journal';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { directPipeline } from '../../server/events/eventPipeline';
import { MAX_EVENTS_PER_BATCH } from '../../server/events/eventSchemas';
import { PENDING_IMPRESSION_MS } from '../../server/frequency/frequencyCounter';
import { MemoryFrequencyCounter } from '../../server/frequency/memoryFrequencyCounter';
import { type Records, openRecords } from '../../server/records/openRecords';
import { recordedParts } from '../../server/records/recordedRuntime';
import { type Runtime, createRuntime } from '../../server/runtime/runtime';
import { EmbeddedStore } from '../../server/store/embeddedStore';
import { ManualClock, ManualTimers } from '../support/manualTime';

/**
 * POST /events and GET /analytics through the real app, embedded (PGlite under a temp dir, the
 * events written in the request): what the edge accepts, refuses, and what the report says.
 */
const T0 = Date.UTC(2026, 10, 30, 15, 30, 0);
const HOUR = 3_600_000;
let app: FastifyInstance;
let records: Records;
let dir: string;
let clock: ManualClock;
let runtime: Runtime;
/** The caps' counter the app confirms impressions into. */
const frequency = new MemoryFrequencyCounter();

// biome-ignore lint/suspicious/noExplicitAny: assertions check the shape
type Json = any;
async function call(opts: InjectOptions): Promise<{ status: number; body: Json }> {
  const res = await app.inject(opts);
  return {
    status: res.statusCode,
    body:
      res.body === ''
        ? null
        : String(res.headers['content-type'] ?? '').includes('json')
          ? res.json()
          : res.body,
  };
}
const postEvents = (payload: unknown) => call({ method: 'POST', url: '/events', payload: payload as object });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pacer-http-events-'));
  records = await openRecords({ databaseUrl: null, dataDir: dir });
  const config = loadConfig({ LOG_LEVEL: 'silent' }, { instanceId: 'events-1' });
  clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  const recorded = recordedParts({
    records,
    inner: new EmbeddedStore(),
    redisUrl: null,
    journalDir: dir,
    instanceId: 'events-1',
    clock,
    timers,
    log,
  });
  const events = directPipeline({
    db: records.db,
    clock,
    timers,
    log,
  });
  app = await buildApp(config, {
    runtime: (appLog) => {
      runtime = createRuntime({
        store: recorded.store,
        journal: new MemoryJournal(),
        clock,
        timers,
        instanceId: 'events-1',
        config: config.pacer,
        log: appLog,
        storeKind: 'embedded',
        seed: 7,
      });
      recorded.attach(runtime);
      return runtime;
    },
    records: recorded.access,
    events,
    frequency,
    defaultMetrics: false,
  });
  await recorded.init();
  await app.ready();
  for (const [id, tz] of [
    ['camp-1', 'UTC'],
    ['camp-2', 'Europe/Berlin'],
  ]) {
    const res = await call({
      method: 'POST',
      url: '/campaigns',
      payload: { id, daily_budget_cents: 1_000_000, pacing_mode: 'ASAP', time_zone: tz },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /events', () => {
  it('takes one event or a batch, counting each event id once per campaign', async () => {
    expect(
      await postEvents({ event_id: 'i-1', type: 'impression', campaign_id: 'camp-1', user_id: 'u-1' }),
    ).toEqual({
      status: 202,
      body: { received: 1, accepted: 1, duplicates: 0 },
    });
    const batch = [
      { event_id: 'i-1', type: 'impression', campaign_id: 'camp-1', user_id: 'u-1' },
      { event_id: 'i-2', type: 'impression', campaign_id: 'camp-1', at_ms: T0 - 2 * HOUR },
      { event_id: 'i-3', type: 'impression', campaign_id: 'camp-1', user_id: 'u-2', at_ms: T0 - 2 * HOUR },
      { event_id: 'i-4', type: 'impression', campaign_id: 'camp-1', at_ms: T0 - 26 * HOUR },
      { event_id: 'c-1', type: 'click', campaign_id: 'camp-1' },
      { event_id: 'k-1', type: 'conversion', campaign_id: 'camp-1' },
      // The same id under another campaign is another event.
      { event_id: 'i-1', type: 'impression', campaign_id: 'camp-2' },
      { event_id: '__proto__', type: 'click', campaign_id: 'camp-2' },
    ];
    expect(await postEvents(batch)).toEqual({
      status: 202,
      body: { received: 8, accepted: 7, duplicates: 1 },
    });
    expect(await postEvents(batch)).toEqual({
      status: 202,
      body: { received: 8, accepted: 0, duplicates: 8 },
    });
    // The frequency caps counted each impression with a user once (sent three times), none without.
    const ref = (userId: string) => ({ campaignId: 'camp-1', userId, dayKey: '2026-11-30' });
    expect(await frequency.counts([ref('u-1'), ref('u-2'), ref('u-3')], T0)).toEqual([1, 1, 0]);
  });

  it('refuses a whole batch naming an unknown campaign, counting none of it', async () => {
    const res = await postEvents([
      { event_id: 'x-1', type: 'click', campaign_id: 'camp-1' },
      { event_id: 'x-2', type: 'click', campaign_id: 'nope' },
    ]);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('PACER_ERR_UNKNOWN_CAMPAIGN');
    expect((await postEvents({ event_id: 'x-1', type: 'click', campaign_id: 'camp-1' })).body.accepted).toBe(
      1,
    );
  });

  it.each([
    ['an empty array', []],
    [
      'a batch over the limit',
      Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, (_, n) => ({
        event_id: `b-${n}`,
        type: 'click',
        campaign_id: 'camp-1',
      })),
    ],
    ['an unknown type', { event_id: 'e', type: 'view', campaign_id: 'camp-1' }],
    ['an unknown field', { event_id: 'e', type: 'click', campaign_id: 'camp-1', price: 1 }],
    ['a campaign id outside the pattern', { event_id: 'e', type: 'click', campaign_id: '__proto__' }],
    ['an event id over 128 characters', { event_id: 'e'.repeat(129), type: 'click', campaign_id: 'camp-1' }],
    ['a string time', { event_id: 'e', type: 'click', campaign_id: 'camp-1', at_ms: '1' }],
    ['a missing event id', { type: 'click', campaign_id: 'camp-1' }],
  ])('refuses %s with PACER_ERR_VALIDATION', async (_what, payload) => {
    const res = await postEvents(payload);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('PACER_ERR_VALIDATION');
  });

  it('refuses times outside the last 3 days with PACER_ERR_EVENT_TIME', async () => {
    for (const at_ms of [T0 - 4 * 24 * HOUR, T0 + HOUR]) {
      const res = await postEvents({ event_id: 'old', type: 'click', campaign_id: 'camp-1', at_ms });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('PACER_ERR_EVENT_TIME');
    }
  });
});

describe('frequency caps counted from impressions', () => {
  const bidFor = (id: string, user: string) =>
    call({
      method: 'POST',
      url: '/bid',
      payload: { id, imp: [{ id: '1' }], site: { domain: 'news.example' }, user: { id: user } },
    });

  it('an impression keeps its won bid counted; a win without one stops counting after the window', async () => {
    const created = await call({
      method: 'POST',
      url: '/campaigns',
      payload: {
        id: 'capped-ev',
        daily_budget_cents: 1_000_000,
        pacing_mode: 'ASAP',
        max_bid_cents: 500,
        targeting: { frequency_cap_per_day: 1 },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await runtime.syncNow();
    const won = await bidFor('cap-r1', 'cap-u1');
    expect(won.status, JSON.stringify(won.body)).toBe(200);
    const bid = won.body.seatbid[0].bid[0];
    expect(bid.campaign_id).toBe('capped-ev');
    // The win counts while its impression is on the way: the cap of 1 is reached.
    expect((await bidFor('cap-r2', 'cap-u1')).status).toBe(204);
    expect((await bidFor('cap-r3', 'cap-u2')).status).toBe(200);
    // u1's impression arrives (twice), naming the bid; u2's never does.
    const impression = {
      event_id: 'cap-imp-1',
      type: 'impression',
      campaign_id: 'capped-ev',
      user_id: 'cap-u1',
      bid_id: bid.id,
    };
    expect((await postEvents([impression, impression])).body.accepted).toBe(1);
    clock.advance(PENDING_IMPRESSION_MS + 1_000);
    await runtime.syncNow();
    expect((await bidFor('cap-r4', 'cap-u1')).status).toBe(204);
    expect((await bidFor('cap-r5', 'cap-u2')).status).toBe(200);
  });
});

describe('GET /analytics/:campaignId', () => {
  it('reports totals first, then each day, with ratios over spend in micros', async () => {
    for (let n = 0; n < 3; n++) {
      const res = await call({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'camp-1', spend_cents: 100, event_id: `w-${n}` },
      });
      expect(res.status).toBe(200);
    }
    const res = await call({ method: 'GET', url: '/analytics/camp-1?from=2026-11-29&to=2026-11-30' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)[0]).toBe('totals');
    // 4 impressions, 2 clicks (c-1, x-1), 1 conversion; 3 x 1,000,000 micros of spend.
    expect(res.body.totals).toEqual({
      impressions: 4,
      clicks: 2,
      conversions: 1,
      spend_micros: 3_000_000,
      ctr: 0.5,
      cpm_micros: 750_000_000,
      cpc_micros: 1_500_000,
      cpa_micros: 3_000_000,
    });
    expect(res.body.buckets.map((b: Json) => [b.day, b.hour, b.impressions, b.spend_micros])).toEqual([
      ['2026-11-29', null, 1, 0],
      ['2026-11-30', null, 3, 3_000_000],
    ]);
  });

  it("buckets by hour in the campaign's zone", async () => {
    const res = await call({ method: 'GET', url: '/analytics/camp-2?from=2026-11-30&to=2026-11-30&by=hour' });
    expect(res.status).toBe(200);
    expect(res.body.time_zone).toBe('Europe/Berlin');
    // 15:30 UTC is 16:30 in Berlin.
    expect(
      res.body.buckets
        .filter((b: Json) => b.impressions + b.clicks > 0)
        .map((b: Json) => [b.hour, b.impressions, b.clicks]),
    ).toEqual([[16, 1, 1]]);
    expect(res.body.totals).toMatchObject({ ctr: 1, cpm_micros: 0, cpa_micros: null });
  });

  it.each([
    ['from after to', '?from=2026-11-30&to=2026-11-01', 'PACER_ERR_INVALID_RANGE'],
    ['a date that does not exist', '?from=2026-02-30&to=2026-03-01', 'PACER_ERR_INVALID_RANGE'],
    ['more than 366 days', '?from=2020-01-01&to=2026-11-30', 'PACER_ERR_INVALID_RANGE'],
    ['an unknown granularity', '?by=week', 'PACER_ERR_VALIDATION'],
    ['a date that is not one', '?from=yesterday', 'PACER_ERR_VALIDATION'],
  ])('answers 400 to %s', async (_what, query, code) => {
    const res = await call({ method: 'GET', url: `/analytics/camp-1${query}` });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });

  it('answers 404 for an unknown campaign', async () => {
    const res = await call({ method: 'GET', url: '/analytics/nope' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('PACER_ERR_UNKNOWN_CAMPAIGN');
  });
});

describe('health and metrics', () => {
  it('show the pipeline: embedded, no lag, what was taken in', async () => {
    const health = await call({ method: 'GET', url: '/health' });
    expect(health.body.events).toMatchObject({
      log: 'records',
      consumer_lag: 0,
      pending: 0,
      // What the tests above sent: 10 taken in, 10 repeats.
      ingested: 10,
      duplicates: 10,
    });
    const metrics = await call({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^pacer_events_consumer_lag 0$/m);
    expect(metrics.body).toMatch(/^pacer_events_ingested_total 10$/m);
  });
});
