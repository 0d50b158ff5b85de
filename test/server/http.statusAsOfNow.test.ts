import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_BREAKER_CONFIG } from '../../core/breaker';
import { type Json, type TestApp, createCampaign, testApp } from './http.harness';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

const status = async (id: string) =>
  (await t.json<Json>({ method: 'GET', url: `/budget/status/${id}` })).body;

describe('GET /budget/status reports the breaker as of now', () => {
  it('shows a classic breaker OPEN once spend crosses the trip ratio with no decision since, and HALF_OPEN after the cool-down', async () => {
    // The trip ratio is the classic breaker's; the precision default is covered below.
    t = await testApp({ BREAKER_MODE: 'classic' });
    await createCampaign(t, 'c1', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    // The reference's breaker check: 20 spends, no decision in between.
    for (let i = 0; i < 20; i++) {
      await t.inject({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'c1', spend_cents: 48, event_id: `e${i}` },
      });
    }
    const open = await status('c1');
    expect([open.utilization_percentage, open.breaker_state, open.circuit_breaker_open]).toEqual([
      96,
      'OPEN',
      true,
    ]);
    expect((await t.json<Json>({ method: 'GET', url: '/alerts/c1' })).body.alerts[0].code).toBe(
      'BREAKER_OPEN',
    );
    expect((await t.inject({ method: 'GET', url: '/metrics' })).body).toContain(
      'pacer_circuit_breaker_state{campaign_id="c1"} 2',
    );
    // The next decision agrees, and starts the cool-down.
    const d = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 1 },
    });
    expect(d.body.reason).toBe('circuit_open');
    t.clock.advance(DEFAULT_BREAKER_CONFIG.cooldownMs);
    expect((await status('c1')).breaker_state).toBe('HALF_OPEN');
  });

  it('shows the precision breaker (the default) CLOSED at 96% and OPEN once spend passes the budget, with no decision since', async () => {
    t = await testApp();
    await createCampaign(t, 'c1', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    const spend = async (eventId: string, cents: number) =>
      t.inject({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'c1', spend_cents: cents, event_id: eventId },
      });
    await spend('e1', 960);
    expect((await status('c1')).breaker_state).toBe('CLOSED');
    await spend('e2', 60);
    const over = await status('c1');
    expect([over.breaker_state, over.circuit_breaker_open]).toEqual(['OPEN', true]);
  });

  it('stays CLOSED below the ratio', async () => {
    t = await testApp({ BREAKER_MODE: 'classic' });
    await createCampaign(t, 'c1', { daily_budget_cents: 1000, pacing_mode: 'ASAP' });
    await t.inject({
      method: 'POST',
      url: '/spend/track',
      payload: { campaign_id: 'c1', spend_cents: 940, event_id: 'e1' },
    });
    expect((await status('c1')).breaker_state).toBe('CLOSED');
  });
});

describe('a body without Content-Type: application/json', () => {
  it('gets a 415 whose message says to send it, with no header at all and with curl -d default', async () => {
    t = await testApp();
    for (const headers of [{}, { 'content-type': 'application/x-www-form-urlencoded' }]) {
      const res = await t.json<Json>({
        method: 'POST',
        url: '/pacing/decision',
        payload: '{"campaign_id":"c1","bid_cents":1}',
        headers,
      });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('PACER_ERR_UNSUPPORTED_MEDIA_TYPE');
      expect(res.body.error.message).toContain('Content-Type: application/json');
    }
  });
});
