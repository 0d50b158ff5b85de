import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_KEY, type Json, type TestApp, bearer, createCampaign, statusOf, testApp } from './http.harness';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
  await createCampaign(t, 'camp-001');
});
afterEach(async () => {
  await t.close();
});

const decide = (payload: unknown, headers: Record<string, string> = {}) =>
  t.json<Json>({
    method: 'POST',
    url: '/pacing/decision',
    payload: payload as object,
    headers,
  });
const spend = (payload: unknown, headers: Record<string, string> = {}) =>
  t.json<Json>({ method: 'POST', url: '/spend/track', payload: payload as object, headers });

describe('POST /pacing/decision', () => {
  it('allows a bid within budget and reserves one impression at the bid', async () => {
    const { status, body } = await decide({ campaign_id: 'camp-001', bid_cents: 150 });
    expect(status).toBe(200);
    expect(body).toEqual({ allow_bid: true, max_bid_cents: 150, throttle_rate: 0, reason: 'within_budget' });
    // A CPM of 150 cents costs 1,500 micros per impression.
    expect((await statusOf(t, 'camp-001')).reserved_micros).toBe(1500);
  });

  it('caps the bid at the campaign max bid and accepts fractional cents', async () => {
    await createCampaign(t, 'capped', { max_bid_cents: 100 });
    const { body } = await decide({ campaign_id: 'capped', bid_cents: 150.5 });
    expect(body.max_bid_cents).toBe(100);
    const { body: small } = await decide({ campaign_id: 'camp-001', bid_cents: 0.0001 });
    expect(small.allow_bid).toBe(true);
    expect(small.max_bid_cents).toBe(0.0001);
  });

  it('takes a value signal (predicted_ctr or value) into the pacer; rejects one out of range', async () => {
    const ok1 = await decide({ campaign_id: 'camp-001', bid_cents: 150, predicted_ctr: 0.002 });
    const ok2 = await decide({ campaign_id: 'camp-001', bid_cents: 150, value: 42 });
    expect([ok1.status, ok2.status]).toEqual([200, 200]);
    const values = t.runtime.instance.states.get('camp-001')!.values!;
    expect(values.seen).toBe(2);
    expect([values.ring[0], values.ring[1]]).toEqual([Math.fround(0.002), 42]);
    for (const bad of [{ predicted_ctr: 1.5 }, { predicted_ctr: -0.1 }, { value: -1 }, { value: '3' }]) {
      const res = await decide({ campaign_id: 'camp-001', bid_cents: 150, ...bad });
      expect([res.status, res.body.error.code]).toEqual([400, 'PACER_ERR_VALIDATION']);
    }
    const batch = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decisions',
      payload: { candidates: [{ campaign_id: 'camp-001', bid_cents: 150, predicted_ctr: 0.01 }] },
    });
    expect(batch.status).toBe(200);
    expect(values.seen).toBe(3);
  });

  it('denies a paused campaign with reason paused', async () => {
    await createCampaign(t, 'paused', { status: 'PAUSED' });
    const { status, body } = await decide({ campaign_id: 'paused', bid_cents: 150 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ allow_bid: false, max_bid_cents: 0, reason: 'paused' });
  });

  it('answers 404 PACER_ERR_UNKNOWN_CAMPAIGN for an unknown campaign', async () => {
    const { status, body } = await decide({ campaign_id: 'no-such', bid_cents: 150 });
    expect(status).toBe(404);
    expect(body.error.code).toBe('PACER_ERR_UNKNOWN_CAMPAIGN');
    expect(body.error.message).toContain('no-such');
  });

  const bad: [string, unknown, number, string][] = [
    ['missing campaign_id', { bid_cents: 150 }, 400, 'PACER_ERR_VALIDATION'],
    ['missing bid_cents', { campaign_id: 'camp-001' }, 400, 'PACER_ERR_VALIDATION'],
    ['bid_cents as a string', { campaign_id: 'camp-001', bid_cents: '150' }, 400, 'PACER_ERR_VALIDATION'],
    ['campaign_id as a number', { campaign_id: 1, bid_cents: 150 }, 400, 'PACER_ERR_VALIDATION'],
    ['negative bid', { campaign_id: 'camp-001', bid_cents: -1 }, 400, 'PACER_ERR_VALIDATION'],
    ['zero bid', { campaign_id: 'camp-001', bid_cents: 0 }, 400, 'PACER_ERR_VALIDATION'],
    ['huge bid', { campaign_id: 'camp-001', bid_cents: 1e300 }, 400, 'PACER_ERR_VALIDATION'],
    [
      'bid finer than a micro',
      { campaign_id: 'camp-001', bid_cents: 0.00001 },
      400,
      'PACER_ERR_INVALID_AMOUNT',
    ],
    ['id with spaces', { campaign_id: 'camp 001', bid_cents: 150 }, 400, 'PACER_ERR_VALIDATION'],
    ['unknown field', { campaign_id: 'camp-001', bid_cents: 150, bid: 1 }, 400, 'PACER_ERR_VALIDATION'],
    [
      'empty request_id',
      { campaign_id: 'camp-001', bid_cents: 150, request_id: '' },
      400,
      'PACER_ERR_VALIDATION',
    ],
    ['an array body', [{ campaign_id: 'camp-001', bid_cents: 150 }], 400, 'PACER_ERR_VALIDATION'],
  ];
  it.each(bad)(
    'refuses %s with a stable code and reserves nothing',
    async (_name, payload, code, errorCode) => {
      const before = await statusOf(t, 'camp-001');
      const { status, body } = await decide(payload);
      expect(status).toBe(code);
      expect(body.error.code).toBe(errorCode);
      expect(body.error.message.length).toBeGreaterThan(10);
      expect(await statusOf(t, 'camp-001')).toEqual(before);
    },
  );

  it('names the missing field and the wrong type in the message', async () => {
    expect((await decide({ campaign_id: 'camp-001' })).body.error.message).toContain('bid_cents');
    expect((await decide({ campaign_id: 'camp-001', bid_cents: 'x' })).body.error.message).toMatch(
      /bid_cents must be number/,
    );
  });

  it('maps malformed JSON, an empty body, a wrong content type and an oversized body', async () => {
    const before = await statusOf(t, 'camp-001');
    const raw = (payload: string, contentType = 'application/json') =>
      t.json<Json>({
        method: 'POST',
        url: '/pacing/decision',
        payload,
        headers: { 'content-type': contentType },
      });
    const malformed = await raw('{"campaign_id": "camp-001", "bid_cents": 150');
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'PACER_ERR_MALFORMED_JSON']);
    const empty = await raw('');
    expect([empty.status, empty.body.error.code]).toEqual([400, 'PACER_ERR_EMPTY_BODY']);
    const text = await raw('campaign_id=camp-001', 'text/plain');
    expect([text.status, text.body.error.code]).toEqual([415, 'PACER_ERR_UNSUPPORTED_MEDIA_TYPE']);
    const big = await raw(
      JSON.stringify({ campaign_id: 'camp-001', bid_cents: 150, pad: 'x'.repeat(70_000) }),
    );
    expect([big.status, big.body.error.code]).toEqual([413, 'PACER_ERR_BODY_TOO_LARGE']);
    expect(await statusOf(t, 'camp-001')).toEqual(before);
  });

  it('warns while the store is unreachable', async () => {
    t.store.down = true;
    await t.runtime.syncNow();
    const { status, body } = await decide({ campaign_id: 'camp-001', bid_cents: 150 });
    expect(status).toBe(200);
    expect(body.warning).toBe('Operating in degraded mode');
    expect(body.throttle_rate).toBeGreaterThanOrEqual(0.5);
    t.store.down = false;
    await t.runtime.syncNow();
    expect((await decide({ campaign_id: 'camp-001', bid_cents: 150 })).body.warning).toBeUndefined();
  });
});

