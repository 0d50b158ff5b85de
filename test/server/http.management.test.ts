import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  API_KEY,
  type Json,
  type TestApp,
  bearer,
  campaignBody,
  createCampaign,
  statusOf,
  testApp,
} from './http.harness';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
  t.json<Json>({
    method,
    url,
    ...(payload === undefined ? {} : { payload: payload as object }),
    headers: bearer,
  });
const campaignCount = async () => (await call('GET', '/campaigns')).body.count;

describe('campaign CRUD', () => {
  it('creates, reads, lists, replaces and deletes a campaign in the reference JSON', async () => {
    const created = await call('POST', '/campaigns', {
      id: 'camp-001',
      name: 'Summer Sale Campaign',
      daily_budget_cents: 1_000_000,
      total_budget_cents: 30_000_000,
      start_date: '2024-01-01T00:00:00',
      end_date: '2024-12-31T23:59:59',
      pacing_mode: 'FRONT_LOADED',
      status: 'ACTIVE',
      time_zone: 'America/New_York',
      max_bid_cents: 500,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'camp-001',
      name: 'Summer Sale Campaign',
      status: 'ACTIVE',
      daily_budget_cents: 1_000_000,
      total_budget_cents: 30_000_000,
      // Wall time in the campaign's zone: midnight in New York is 05:00 UTC in winter.
      start_date: '2024-01-01T05:00:00.000Z',
      end_date: '2025-01-01T04:59:59.000Z',
      time_zone: 'America/New_York',
      pacing_mode: 'FRONT_LOADED',
      max_bid_cents: 500,
      hourly_multipliers: null,
      targeting: null,
      creative_id: null,
    });
    expect((await call('GET', '/campaigns/camp-001')).body).toEqual(created.body);
    expect((await call('GET', '/campaigns')).body).toEqual({ campaigns: [created.body], count: 1 });

    const replaced = await call('PUT', '/campaigns/camp-001', {
      daily_budget_cents: 2_000_000,
      time_zone: 'America/New_York',
      pacing_mode: 'ADAPTIVE',
      hourly_multipliers: Array.from({ length: 24 }, (_, h) => (h >= 8 && h < 20 ? 2 : 0.5)),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      daily_budget_cents: 2_000_000,
      pacing_mode: 'ADAPTIVE',
      start_date: null,
    });
    expect((await statusOf(t, 'camp-001')).daily_budget_micros).toBe(20_000_000_000);

    expect((await call('DELETE', '/campaigns/camp-001')).status).toBe(204);
    expect((await call('GET', '/campaigns/camp-001')).body.error.code).toBe('PACER_ERR_UNKNOWN_CAMPAIGN');
    const decide = await call('POST', '/pacing/decision', { campaign_id: 'camp-001', bid_cents: 100 });
    expect(decide.status).toBe(404);
  });

  it('keeps spend across an edit', async () => {
    await createCampaign(t, 'c1');
    await call('POST', '/spend/track', { campaign_id: 'c1', spend_cents: 42, event_id: 'e1' });
    await call('PUT', '/campaigns/c1', { ...campaignBody('c1'), id: undefined, daily_budget_cents: 5000 });
    expect((await statusOf(t, 'c1')).spent_today_cents).toBe(42);
  });

  it('refuses a second campaign with the same id and leaves the first alone', async () => {
    const first = await createCampaign(t, 'c1');
    const again = await call('POST', '/campaigns', campaignBody('c1', { daily_budget_cents: 1 }));
    expect([again.status, again.body.error.code]).toEqual([409, 'PACER_ERR_CAMPAIGN_EXISTS']);
    expect((await call('GET', '/campaigns/c1')).body).toEqual(first);
  });

  it('refuses a PUT whose body names another id, a time zone change, and an unknown campaign', async () => {
    const first = await createCampaign(t, 'c1');
    const mismatch = await call('PUT', '/campaigns/c1', campaignBody('c2'));
    expect([mismatch.status, mismatch.body.error.code]).toEqual([400, 'PACER_ERR_CAMPAIGN_ID_MISMATCH']);
    const zone = await call('PUT', '/campaigns/c1', { daily_budget_cents: 100, time_zone: 'Asia/Tokyo' });
    expect([zone.status, zone.body.error.code]).toEqual([409, 'PACER_ERR_TIME_ZONE_LOCKED']);
    const unknown = await call('PUT', '/campaigns/c9', { daily_budget_cents: 100 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'PACER_ERR_UNKNOWN_CAMPAIGN']);
    expect((await call('GET', '/campaigns/c1')).body).toEqual(first);
    expect(await campaignCount()).toBe(1);
  });

  it('answers 404 when deleting an unknown campaign', async () => {
    const res = await call('DELETE', '/campaigns/ghost');
    expect([res.status, res.body.error.code]).toEqual([404, 'PACER_ERR_UNKNOWN_CAMPAIGN']);
  });

  const invalid: [string, Record<string, unknown>, string, string][] = [
    ['no daily budget', { daily_budget_cents: undefined }, 'PACER_ERR_VALIDATION', 'daily_budget_cents'],
    ['a negative budget', { daily_budget_cents: -100 }, 'PACER_ERR_VALIDATION', 'daily_budget_cents'],
    ['a zero budget', { daily_budget_cents: 0 }, 'PACER_ERR_VALIDATION', 'daily_budget_cents'],
    ['a budget as text', { daily_budget_cents: '1000' }, 'PACER_ERR_VALIDATION', 'daily_budget_cents'],
    ['a huge budget', { daily_budget_cents: 1e15 }, 'PACER_ERR_VALIDATION', 'daily_budget_cents'],
    [
      'a budget finer than a micro',
      { daily_budget_cents: 0.00005 },
      'PACER_ERR_INVALID_AMOUNT',
      'daily_budget_cents',
    ],
    ['an unknown time zone', { time_zone: 'Mars/Olympus' }, 'PACER_ERR_INVALID_CAMPAIGN', 'time_zone'],
    [
      'a flight that ends first',
      { start_date: '2024-06-01', end_date: '2024-05-01' },
      'PACER_ERR_INVALID_CAMPAIGN',
      'end_date',
    ],
    ['a date that does not exist', { start_date: '2024-02-30' }, 'PACER_ERR_INVALID_CAMPAIGN', 'start_date'],
    ['a date in another format', { start_date: '06/01/2024' }, 'PACER_ERR_VALIDATION', 'start_date'],
    [
      '23 hourly multipliers',
      { hourly_multipliers: Array(23).fill(1) },
      'PACER_ERR_VALIDATION',
      'hourly_multipliers',
    ],
    [
      'all-zero multipliers',
      { hourly_multipliers: Array(24).fill(0) },
      'PACER_ERR_INVALID_CAMPAIGN',
      'hourly_multipliers',
    ],
    ['an unknown pacing mode', { pacing_mode: 'FAST' }, 'PACER_ERR_VALIDATION', 'pacing_mode'],
    ['an unknown status', { status: 'RUNNING' }, 'PACER_ERR_VALIDATION', 'status'],
    ['an id with a slash', { id: 'a/b' }, 'PACER_ERR_VALIDATION', 'id'],
    ['an unknown field', { daily_budget: 5 }, 'PACER_ERR_VALIDATION', 'daily_budget'],
  ];
  it.each(invalid)(
    'refuses %s, naming the field, and creates nothing',
    async (_name, change, code, field) => {
      const body = { ...campaignBody('c1'), ...change };
      const res = await call('POST', '/campaigns', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toContain(field);
      expect(await campaignCount()).toBe(0);
    },
  );
});

describe('POST /budget/adjust and POST /pacing/mode', () => {
  beforeEach(async () => {
    await createCampaign(t, 'c1');
  });

  it('sets the daily and total budget; spend so far counts against them', async () => {
    await call('POST', '/spend/track', { campaign_id: 'c1', spend_cents: 300, event_id: 'e1' });
    const res = await call('POST', '/budget/adjust', {
      campaign_id: 'c1',
      daily_budget_cents: 1000,
      total_budget_cents: 50_000,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ daily_budget_cents: 1000, total_budget_cents: 50_000 });
    const s = await statusOf(t, 'c1');
    expect([s.spent_today_cents, s.remaining_today_cents, s.utilization_percentage]).toEqual([300, 700, 30]);
    const cleared = await call('POST', '/budget/adjust', { campaign_id: 'c1', total_budget_cents: null });
    expect(cleared.body.total_budget_cents).toBeNull();
  });

  it.each([
    ['nothing to change', { campaign_id: 'c1' }, 400, 'PACER_ERR_VALIDATION'],
    ['a negative budget', { campaign_id: 'c1', daily_budget_cents: -5 }, 400, 'PACER_ERR_VALIDATION'],
    ['a huge budget', { campaign_id: 'c1', daily_budget_cents: 1e20 }, 400, 'PACER_ERR_VALIDATION'],
    ['an unknown campaign', { campaign_id: 'c9', daily_budget_cents: 5 }, 404, 'PACER_ERR_UNKNOWN_CAMPAIGN'],
  ])('refuses %s and changes nothing', async (_name, payload, status, code) => {
    const before = (await call('GET', '/campaigns/c1')).body;
    const res = await call('POST', '/budget/adjust', payload);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    expect((await call('GET', '/campaigns/c1')).body).toEqual(before);
  });

  it('switches the pacing mode, with multipliers for ADAPTIVE', async () => {
    const asap = await call('POST', '/pacing/mode', { campaign_id: 'c1', pacing_mode: 'ASAP' });
    expect([asap.status, asap.body.pacing_mode]).toEqual([200, 'ASAP']);
    const weights = Array.from({ length: 24 }, (_, h) => h + 1);
    const adaptive = await call('POST', '/pacing/mode', {
      campaign_id: 'c1',
      pacing_mode: 'ADAPTIVE',
      hourly_multipliers: weights,
    });
    expect(adaptive.body).toMatchObject({ pacing_mode: 'ADAPTIVE', hourly_multipliers: weights });
    expect((await statusOf(t, 'c1')).pacing_mode).toBe('ADAPTIVE');
  });

  it.each([
    ['an unknown mode', { campaign_id: 'c1', pacing_mode: 'TURBO' }, 400, 'PACER_ERR_VALIDATION'],
    ['a missing mode', { campaign_id: 'c1' }, 400, 'PACER_ERR_VALIDATION'],
    [
      'negative multipliers',
      { campaign_id: 'c1', pacing_mode: 'ADAPTIVE', hourly_multipliers: Array(24).fill(-1) },
      400,
      'PACER_ERR_VALIDATION',
    ],
    ['an unknown campaign', { campaign_id: 'c9', pacing_mode: 'ASAP' }, 404, 'PACER_ERR_UNKNOWN_CAMPAIGN'],
  ])('refuses %s and changes nothing', async (_name, payload, status, code) => {
    const before = (await call('GET', '/campaigns/c1')).body;
    const res = await call('POST', '/pacing/mode', payload);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    expect((await call('GET', '/campaigns/c1')).body).toEqual(before);
  });
});

describe('GET /performance/:id and GET /alerts/:id', () => {
  it('reports spend per day and hour, oldest day first', async () => {
    await createCampaign(t, 'c1');
    await call('POST', '/spend/track', { campaign_id: 'c1', spend_cents: 12.5, event_id: 'e1' });
    await t.runtime.syncNow();
    const res = await call('GET', '/performance/c1?days=3');
    expect(res.status).toBe(200);
    expect(res.body.days.map((d: Json) => d.day)).toEqual(['2024-06-01', '2024-06-02', '2024-06-03']);
    const today = res.body.days[2];
    expect([today.spent_cents, today.spent_micros, today.hourly_spent_cents[12]]).toEqual([
      12.5, 125_000, 12.5,
    ]);
  });

  it.each([
    ['/performance/c1?days=0', 400, 'PACER_ERR_VALIDATION'],
    ['/performance/c1?days=abc', 400, 'PACER_ERR_VALIDATION'],
    ['/performance/c1?days=1000', 400, 'PACER_ERR_VALIDATION'],
    ['/performance/c1?weeks=1', 400, 'PACER_ERR_VALIDATION'],
    ['/performance/c9', 404, 'PACER_ERR_UNKNOWN_CAMPAIGN'],
    ['/alerts/c9', 404, 'PACER_ERR_UNKNOWN_CAMPAIGN'],
  ])('GET %s answers %i', async (url, status, code) => {
    await createCampaign(t, 'c1');
    const res = await call('GET', url);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
  });

  it('derives alerts from the status: behind pace, near budget, breaker open, paused, degraded', async () => {
    await t.close();
    t = await testApp({ BREAKER_MODE: 'classic' });
    await createCampaign(t, 'c1', { daily_budget_cents: 1000 });
    const codes = async () => (await call('GET', '/alerts/c1')).body.alerts.map((a: Json) => a.code);
    // Noon with nothing spent on an EVEN curve: half a day behind.
    expect(await codes()).toEqual(['PACING_BEHIND']);
    await call('POST', '/spend/track', { campaign_id: 'c1', spend_cents: 850, event_id: 'e1' });
    expect(await codes()).toEqual(['NEAR_BUDGET', 'PACING_AHEAD']);
    await call('POST', '/spend/track', { campaign_id: 'c1', spend_cents: 110, event_id: 'e2' });
    await call('POST', '/pacing/decision', { campaign_id: 'c1', bid_cents: 100 });
    expect((await codes())[0]).toBe('BREAKER_OPEN');
    await call('POST', '/pacing/mode', { campaign_id: 'c1', pacing_mode: 'ASAP' });
    await call('PUT', '/campaigns/c1', { daily_budget_cents: 1000, status: 'PAUSED' });
    expect(await codes()).toContain('CAMPAIGN_NOT_ACTIVE');
    t.store.down = true;
    await t.runtime.syncNow();
    expect(await codes()).toContain('DEGRADED_MODE');
  });
});

describe('authentication of write routes', () => {
  it('needs the bearer key to create, edit, delete and read', async () => {
    const k = await testApp({ API_KEY });
    try {
      const body = campaignBody('c1');
      const none = await k.json<Json>({ method: 'POST', url: '/campaigns', payload: body });
      expect([none.status, none.body.error.code]).toEqual([401, 'PACER_ERR_UNAUTHORIZED']);
      const wrong = await k.json<Json>({
        method: 'POST',
        url: '/campaigns',
        payload: body,
        headers: { authorization: 'Bearer nope' },
      });
      expect(wrong.status).toBe(401);
      expect((await k.json<Json>({ method: 'GET', url: '/campaigns' })).status).toBe(401);
      expect((await k.json<Json>({ method: 'GET', url: '/campaigns', headers: bearer })).body.count).toBe(0);
      expect(
        (await k.json({ method: 'POST', url: '/campaigns', payload: body, headers: bearer })).status,
      ).toBe(201);
      for (const [method, url, payload] of [
        ['PUT', '/campaigns/c1', { daily_budget_cents: 1 }],
        ['DELETE', '/campaigns/c1', undefined],
        ['POST', '/budget/adjust', { campaign_id: 'c1', daily_budget_cents: 1 }],
        ['POST', '/pacing/mode', { campaign_id: 'c1', pacing_mode: 'ASAP' }],
      ] as const) {
        const res = await k.json<Json>({ method, url, ...(payload ? { payload } : {}) });
        expect([method, url, res.status]).toEqual([method, url, 401]);
      }
      const kept = await k.json<Json>({ method: 'GET', url: '/campaigns/c1', headers: bearer });
      expect(kept.body).toMatchObject({ daily_budget_cents: 1_000_000, pacing_mode: 'EVEN' });
    } finally {
      await k.close();
    }
  });
});
