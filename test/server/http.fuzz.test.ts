import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../server/errors';
import { type Json, type TestApp, createCampaign, statusOf, testApp } from './http.harness';

/**
 * Random request bodies: near-valid ones (right fields, hostile values) and arbitrary JSON. The
 * server must answer 2xx, or 4xx with a catalogued code and leave the campaign untouched; never
 * 5xx. fast-check prints the seed and the shrunk body of any failure, to replay it.
 */
let t: TestApp;
beforeAll(async () => {
  t = await testApp();
  await createCampaign(t, 'camp-001');
});
afterAll(async () => {
  await t.close();
});

const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, -1, 1e-5, 0.00005, 1e11, 1e11 + 1, Number.MAX_SAFE_INTEGER, 1e308),
);
const hostileValue = fc.oneof(
  hostileNumber,
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer()),
);
const campaignId = fc.oneof(fc.constant('camp-001'), fc.string({ maxLength: 140 }), hostileValue);

const bodies = {
  '/pacing/decision': fc.oneof(
    fc.record(
      { campaign_id: campaignId, bid_cents: hostileValue, request_id: hostileValue },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
  ),
  '/spend/track': fc.oneof(
    fc.record(
      { campaign_id: campaignId, spend_cents: hostileValue, event_id: fc.oneof(fc.string(), hostileValue) },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
  ),
  '/budget/adjust': fc.oneof(
    fc.record(
      { campaign_id: campaignId, daily_budget_cents: hostileValue, total_budget_cents: hostileValue },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
  ),
};

describe('fuzzed request bodies', () => {
  for (const [url, body] of Object.entries(bodies)) {
    it(`POST ${url} never fails with 5xx and refuses without side effects`, async () => {
      await fc.assert(
        fc.asyncProperty(body, async (payload) => {
          const before = await statusOf(t, 'camp-001');
          const res = await t.inject({
            method: 'POST',
            url,
            payload: JSON.stringify(payload),
            headers: { 'content-type': 'application/json' },
          });
          expect(res.statusCode).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const err = res.json().error;
            expect(Object.keys(ERROR_CODES)).toContain(err.code);
            expect(typeof err.message).toBe('string');
            expect(await statusOf(t, 'camp-001')).toEqual(before);
          }
        }),
        { numRuns: 150, seed: 20240603 },
      );
    });
  }
});