describe('POST /pacing/decisions (one auction, many campaigns)', () => {
  it("holds each candidate's reservation apart, so each win notice releases its own", async () => {
    await createCampaign(t, 'camp-002');
    const { body } = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decisions',
      payload: {
        request_id: 'auction-9',
        candidates: [
          { campaign_id: 'camp-001', bid_cents: 200 },
          { campaign_id: 'camp-002', bid_cents: 200 },
        ],
      },
    });
    expect((body.decisions as Json[]).every((d) => d.allow_bid === true)).toBe(true);
    for (const id of ['camp-001', 'camp-002']) {
      expect(
        (
          await spend(
            { campaign_id: id, spend_cents: 0.15, event_id: `win-${id}`, request_id: 'auction-9' },
            bearer,
          )
        ).status,
      ).toBe(200);
    }
    for (const id of ['camp-001', 'camp-002']) {
      const status = await statusOf(t, id);
      expect(status.spent_today_micros).toBe(1_500);
      expect(status.reserved_micros).toBe(0);
    }
  });
  it('decides every candidate and marks unknown campaigns without failing the batch', async () => {
    await createCampaign(t, 'paused', { status: 'PAUSED' });
    const { status, body } = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decisions',
      payload: {
        request_id: 'auction-1',
        candidates: [
          { campaign_id: 'camp-001', bid_cents: 150 },
          { campaign_id: 'paused', bid_cents: 150 },
          { campaign_id: 'gone', bid_cents: 150 },
        ],
      },
    });
    expect(status).toBe(200);
    expect(body.decisions.map((d: Json) => [d.campaign_id, d.allow_bid, d.reason])).toEqual([
      ['camp-001', true, 'within_budget'],
      ['paused', false, 'paused'],
      ['gone', false, 'unknown_campaign'],
    ]);
  });

  it('refuses the whole batch, reserving nothing, when any amount is bad', async () => {
    const before = await statusOf(t, 'camp-001');
    const { status, body } = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decisions',
      payload: {
        candidates: [
          { campaign_id: 'camp-001', bid_cents: 150 },
          { campaign_id: 'camp-001', bid_cents: 0.000001 },
        ],
      },
    });
    expect([status, body.error.code]).toEqual([400, 'PACER_ERR_INVALID_AMOUNT']);
    expect(body.error.message).toContain('candidates[1].bid_cents');
    expect(await statusOf(t, 'camp-001')).toEqual(before);
  });

  it.each([
    ['no candidates', { candidates: [] }],
    [
      'too many candidates',
      { candidates: Array.from({ length: 257 }, () => ({ campaign_id: 'camp-001', bid_cents: 1 })) },
    ],
    ['a negative bid', { candidates: [{ campaign_id: 'camp-001', bid_cents: -5 }] }],
    ['candidates not a list', { candidates: { campaign_id: 'camp-001', bid_cents: 1 } }],
  ])('refuses %s with 400', async (_name, payload) => {
    const before = await statusOf(t, 'camp-001');
    const { status, body } = await t.json<Json>({ method: 'POST', url: '/pacing/decisions', payload });
    expect([status, body.error.code]).toEqual([400, 'PACER_ERR_VALIDATION']);
    expect(await statusOf(t, 'camp-001')).toEqual(before);
  });
});

