import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../server/config';
import { CONFIG_EXIT_CODE, ConfigError, ERROR_CODES } from '../../server/errors';
import { DecisionRequest } from '../../server/http/schemas';
import { type Json, type TestApp, createCampaign, testApp } from './http.harness';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

describe('GET /health', () => {
  it('is 200 healthy on the embedded store, where redis_healthy is null', async () => {
    t = await testApp();
    const res = await t.json<Json>({ method: 'GET', url: '/health' });
    expect(res).toEqual({
      status: 200,
      body: {
        status: 'healthy',
        redis_healthy: null,
        store: 'embedded',
        instance_id: 'test-1',
        pending_replay: 0,
        campaigns: 0,
        ready: true,
        store_errors: 0,
        last_store_error: null,
        journal_failing: false,
      },
    });
  });

  it('stays 200 but says degraded, with redis_healthy false and spend to replay, while the store is down', async () => {
    t = await testApp({}, { storeKind: 'redis' });
    await createCampaign(t, 'c1');
    t.store.down = true;
    await t.runtime.syncNow();
    await t.inject({
      method: 'POST',
      url: '/spend/track',
      payload: { campaign_id: 'c1', spend_cents: 5, event_id: 'e1' },
    });
    const res = await t.json<Json>({ method: 'GET', url: '/health' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'degraded',
      redis_healthy: false,
      store: 'redis',
      pending_replay: 1,
    });
    t.store.down = false;
    await t.runtime.syncNow();
    expect((await t.json<Json>({ method: 'GET', url: '/health' })).body).toMatchObject({
      status: 'healthy',
      pending_replay: 0,
    });
  });
});

describe('GET /metrics', () => {
  it('exports request durations, decisions by reason, per-campaign utilization and breaker, degraded mode, store errors', async () => {
    t = await testApp({ BREAKER_MODE: 'classic' }, { storeKind: 'redis' });
    await createCampaign(t, 'c1', { daily_budget_cents: 1000 });
    await t.inject({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 100 },
    });
    await t.inject({
      method: 'POST',
      url: '/spend/track',
      payload: { campaign_id: 'c1', spend_cents: 980, event_id: 'e1' },
    });
    await t.inject({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 100 },
    });
    t.store.down = true;
    await t.runtime.syncNow();
    const res = await t.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(
      /pacer_request_duration_seconds_count\{method="POST",route="\/pacing\/decision",status_code="200"\} 2/,
    );
    expect(text).toContain('pacer_decisions_total{reason="within_budget"} 1');
    // 98% committed passes the classic breaker's 95% trip ratio.
    expect(text).toContain('pacer_decisions_total{reason="circuit_open"} 1');
    expect(text).toContain('pacer_budget_utilization_percentage{campaign_id="c1"} 98');
    expect(text).toContain('pacer_circuit_breaker_state{campaign_id="c1"} 2');
    expect(text).toContain('pacer_degraded_mode 1');
    expect(text).toContain('pacer_spend_events_total{outcome="counted"} 1');
    // The failed sync round the runtime saw, counted from its own tally.
    expect(text).toContain(`pacer_store_errors_total{source="runtime"} ${t.runtime.instance.storeErrors}`);
    expect(t.runtime.instance.storeErrors).toBeGreaterThan(0);
    expect(text).toContain('pacer_store_errors_total{source="http"} 0');
    // Each family once, and the text ends as the exposition format wants.
    expect(text.match(/^# TYPE pacer_throttle_rate gauge$/gm)).toHaveLength(1);
    expect(text).toMatch(/\npacer_throttle_rate\{campaign_id="c1"\} 0.5\n$/);
  });

  it('counts store errors seen by requests: a campaign that cannot be saved is a 503 with a code', async () => {
    t = await testApp({}, { storeKind: 'redis' });
    t.store.down = true;
    const res = await t.json<Json>({
      method: 'POST',
      url: '/campaigns',
      payload: { id: 'c1', daily_budget_cents: 100 },
    });
    expect([res.status, res.body.error.code]).toEqual([503, 'PACER_ERR_STORE_UNAVAILABLE']);
    t.store.down = false;
    expect((await t.json<Json>({ method: 'GET', url: '/campaigns' })).body.count).toBe(0);
    expect((await t.inject({ method: 'GET', url: '/metrics' })).body).toContain(
      'pacer_store_errors_total{source="http"} 1',
    );
  });
});

