import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BidEngine } from '../../server/bid/bidEngine';
import { bidInputFromJson } from '../../server/http/bidRoutes';
import type { BidRequestJson } from '../../server/http/bidSchemas';
import { type Json, type TestApp, bearer, createCampaign, statusOf, testApp } from './http.harness';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

function bidRequest(extra: Record<string, unknown> = {}, imp: Record<string, unknown> = {}) {
  return {
    id: 'req-1',
    imp: [{ id: '1', ...imp }],
    site: { domain: 'news.example' },
    device: { devicetype: 4, os: 'iOS', geo: { country: 'USA' } },
    user: { id: 'user-1', data: [{ segment: [{ id: 'sports' }] }] },
    ...extra,
  };
}

const bid = (payload: unknown) => t.json<Json>({ method: 'POST', url: '/bid', payload: payload as object });

async function reservedMicros(id: string): Promise<number> {
  return (await statusOf(t, id)).reserved_micros;
}

describe('POST /bid: the auction', () => {
  beforeEach(async () => {
    await createCampaign(t, 'low', { max_bid_cents: 100 });
    await createCampaign(t, 'high', { max_bid_cents: 300, creative_id: 'cr-high' });
    await createCampaign(t, 'mid', { max_bid_cents: 200 });
    // Would win on price, but targets Germany or is paused: never asked.
    await createCampaign(t, 'germany', { max_bid_cents: 900, targeting: { geo: ['DEU'] } });
    await createCampaign(t, 'paused', { max_bid_cents: 800, status: 'PAUSED' });
  });

  it('answers the highest price among allowed campaigns and releases every other reservation', async () => {
    const { status, body } = await bid(bidRequest());
    expect(status).toBe(200);
    expect(body).toEqual({
      id: 'req-1',
      cur: 'USD',
      seatbid: [
        {
          bid: [
            { id: 'req-1:1', impid: '1', price: 3, price_cents: 300, campaign_id: 'high', crid: 'cr-high' },
          ],
        },
      ],
    });
    // 300 cents CPM: one impression costs 3,000 micros, held until the win notice.
    expect(await reservedMicros('high')).toBe(3000);
    for (const loser of ['low', 'mid', 'germany', 'paused']) expect(await reservedMicros(loser)).toBe(0);
  });

  it('ranks by price x predicted CTR when the request gives CTRs', async () => {
    const { body } = await bid(
      bidRequest({
        ext: {
          predicted_ctr: [
            { campaign_id: 'low', predicted_ctr: 0.01 },
            { campaign_id: 'high', predicted_ctr: 0.001 },
            { campaign_id: 'mid', predicted_ctr: 0.002 },
          ],
        },
      }),
    );
    expect(body.seatbid[0].bid[0]).toMatchObject({ campaign_id: 'low', price: 1, crid: 'low' });
    expect(await reservedMicros('low')).toBe(1000);
    expect([await reservedMicros('high'), await reservedMicros('mid')]).toEqual([0, 0]);
  });

  it('skips a campaign the pacer denies: the next best wins', async () => {
    // A budget smaller than one impression at its bid: the pacer refuses it.
    await t.inject({
      method: 'POST',
      url: '/budget/adjust',
      payload: { campaign_id: 'high', daily_budget_cents: 0.2 },
      headers: bearer,
    });
    const { body } = await bid(bidRequest());
    expect(body.seatbid[0].bid[0].campaign_id).toBe('mid');
    expect([await reservedMicros('high'), await reservedMicros('low'), await reservedMicros('mid')]).toEqual([
      0, 0, 2000,
    ]);
  });

  it('filters by floor (CPM in dollars), and says no bid with 204 and a reason', async () => {
    const floored = await bid(bidRequest({}, { bidfloor: 2.5 }));
    expect(floored.body.seatbid[0].bid[0].campaign_id).toBe('high');
    const tooHigh = await t.inject({
      method: 'POST',
      url: '/bid',
      payload: bidRequest({}, { bidfloor: 3.01 }),
    });
    expect([tooHigh.statusCode, tooHigh.body, tooHigh.headers['x-no-bid-reason']]).toEqual([
      204,
      '',
      'below_floor',
    ]);
    for (const id of ['low', 'mid', 'high'])
      expect(await reservedMicros(id)).toBe(3000 * Number(id === 'high'));
  });

  it('bids once per imp, each imp won by a different campaign', async () => {
    const { body } = await bid({ ...bidRequest(), imp: [{ id: 'a' }, { id: 'b' }] });
    expect(body.seatbid[0].bid.map((b: Json) => [b.impid, b.campaign_id])).toEqual([
      ['a', 'high'],
      ['b', 'mid'],
    ]);
    expect(await reservedMicros('low')).toBe(0);
  });
});