describe('POST /spend/track', () => {
  it('counts an event once; a retry is a duplicate that changes nothing', async () => {
    const first = await spend({ campaign_id: 'camp-001', spend_cents: 125.5, event_id: 'win-1' });
    expect(first).toEqual({
      status: 200,
      body: { campaign_id: 'camp-001', event_id: 'win-1', counted: true, duplicate: false, journaled: false },
    });
    const after = await statusOf(t, 'camp-001');
    expect(after.spent_today_micros).toBe(1_255_000);
    expect(after.spent_today_cents).toBe(125.5);
    const again = await spend({ campaign_id: 'camp-001', spend_cents: 125.5, event_id: 'win-1' });
    expect(again.body).toMatchObject({ counted: false, duplicate: true });
    expect(await statusOf(t, 'camp-001')).toEqual(after);
  });

  it('keeps fractional cents exact down to one micro', async () => {
    for (let i = 0; i < 3; i++)
      await spend({ campaign_id: 'camp-001', spend_cents: 0.0001, event_id: `e${i}` });
    expect((await statusOf(t, 'camp-001')).spent_today_micros).toBe(3);
  });

  it('releases the reservation of the decision it settles', async () => {
    await decide({ campaign_id: 'camp-001', bid_cents: 200, request_id: 'req-9' });
    expect((await statusOf(t, 'camp-001')).reserved_micros).toBe(2000);
    await spend({ campaign_id: 'camp-001', spend_cents: 0.15, event_id: 'win-9', request_id: 'req-9' });
    const s = await statusOf(t, 'camp-001');
    expect([s.reserved_micros, s.spent_today_micros]).toEqual([0, 1500]);
  });

  const bad: [string, unknown, number, string][] = [
    ['missing event_id', { campaign_id: 'camp-001', spend_cents: 1 }, 400, 'PACER_ERR_VALIDATION'],
    ['missing spend_cents', { campaign_id: 'camp-001', event_id: 'x' }, 400, 'PACER_ERR_VALIDATION'],
    [
      'negative spend',
      { campaign_id: 'camp-001', spend_cents: -1, event_id: 'x' },
      400,
      'PACER_ERR_VALIDATION',
    ],
    [
      'huge spend',
      { campaign_id: 'camp-001', spend_cents: 1e12, event_id: 'x' },
      400,
      'PACER_ERR_VALIDATION',
    ],
    [
      'spend as a string',
      { campaign_id: 'camp-001', spend_cents: '1', event_id: 'x' },
      400,
      'PACER_ERR_VALIDATION',
    ],
    [
      'spend finer than a micro',
      { campaign_id: 'camp-001', spend_cents: 0.00001, event_id: 'x' },
      400,
      'PACER_ERR_INVALID_AMOUNT',
    ],
    [
      'unknown campaign',
      { campaign_id: 'nope', spend_cents: 1, event_id: 'x' },
      404,
      'PACER_ERR_UNKNOWN_CAMPAIGN',
    ],
    [
      'an event id too long',
      { campaign_id: 'camp-001', spend_cents: 1, event_id: 'x'.repeat(129) },
      400,
      'PACER_ERR_VALIDATION',
    ],
  ];
  it.each(bad)('refuses %s and books nothing', async (_name, payload, code, errorCode) => {
    const before = await statusOf(t, 'camp-001');
    const { status, body } = await spend(payload);
    expect([status, body.error.code]).toEqual([code, errorCode]);
    expect(await statusOf(t, 'camp-001')).toEqual(before);
    // The refused event id was not remembered: sending it properly now counts.
    expect((await spend({ campaign_id: 'camp-001', spend_cents: 1, event_id: 'x' })).body.counted).toBe(true);
  });

  it('journals spend while the store is unreachable and says so', async () => {
    t.store.down = true;
    await t.runtime.syncNow();
    const { body } = await spend({ campaign_id: 'camp-001', spend_cents: 10, event_id: 'during-outage' });
    expect(body).toMatchObject({ counted: true, journaled: true });
    expect((await statusOf(t, 'camp-001')).spent_today_cents).toBe(10);
  });
});

