import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCampaign } from '../../core/campaign';
import { loadConfig } from '../../server/config';
import { ConfigError } from '../../server/errors';
import { FlakyStore } from '../support/flakyStore';
import {
  API_KEY,
  type Json,
  T0_MS,
  type TestApp,
  bearer,
  campaignBody,
  createCampaign,
  statusOf,
  testApp,
} from './http.harness';

const READ_KEY = 'read-key-0123456789abcdef';
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('callers without a key (API_KEY set)', () => {
  it('cannot reserve budget: 200 anonymous batch decisions reserve nothing and trip nothing', async () => {
    t = await testApp({ API_KEY });
    await createCampaign(t, 'c1', { daily_budget_cents: 100, pacing_mode: 'ASAP' });
    const payload = { request_id: 'r', candidates: [{ campaign_id: 'c1', bid_cents: 1_000 }] };
    for (let i = 0; i < 200; i++) {
      const res = await t.json<Json>({ method: 'POST', url: '/pacing/decisions', payload });
      expect([res.status, res.body.error.code]).toEqual([401, 'PACER_ERR_UNAUTHORIZED']);
    }
    const status = await statusOf(t, 'c1');
    expect([status.reserved_micros, status.breaker_state]).toEqual([0, 'CLOSED']);
    const legit = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 1_000 },
      headers: bearer,
    });
    expect(legit.body.allow_bid).toBe(true);
  });

  it('read nothing but /health*, /metrics and /docs; a read key reads and may not write', async () => {
    t = await testApp({ API_KEY, API_READ_KEY: READ_KEY });
    await createCampaign(t, 'c1');
    for (const url of ['/campaigns', '/campaigns/c1', '/budget/status/c1', '/alerts/c1', '/dashboard']) {
      expect([url, (await t.inject({ method: 'GET', url })).statusCode]).toEqual([url, 401]);
      const read = await t.inject({ method: 'GET', url, headers: { authorization: `Bearer ${READ_KEY}` } });
      expect([url, read.statusCode]).toEqual([url, 200]);
    }
    // A browser opens the dashboard with ?key=; that works for reading only.
    expect((await t.inject({ method: 'GET', url: `/dashboard?key=${READ_KEY}` })).statusCode).toBe(200);
    const viaQuery = await t.json<Json>({
      method: 'POST',
      url: `/pacing/decision?key=${API_KEY}`,
      payload: { campaign_id: 'c1', bid_cents: 1 },
    });
    expect(viaQuery.status).toBe(401);
    const readWrites = await t.json<Json>({
      method: 'POST',
      url: '/campaigns',
      payload: campaignBody('c2'),
      headers: { authorization: `Bearer ${READ_KEY}` },
    });
    expect([readWrites.status, readWrites.body.error.code]).toEqual([403, 'PACER_ERR_FORBIDDEN']);
    for (const url of ['/health', '/metrics', '/docs/json']) {
      expect([url, (await t.inject({ method: 'GET', url })).statusCode]).toEqual([url, 200]);
    }
  });

  it('marks in the OpenAPI document which routes need the key', async () => {
    t = await testApp({ API_KEY });
    const doc = (await t.json<Json>({ method: 'GET', url: '/docs/json' })).body;
    expect(doc.paths['/pacing/decision'].post.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/campaigns'].get.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/health'].get.security).toBeUndefined();
  });

  it('cannot open the WebSocket without a key, nor from another origin', async () => {
    t = await testApp({ API_KEY, API_READ_KEY: READ_KEY });
    await expect(t.app.injectWS('/ws/budget-updates')).rejects.toThrow(/401/);
    const closed = new Promise<number>((resolve) => {
      void t!.app.injectWS(
        `/ws/budget-updates?key=${READ_KEY}`,
        { headers: { origin: 'http://evil.example' } },
        { onInit: (socket) => socket.on('close', (code: number) => resolve(code)) },
      );
    });
    expect(await closed).toBe(1008);
    const first = new Promise<Json>((resolve) => {
      void t!.app.injectWS(
        `/ws/budget-updates?key=${READ_KEY}`,
        {},
        { onInit: (socket) => socket.on('message', (d: Buffer) => resolve(JSON.parse(d.toString()))) },
      );
    });
    expect((await first).type).toBe('snapshot');
  });
});

