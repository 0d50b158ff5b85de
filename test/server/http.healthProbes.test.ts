import { afterEach, describe, expect, it } from 'vitest';
import { type Json, type TestApp, createCampaign, testApp } from './http.harness';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

describe('GET /health/live and /health/ready', () => {
  it('are both 200 on a started instance', async () => {
    t = await testApp();
    expect(await t.json<Json>({ method: 'GET', url: '/health/live' })).toEqual({
      status: 200,
      body: { status: 'live' },
    });
    expect(await t.json<Json>({ method: 'GET', url: '/health/ready' })).toEqual({
      status: 200,
      body: { status: 'ready', degraded: false },
    });
  });

  it('stay ready while degraded: the instance still decides from its lease', async () => {
    t = await testApp({}, { storeKind: 'redis' });
    await createCampaign(t, 'c1');
    t.store.down = true;
    await t.runtime.syncNow();
    expect((await t.json<Json>({ method: 'GET', url: '/health' })).body.status).toBe('degraded');
    expect(await t.json<Json>({ method: 'GET', url: '/health/ready' })).toEqual({
      status: 200,
      body: { status: 'ready', degraded: true },
    });
  });

  it('is live but not ready when the store never answered since start, and ready once it does', async () => {
    t = await testApp({}, { storeKind: 'redis', storeDownAtStart: true });
    expect((await t.json<Json>({ method: 'GET', url: '/health/live' })).status).toBe(200);
    const notReady = await t.json<Json>({ method: 'GET', url: '/health/ready' });
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ status: 'not_ready', degraded: true });
    expect(notReady.body.reason).toMatch(/Campaigns are not loaded.*journal/);
    t.store.down = false;
    t.timers.advance(1_000);
    await t.runtime.syncNow();
    await t.runtime.syncNow();
    expect(await t.json<Json>({ method: 'GET', url: '/health/ready' })).toEqual({
      status: 200,
      body: { status: 'ready', degraded: false },
    });
  });
});