describe('POST /bid: targeting', () => {
  it('bids only for campaigns whose targeting matches, 204 no_matching_campaign otherwise', async () => {
    await createCampaign(t, 'ios-sports', {
      max_bid_cents: 100,
      targeting: { os: ['ios'], segments: ['sports'], device_types: [4, 5], sites: ['news.example'] },
    });
    expect((await bid(bidRequest())).body.seatbid[0].bid[0].campaign_id).toBe('ios-sports');
    const android = await t.inject({
      method: 'POST',
      url: '/bid',
      payload: bidRequest({ device: { devicetype: 4, os: 'Android', geo: { country: 'USA' } } }),
    });
    expect([android.statusCode, android.headers['x-no-bid-reason']]).toEqual([204, 'no_matching_campaign']);
    const onApp = await t.inject({
      method: 'POST',
      url: '/bid',
      payload: bidRequest({ site: undefined, app: { bundle: 'com.game' } }),
    });
    expect(onApp.statusCode).toBe(204);
  });

  it('a campaign without a max bid has no price to bid with and takes no part', async () => {
    await createCampaign(t, 'no-price');
    const res = await t.inject({ method: 'POST', url: '/bid', payload: bidRequest() });
    expect([res.statusCode, res.headers['x-no-bid-reason']]).toEqual([204, 'no_matching_campaign']);
  });
});

describe('POST /bid: frequency cap', () => {
  beforeEach(async () => {
    await createCampaign(t, 'capped', { max_bid_cents: 500, targeting: { frequency_cap_per_day: 2 } });
    await createCampaign(t, 'fallback', { max_bid_cents: 100 });
  });

  it('lets a user see a capped campaign cap times a day, then bids the next campaign', async () => {
    const winners: string[] = [];
    for (let i = 0; i < 4; i++)
      winners.push((await bid(bidRequest({ id: `r${i}` }))).body.seatbid[0].bid[0].campaign_id);
    expect(winners).toEqual(['capped', 'capped', 'fallback', 'fallback']);
    // No event pipeline here: a win counts all day, not only while an impression is awaited.
    t.clock.advance(20 * 60_000);
    await t.runtime.syncNow();
    expect((await bid(bidRequest({ id: 'later' }))).body.seatbid[0].bid[0].campaign_id).toBe('fallback');
    // Another user, and a "__proto__" user id, have their own counts.
    for (const id of ['user-2', '__proto__'])
      expect((await bid(bidRequest({ user: { id } }))).body.seatbid[0].bid[0].campaign_id).toBe('capped');
    // The next local day starts afresh.
    t.clock.advance(24 * 3600_000);
    await t.runtime.syncNow();
    expect((await bid(bidRequest({ id: 'next-day' }))).body.seatbid[0].bid[0].campaign_id).toBe('capped');
  });

  it('without a user id a capped campaign cannot be kept to its cap and sits out', async () => {
    const { body } = await bid(bidRequest({ user: undefined }));
    expect(body.seatbid[0].bid[0].campaign_id).toBe('fallback');
    await t.inject({ method: 'DELETE', url: '/campaigns/fallback', headers: bearer });
    const res = await t.inject({ method: 'POST', url: '/bid', payload: bidRequest({ user: undefined }) });
    expect([res.statusCode, res.headers['x-no-bid-reason']]).toEqual([204, 'frequency_capped']);
  });
});