describe('GET /budget/status/:id', () => {
  it('reports spend, remaining, target, throttle and breaker in cents and micros', async () => {
    await spend({ campaign_id: 'camp-001', spend_cents: 1000.25, event_id: 'w1' });
    const s = await statusOf(t, 'camp-001');
    expect(s).toMatchObject({
      campaign_id: 'camp-001',
      day: '2024-06-03',
      pacing_mode: 'EVEN',
      daily_budget_cents: 1_000_000,
      daily_budget_micros: 10_000_000_000,
      total_budget_cents: null,
      spent_today_cents: 1000.25,
      spent_today_micros: 10_002_500,
      spent_this_hour_micros: 10_002_500,
      remaining_today_micros: 10_000_000_000 - 10_002_500,
      remaining_today_cents: 998_999,
      breaker_state: 'CLOSED',
      circuit_breaker_open: false,
      degraded: false,
    });
    // Noon on an EVEN curve: half the day's budget.
    expect(s.target_spent_micros).toBe(5_000_000_000);
    expect(s.utilization_percentage).toBe(0.1);
  });

  it('shows the classic breaker open once the budget is spent (the reference validation scenario)', async () => {
    await t.close();
    t = await testApp({ BREAKER_MODE: 'classic' });
    await createCampaign(t, 'test-cb-001', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    for (let i = 0; i < 20; i++)
      await spend({ campaign_id: 'test-cb-001', spend_cents: 50, event_id: `cb-${i}` });
    const { body } = await decide({ campaign_id: 'test-cb-001', bid_cents: 100 });
    expect(body).toMatchObject({ allow_bid: false, reason: 'budget_exhausted' });
    const s = await statusOf(t, 'test-cb-001');
    expect([s.circuit_breaker_open, s.breaker_state, s.remaining_today_cents]).toEqual([true, 'OPEN', 0]);
  });

  it('the default precision breaker stays closed at the budget and opens once spend passes it', async () => {
    await createCampaign(t, 'test-cb-002', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    for (let i = 0; i < 20; i++)
      await spend({ campaign_id: 'test-cb-002', spend_cents: 50, event_id: `cb-${i}` });
    const full = await decide({ campaign_id: 'test-cb-002', bid_cents: 100 });
    expect(full.body).toMatchObject({ allow_bid: false, reason: 'budget_exhausted' });
    expect((await statusOf(t, 'test-cb-002')).breaker_state).toBe('CLOSED');
    // A win notice without a live reservation pushes spend past the budget: overspend risk.
    await spend({ campaign_id: 'test-cb-002', spend_cents: 1, event_id: 'cb-late' });
    await decide({ campaign_id: 'test-cb-002', bid_cents: 100 });
    expect((await statusOf(t, 'test-cb-002')).breaker_state).toBe('OPEN');
  });

  it('answers 404 for an unknown campaign and 400 for an id that cannot exist', async () => {
    const unknown = await t.json<Json>({ method: 'GET', url: '/budget/status/nope' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'PACER_ERR_UNKNOWN_CAMPAIGN']);
    const bad = await t.json<Json>({ method: 'GET', url: `/budget/status/${'-'.repeat(3)}` });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'PACER_ERR_VALIDATION']);
  });
});