describe('OpenAPI docs', () => {
  it('documents every route with the same schemas that validate', async () => {
    t = await testApp();
    const doc = (await t.json<Json>({ method: 'GET', url: '/docs/json' })).body;
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/alerts/{id}',
        '/bid',
        '/budget/adjust',
        '/budget/status/{id}',
        '/campaigns',
        '/campaigns/{id}',
        '/health',
        '/health/live',
        '/health/ready',
        '/metrics',
        '/pacing/decision',
        '/pacing/decisions',
        '/pacing/mode',
        '/performance/{id}',
        '/spend/track',
      ].sort(),
    );
    const body = doc.paths['/pacing/decision'].post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(DecisionRequest.required);
    expect(body.properties.bid_cents).toMatchObject({ exclusiveMinimum: 0, type: 'number' });
    const errorSchema =
      doc.paths['/pacing/decision'].post.responses['404'].content['application/json'].schema;
    expect(errorSchema.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_CODES));
    const ui = await t.inject({ method: 'GET', url: '/docs/' });
    expect([ui.statusCode, ui.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
  });
});

describe('unknown routes and the error shape', () => {
  it('answers unknown paths and methods with PACER_ERR_ROUTE_NOT_FOUND', async () => {
    t = await testApp();
    for (const [method, url] of [
      ['GET', '/nope'],
      ['PATCH', '/campaigns'],
      ['GET', '/pacing/decision'],
    ] as const) {
      const res = await t.json<Json>({ method, url });
      expect([res.status, res.body.error.code]).toEqual([404, 'PACER_ERR_ROUTE_NOT_FOUND']);
      expect(res.body.error.message).toContain('/docs');
    }
  });
});