describe('POST /bid: bad input is a 400 that names the field', () => {
  it.each([
    [{ id: 'x', imp: [] }, 'imp'],
    [{ imp: [{ id: '1' }] }, 'id'],
    [bidRequest({ device: { geo: { country: 'US' } } }), 'country'],
    [bidRequest({ device: { devicetype: 9 } }), 'devicetype'],
    [bidRequest({}, { bidfloor: -1 }), 'bidfloor'],
    [
      bidRequest({ ext: { predicted_ctr: [{ campaign_id: '__proto__', predicted_ctr: 0.1 }] } }),
      'campaign_id',
    ],
    [bidRequest({ ext: { predicted_ctr: [{ campaign_id: 'a', predicted_ctr: 2 }] } }), 'predicted_ctr'],
    [{ ...bidRequest(), imp: Array.from({ length: 17 }, (_, i) => ({ id: String(i) })) }, 'imp'],
  ])('%j', async (payload, field) => {
    const { status, body } = await bid(payload);
    expect(status).toBe(400);
    expect(body.error.code).toBe('PACER_ERR_VALIDATION');
    expect(body.error.message).toContain(field);
  });

  it('an empty body is refused', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/bid',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('campaign targeting in the management API', () => {
  it('round-trips, normalised, and absent means everything', async () => {
    const created = await createCampaign(t, 'tg', {
      targeting: {
        geo: ['usa', 'CAN'],
        os: ['iOS'],
        dayparts: [{ weekdays: [1, 2, 3, 4, 5], hours: [9, 10, 11] }],
        frequency_cap_per_day: 3,
      },
    });
    expect(created.targeting).toEqual({
      geo: ['CAN', 'USA'],
      os: ['ios'],
      dayparts: [{ weekdays: [1, 2, 3, 4, 5], hours: [9, 10, 11] }],
      frequency_cap_per_day: 3,
    });
    const got = await t.json<Json>({ method: 'GET', url: '/campaigns/tg', headers: bearer });
    expect(got.body.targeting).toEqual(created.targeting);
    expect((await createCampaign(t, 'plain')).targeting).toBeNull();
    expect((await createCampaign(t, 'empty', { targeting: {} })).targeting).toBeNull();
  });

  it.each([
    [{ geo: ['XYZ'] }, 'targeting.geo'],
    [{ geo: ['US'] }, 'geo'],
    [{ device_types: [0] }, 'device_types'],
    [{ dayparts: [{ weekdays: [8], hours: [1] }] }, 'weekdays'],
    [{ frequency_cap_per_day: 0 }, 'frequency_cap_per_day'],
    [{ unknown: ['x'] }, 'unknown'],
  ])('refuses %j', async (targeting, field) => {
    const res = await t.json<Json>({
      method: 'POST',
      url: '/campaigns',
      payload: { id: 'bad', daily_budget_cents: 100, targeting },
      headers: bearer,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });
});

describe('BidEngine when the frequency counter is unreachable', () => {
  it('keeps capped campaigns out (a cap it cannot check is not guessed) and still bids the others', async () => {
    await createCampaign(t, 'capped', { max_bid_cents: 500, targeting: { frequency_cap_per_day: 100 } });
    await createCampaign(t, 'open', { max_bid_cents: 100 });
    const down = new Error('connection refused');
    const warnings: string[] = [];
    const engine = new BidEngine({
      runtime: t.runtime,
      frequency: {
        counts: () => Promise.reject(down),
        confirmImpressions: () => Promise.reject(down),
        takeImpression: () => Promise.reject(down),
        close: async () => {},
      },
      log: { warn: (_obj, msg) => warnings.push(msg) },
    });
    const outcome = await engine.bid(bidInputFromJson(bidRequest() as BidRequestJson));
    expect(outcome).toMatchObject({ kind: 'bid', bids: [{ campaignId: 'open' }] });
    expect(await reservedMicros('capped')).toBe(0);
    expect(warnings).toEqual(['frequency counter unreachable: capped campaigns sit this request out']);
  });
});
