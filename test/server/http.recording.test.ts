import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrafficRow } from '../../core/trafficRecord';
import { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { type Json, type TestApp, bearer, createCampaign, testApp } from './http.harness';

let t: TestApp | undefined;
let dir = '';

afterEach(async () => {
  await t?.close();
  t = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function recordingApp(maxBufferedRows = 100_000): Promise<TestApp> {
  dir = mkdtempSync(join(tmpdir(), 'rec-app-'));
  t = await testApp(
    {},
    {
      recorder: (clock, timers) =>
        new TrafficRecorder({ dir, sample: 1, instanceId: 'test-1', clock, timers, maxBufferedRows }),
    },
  );
  return t;
}

describe('the server records its traffic (RECORD_DIR)', () => {
  it('one row per decision (single and batch) and per counted notice, written on close', async () => {
    const app = await recordingApp();
    await createCampaign(app, 'c1', { time_zone: 'Asia/Tokyo' });
    await createCampaign(app, 'c2');
    const d = await app.json<Json>({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 250, request_id: 'r1', predicted_ctr: 0.003 },
      headers: bearer,
    });
    expect(d.status).toBe(200);
    await app.json({
      method: 'POST',
      url: '/pacing/decisions',
      payload: {
        request_id: 'r2',
        candidates: [
          { campaign_id: 'c1', bid_cents: 100 },
          { campaign_id: 'c2', bid_cents: 120 },
        ],
      },
      headers: bearer,
    });
    for (let i = 0; i < 2; i++) {
      // The retried notice is a duplicate: it changed nothing and is not recorded.
      await app.json({
        method: 'POST',
        url: '/spend/track',
        payload: { campaign_id: 'c1', spend_cents: 0.25, event_id: 'e1', request_id: 'r1' },
        headers: bearer,
      });
    }
    const health = await app.json<Json>({ method: 'GET', url: '/health' });
    expect(health.body.recording).toMatchObject({ dir, sample: 1, rows_buffered: 4, rows_dropped: 0 });
    await app.close();
    t = undefined;
    const files = readdirSync(dir);
    expect(files).toEqual(['traffic-test-1-2024-06-03T12Z.ndjson.gz']);
    const rows = gunzipSync(readFileSync(join(dir, files[0]!)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TrafficRow);
    const decisions = rows.filter((r) => r.type === 'decision');
    expect(
      decisions.map((r) => [r.campaignId, r.requestId, r.bidMicros, r.value, r.allow, r.reason]),
    ).toEqual([
      ['c1', 'r1', 2_500_000, 0.003, d.body.allow_bid, d.body.reason],
      ['c1', 'r2', 1_000_000, -1, expect.any(Boolean), expect.any(String)],
      ['c2', 'r2', 1_200_000, -1, expect.any(Boolean), expect.any(String)],
    ]);
    expect(rows.filter((r) => r.type === 'win')).toEqual([
      expect.objectContaining({
        campaignId: 'c1',
        eventId: 'e1',
        requestId: 'r1',
        spendMicros: 2500,
        weight: 1,
      }),
    ]);
    expect(rows.filter((r) => r.type === 'campaign')).toEqual([
      { type: 'campaign', campaignId: 'c1', timeZone: 'Asia/Tokyo' },
      { type: 'campaign', campaignId: 'c2', timeZone: 'UTC' },
    ]);
  });

  it('drops past the buffer bound and says so in /health and /metrics', async () => {
    const app = await recordingApp(5);
    await createCampaign(app, 'c1');
    for (let i = 0; i < 12; i++)
      await app.inject({
        method: 'POST',
        url: '/pacing/decision',
        payload: { campaign_id: 'c1', bid_cents: 250, request_id: `r${i}` },
        headers: bearer,
      });
    const health = await app.json<Json>({ method: 'GET', url: '/health' });
    expect(health.body.recording).toMatchObject({ rows_buffered: 5, rows_dropped: 7 });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^pacer_recording_rows_dropped_total 7$/m);
    expect(metrics.body).toMatch(/^pacer_recording_rows_buffered 5$/m);
  });
});
