import { afterEach, describe, expect, it } from 'vitest';
import { type TestApp, createCampaign, testApp } from './http.harness';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

describe('GET /metrics: pace', () => {
  it('exports the target utilization of ACTIVE campaigns with a curve, none for ASAP or paused ones', async () => {
    t = await testApp();
    // The harness clock is noon UTC: EVEN's curve is half way.
    await createCampaign(t, 'even', { pacing_mode: 'EVEN' });
    await createCampaign(t, 'asap', { pacing_mode: 'ASAP' });
    await createCampaign(t, 'paused', { pacing_mode: 'EVEN', status: 'PAUSED' });
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('# TYPE pacer_target_utilization_percentage gauge');
    expect(text).toContain('pacer_target_utilization_percentage{campaign_id="even"} 50');
    expect(text).not.toContain('pacer_target_utilization_percentage{campaign_id="asap"}');
    expect(text).not.toContain('pacer_target_utilization_percentage{campaign_id="paused"}');
    // The other families still list every campaign.
    expect(text).toContain('pacer_budget_utilization_percentage{campaign_id="asap"} 0');
    expect(text).toContain('pacer_circuit_breaker_state{campaign_id="paused"} 0');
  });
});