describe('write routes with an API key', () => {
  it('require the bearer key on /spend/track and on decisions (a decision reserves budget)', async () => {
    const k = await testApp({ API_KEY });
    try {
      const created = await k.inject({
        method: 'POST',
        url: '/campaigns',
        payload: { id: 'c1', daily_budget_cents: 100 },
        headers: bearer,
      });
      expect(created.statusCode).toBe(201);
      const denied = await k.json<Json>({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'c1', spend_cents: 1, event_id: 'e' },
      });
      expect([denied.status, denied.body.error.code]).toEqual([401, 'PACER_ERR_UNAUTHORIZED']);
      expect((await statusOf(k, 'c1')).spent_today_micros).toBe(0);
      const ok = await k.json<Json>({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'c1', spend_cents: 1, event_id: 'e' },
        headers: bearer,
      });
      expect(ok.body.counted).toBe(true);
      const anonymous = await k.json<Json>({
        method: 'POST',
        url: '/pacing/decision',
        payload: { campaign_id: 'c1', bid_cents: 1 },
      });
      expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'PACER_ERR_UNAUTHORIZED']);
      const d = await k.json<Json>({
        method: 'POST',
        url: '/pacing/decision',
        payload: { campaign_id: 'c1', bid_cents: 1 },
        headers: bearer,
      });
      expect(d.status).toBe(200);
    } finally {
      await k.close();
    }
  });
});
