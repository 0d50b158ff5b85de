import { afterEach, describe, expect, it } from 'vitest';
import { type Json, type TestApp, createCampaign, testApp } from './http.harness';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

describe('GET /dashboard/day/:id (the chart data)', () => {
  it("gives the pacing curve's knots in cents and today's hourly spend", async () => {
    t = await testApp();
    await createCampaign(t, 'even', { daily_budget_cents: 2400, pacing_mode: 'EVEN' });
    await createCampaign(t, 'front', { daily_budget_cents: 1000, pacing_mode: 'FRONT_LOADED' });
    await createCampaign(t, 'asap', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    await t.inject({
      method: 'POST',
      url: '/spend/track',
      payload: { campaign_id: 'even', spend_cents: 7, event_id: 'e1' },
    });
    await t.runtime.syncNow();

    const even = (await t.json<Json>({ method: 'GET', url: '/dashboard/day/even' })).body;
    expect(even.target_knots_cents).toEqual(Array.from({ length: 25 }, (_, k) => k * 100));
    // The harness clock is noon UTC: the spend sits in hour 12.
    expect(even.hourly_spent_cents[12]).toBe(7);
    expect(even).toMatchObject({ day: '2024-06-03', pacing_mode: 'EVEN', daily_budget_cents: 2400 });
    const front = (await t.json<Json>({ method: 'GET', url: '/dashboard/day/front' })).body;
    expect(front.target_knots_cents[12]).toBeCloseTo(700, 6);
    expect(front.target_knots_cents[24]).toBe(1000);
    // The status's target at noon is the curve's knot 12: the chart and the pacer agree.
    const status = (await t.json<Json>({ method: 'GET', url: '/budget/status/front' })).body;
    expect(status.target_spent_cents).toBeCloseTo(front.target_knots_cents[12], 2);
    expect([status.as_of, status.day_start, status.day_end]).toEqual([
      '2024-06-03T12:00:00.000Z',
      '2024-06-03T00:00:00.000Z',
      '2024-06-04T00:00:00.000Z',
    ]);
    expect(
      (await t.json<Json>({ method: 'GET', url: '/dashboard/day/asap' })).body.target_knots_cents,
    ).toBeNull();
  });

  it('answers an unknown campaign with 404 and a malformed id with 400, each with a code', async () => {
    t = await testApp();
    const unknown = await t.json<Json>({ method: 'GET', url: '/dashboard/day/nope' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'PACER_ERR_UNKNOWN_CAMPAIGN']);
    const proto = await t.json<Json>({ method: 'GET', url: '/dashboard/day/__proto__' });
    expect([proto.status, proto.body.error.code]).toEqual([400, 'PACER_ERR_VALIDATION']);
  });
});