describe('GET /dashboard', () => {
  it('serves one self-contained page that loads nothing from elsewhere', async () => {
    t = await testApp();
    const res = await t.inject({ method: 'GET', url: '/dashboard' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).not.toMatch(/<script[^>]+src=|https?:\/\/|(src|href)="\/\//);
    expect(res.headers['content-security-policy']).toMatch(/script-src 'sha256-[^']+'/);
  });
});

describe('WS /ws/budget-updates', () => {
  it('sends a snapshot, then spend, breaker and campaign events in cents', async () => {
    t = await testApp({ BREAKER_MODE: 'classic' });
    await createCampaign(t, 'c1', { daily_budget_cents: 1000 });
    const messages: Json[] = [];
    const waiting: (() => void)[] = [];
    // Listen from the first frame: the snapshot is sent as soon as the socket opens.
    const ws = await t.app.injectWS(
      '/ws/budget-updates',
      {},
      {
        onInit(socket) {
          socket.on('message', (data: Buffer) => {
            messages.push(JSON.parse(data.toString()));
            for (const wake of waiting.splice(0)) wake();
          });
        },
      },
    );
    const next = async (type: string): Promise<Json> => {
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    };
    const snapshot = await next('snapshot');
    expect(snapshot.campaigns.map((c: Json) => [c.campaign.id, c.status.spent_today_cents])).toEqual([
      ['c1', 0],
    ]);
    expect(snapshot.health.status).toBe('healthy');

    await t.inject({
      method: 'POST',
      url: '/spend/track',
      payload: { campaign_id: 'c1', spend_cents: 990, event_id: 'e1' },
    });
    const spend = await next('spend');
    expect([spend.campaign_id, spend.status.spent_today_cents]).toEqual(['c1', 990]);
    await t.inject({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 100 },
    });
    expect(await next('breaker')).toMatchObject({
      campaign_id: 'c1',
      state: 'OPEN',
      at: '2024-06-03T12:00:00.000Z',
    });
    await t.inject({ method: 'DELETE', url: '/campaigns/c1' });
    const gone = await next('campaign');
    expect(gone).toMatchObject({ campaign_id: 'c1', deleted: true, campaign: null });
    ws.terminate();
  });
});

describe('configuration', () => {
  it('defaults to the embedded store on 127.0.0.1:8080', () => {
    const c = loadConfig({}, { instanceId: 'h-1' });
    expect(c).toMatchObject({
      redisUrl: null,
      port: 8080,
      host: '127.0.0.1',
      apiKey: null,
      instanceId: 'h-1',
      logLevel: 'info',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the breaker and pacing thresholds into the core config', () => {
    const c = loadConfig(
      {
        BREAKER_TRIP_RATIO: '0.9',
        BREAKER_COOLDOWN_MS: '60000',
        BREAKER_PROBE_COUNT: '3',
        DEGRADED_THROTTLE: '0.7',
      },
      { instanceId: 'h' },
    );
    expect(c.pacer.breaker).toMatchObject({ tripRatio: 0.9, cooldownMs: 60_000, probeCount: 3 });
    expect(c.pacer.degradedThrottle).toBe(0.7);
    expect(c.pacer.breaker.mode).toBe('precision');
    expect(loadConfig({ BREAKER_MODE: 'Classic' }, { instanceId: 'h' }).pacer.breaker.mode).toBe('classic');
  });

  it('reports every bad variable at once, with a distinct exit code', () => {
    let caught: unknown;
    try {
      loadConfig(
        {
          PORT: '99999',
          REDIS_URL: 'localhost:6379',
          LOG_LEVEL: 'loud',
          BREAKER_TRIP_RATIO: '0',
          BREAKER_MODE: 'loose',
          API_KEY: 'abc',
        },
        { instanceId: 'h' },
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'REDIS_URL', 'LOG_LEVEL', 'BREAKER_TRIP_RATIO', 'BREAKER_MODE', 'API_KEY'])
      expect(problems).toContain(name);
    expect(CONFIG_EXIT_CODE).toBe(78);
  });

  it('says what each bad value must be and what the variable is for, from the one schema', () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env, { instanceId: 'h' });
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems];
      }
    };
    expect(problemsOf({ PORT: '80.5' })).toEqual([
      'PORT="80.5" must be a whole number from 0 to 65535: TCP port to listen on (default 8080).',
    ]);
    // Decimal only, as before the schema: no exponent, hex or sign prefix slips through.
    for (const odd of ['1e3', '0x10', '+5', '0b11'])
      expect(problemsOf({ PORT: odd })[0], odd).toMatch(/^PORT=".*" must be a whole number/);
    expect(loadConfig({ DEGRADED_THROTTLE: '.5' }, { instanceId: 'h' }).pacer.degradedThrottle).toBe(0.5);
    expect(problemsOf({ DEGRADED_THROTTLE: '1.5' })[0]).toMatch(
      /^DEGRADED_THROTTLE="1.5" must be a number from 0 to 1: throttle floor/,
    );
    expect(problemsOf({ BREAKER_TRIP_RATIO: '0' })[0]).toMatch(/must be a number above 0 and up to 1/);
    expect(problemsOf({ LOG_LEVEL: 'Loud' })[0]).toMatch(/^LOG_LEVEL="loud" must be one of fatal, error/);
    expect(problemsOf({ DATABASE_URL: 'mysql://x' })[0]).toMatch(/must look like postgres:\/\//);
    // Blank is unset; numbers arrive as numbers; every documented variable is in the schema.
    const c = loadConfig({ PORT: ' 9090 ', HOST: '  ', BREAKER_PROBE_COUNT: '7' }, { instanceId: 'h' });
    expect([c.port, c.host, c.pacer.breaker.probeCount]).toEqual([9090, '127.0.0.1', 7]);
    expect(Object.keys(CONFIG_VARIABLES)).toContain('REDIS_SENTINELS');
  });
});