describe('ids and protocol errors', () => {
  it('reads, edits and deletes a campaign whose id has 128 characters', async () => {
    t = await testApp();
    const id = `c${'x'.repeat(127)}`;
    await createCampaign(t, id);
    expect((await t.inject({ method: 'GET', url: `/campaigns/${id}` })).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: `/budget/status/${id}` })).statusCode).toBe(200);
    const put = await t.inject({
      method: 'PUT',
      url: `/campaigns/${id}`,
      payload: { daily_budget_cents: 5 },
    });
    expect(put.statusCode).toBe(200);
    expect((await t.inject({ method: 'DELETE', url: `/campaigns/${id}` })).statusCode).toBe(204);
  });

  it('answers parser and router failures in the API error shape', async () => {
    t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    const cases: [string, number, string][] = [
      [
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        'PACER_ERR_HEADERS_TOO_LARGE',
      ],
      ['GET /campaigns/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'PACER_ERR_BAD_REQUEST'],
      [
        `GET /campaigns/${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        414,
        'PACER_ERR_URI_TOO_LONG',
      ],
      [
        'POST /pacing/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
        400,
        'PACER_ERR_BAD_REQUEST',
      ],
    ];
    for (const [request, status, code] of cases) {
      const answer = await raw(port, request);
      const [head, body] = answer.split('\r\n\r\n');
      expect([head!.split('\r\n')[0], JSON.parse(body!).error.code]).toEqual([
        `HTTP/1.1 ${status} ${head!.split(' ').slice(2).join(' ').split('\r\n')[0]}`,
        code,
      ]);
      expect(head!.split(' ')[1]).toBe(String(status));
    }
  });
});

describe('a server that cannot tell yet whether a campaign exists', () => {
  it('answers 503 with Retry-After (never 404) until the store answers, then decides', async () => {
    const store = new FlakyStore();
    await store.inner.putCampaign(
      makeCampaign({ id: 'c1', dailyBudgetMicros: 10_000_000, pacingMode: 'EVEN', timeZone: 'UTC' }),
    );
    t = await testApp({}, { storeKind: 'redis', store, storeDownAtStart: true });
    const health = await t.json<Json>({ method: 'GET', url: '/health' });
    expect([health.body.ready, health.body.status]).toEqual([false, 'degraded']);
    for (const [method, url, payload] of [
      ['POST', '/pacing/decision', { campaign_id: 'c1', bid_cents: 100 }],
      ['POST', '/spend/track', { campaign_id: 'c1', spend_cents: 1, event_id: 'e1' }],
      ['GET', '/budget/status/c1', undefined],
      ['POST', '/campaigns', campaignBody('c1')],
    ] as const) {
      const res = await t.inject({ method, url, ...(payload ? { payload } : {}) });
      expect([url, res.statusCode, res.json().error.code]).toEqual([url, 503, 'PACER_ERR_NOT_READY']);
      expect(res.headers['retry-after']).toBe('1');
    }
    store.down = false;
    t.timers.advance(1_000);
    await t.runtime.syncNow();
    await t.runtime.syncNow();
    expect((await t.json<Json>({ method: 'GET', url: '/health' })).body.ready).toBe(true);
    const d = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 100 },
    });
    expect(d.status).toBe(200);
    const unknown = await t.json<Json>({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'nope', bid_cents: 1 },
    });
    expect(unknown.status).toBe(404);
  });

  it('keeps the last store error with its cause in /health', async () => {
    t = await testApp({}, { storeKind: 'redis' });
    t.store.down = true;
    t.timers.advance(300);
    await t.runtime.syncNow();
    const h = (await t.json<Json>({ method: 'GET', url: '/health' })).body;
    expect(h.status).toBe('degraded');
    expect(h.last_store_error.code).toBe('STORE_UNREACHABLE');
    expect(h.last_store_error.message).toMatch(/test store is down/);
    expect(Date.parse(h.last_store_error.at)).toBeGreaterThanOrEqual(T0_MS);
  });
});

describe('configuration', () => {
  it('refuses instance ids that JavaScript objects already carry, and a read key without a write key', () => {
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(() => loadConfig({ INSTANCE_ID: id }, { instanceId: 'x' }), id).toThrow(ConfigError);
    }
    expect(() => loadConfig({ API_READ_KEY: READ_KEY }, { instanceId: 'x' })).toThrow(/API_KEY/);
    expect(loadConfig({ INSTANCE_ID: 'proto-1' }, { instanceId: 'x' }).instanceId).toBe('proto-1');
  });
});

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
  });
}
