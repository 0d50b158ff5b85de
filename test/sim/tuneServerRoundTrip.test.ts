import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../../core/journal';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { openRecords } from '../../server/records/openRecords';
import { recordedParts } from '../../server/records/recordedRuntime';
import { createRuntime } from '../../server/runtime/runtime';
import type { Timers } from '../../server/runtime/time';
import { EmbeddedStore } from '../../server/store/embeddedStore';
import { fitServerHistory } from '../../sim/tune/serverFit';
import { historyFromRecording } from '../../sim/tune/serverHistory';
import { historyFromDatabase } from '../../sim/tune/serverHistoryDb';
import { ManualClock } from '../support/manualTime';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';

/**
 * The round trip of issue 14: one server (records on PostgreSQL, RECORD_DIR set) serves three
 * days of scripted traffic across New York's spring-forward night; tuning from its records
 * database and from its recording must give the same multipliers, in each campaign's clock hours.
 */
const START = Date.parse('2024-03-09T00:00:00Z');
const HOURS = 72;
const ZONES = { ny: 'America/New_York', tokyo: 'Asia/Tokyo', utc: 'UTC' } as const;
const HOUR_MS = 3_600_000;

/** Requests of a campaign in UTC hour h: a shape that differs by campaign and hour, deterministic. */
function requestsIn(campaign: number, h: number): number {
  return 2 + ((h * 7 + campaign * 5) % 11);
}

/**
 * Timers that fire when told, once each, whatever time passed: three days of 1-second intervals
 * would otherwise replay 259,200 ticks of every background loop.
 */
class SteppedTimers implements Timers {
  private readonly fns = new Set<() => void>();
  every(_intervalMs: number, fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  fireAll(): void {
    for (const fn of [...this.fns]) fn();
  }
}

let db: TestDatabase;
let dir: string;

async function serveScriptedDays(): Promise<void> {
  const clock = new ManualClock(START);
  const timers = new SteppedTimers();
  const config = loadConfig({ LOG_LEVEL: 'silent' }, { instanceId: 'rt-1' });
  const records = await openRecords({ databaseUrl: db.url, dataDir: dir });
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  const parts = recordedParts({
    records,
    inner: new EmbeddedStore(),
    redisUrl: null,
    journalDir: dir,
    instanceId: 'rt-1',
    clock,
    timers,
    log,
  });
  const recorder = new TrafficRecorder({
    dir: join(dir, 'rec'),
    sample: 1,
    instanceId: 'rt-1',
    clock,
    timers,
  });
  const app: FastifyInstance = await buildApp(config, {
    runtime: (appLog) => {
      const runtime = createRuntime({
        store: parts.store,
        journal: new MemoryJournal(),
        clock,
        timers,
        instanceId: 'rt-1',
        config: config.pacer,
        log: appLog,
        storeKind: 'embedded',
        seed: 3,
        onDecision: parts.onDecision,
      });
      parts.attach(runtime);
      return runtime;
    },
    records: parts.access,
    recorder,
    defaultMetrics: false,
  });
  await parts.init();
  await app.ready();
  const ids = Object.keys(ZONES);
  for (const [id, tz] of Object.entries(ZONES)) {
    const res = await app.inject({
      method: 'POST',
      url: '/campaigns',
      payload: {
        id,
        name: id,
        daily_budget_cents: 1_000_000,
        start_date: '2024-01-01T00:00:00',
        end_date: '2024-12-31T23:59:59',
        pacing_mode: 'ASAP',
        status: 'ACTIVE',
        time_zone: tz,
      },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  let event = 0;
  for (let h = 0; h < HOURS; h++) {
    clock.set(START + h * HOUR_MS + 60_000);
    for (let c = 0; c < ids.length; c++) {
      for (let i = 0; i < requestsIn(c, h); i++) {
        const requestId = `h${h}-c${c}-${i}`;
        const d = await app.inject({
          method: 'POST',
          url: '/pacing/decision',
          payload: { campaign_id: ids[c], bid_cents: 200, request_id: requestId },
        });
        if (d.json().allow_bid && i % 2 === 0) {
          const w = await app.inject({
            method: 'POST',
            url: '/spend/track',
            payload: {
              campaign_id: ids[c],
              spend_cents: (15 + (h % 5)) / 100,
              event_id: `e${event++}`,
              request_id: requestId,
            },
          });
          expect(w.statusCode, w.body).toBe(200);
        }
      }
    }
    // The records count decisions into the hour in which they flush (every second): flush inside
    // the hour, as a server does between requests (the drain happens as the timer fires).
    clock.set(START + h * HOUR_MS + 30 * 60_000);
    timers.fireAll();
    await new Promise((r) => setTimeout(r, 5));
  }
  await app.close();
  await records.close().catch(() => undefined);
}

beforeAll(async () => {
  db = await createTestDatabase('rec14rt');
  dir = mkdtempSync(join(tmpdir(), 'roundtrip-'));
  await serveScriptedDays();
}, 300_000);

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tuning from the server history vs from its recording', () => {
  it('reads the same counts per campaign, local date and clock hour', async () => {
    const fromDb = await historyFromDatabase(db.url);
    const fromRecording = historyFromRecording(join(dir, 'rec'));
    expect(fromDb.map((c) => [c.campaignId, c.timeZone])).toEqual([
      ['ny', 'America/New_York'],
      ['tokyo', 'Asia/Tokyo'],
      ['utc', 'UTC'],
    ]);
    expect(fromRecording).toEqual(fromDb);
    const total = fromDb.reduce(
      (a, c) => a + [...c.days.values()].reduce((s, d) => s + d.requests.reduce((x, y) => x + y, 0), 0),
      0,
    );
    let sent = 0;
    for (let h = 0; h < HOURS; h++) for (let c = 0; c < 3; c++) sent += requestsIn(c, h);
    expect(total).toBe(sent);
  });

  it('gives the same multipliers on either basis, and New York in its own clock hours across the DST night', async () => {
    const fromDb = await historyFromDatabase(db.url);
    const fromRecording = historyFromRecording(join(dir, 'rec'));
    for (const basis of ['requests', 'cost'] as const) {
      const a = fitServerHistory(fromDb, basis);
      const b = fitServerHistory(fromRecording, basis);
      expect(b).toEqual(a);
      expect(a).toHaveLength(3);
      for (const f of a) {
        expect(f.pacingModeRequest).toEqual({
          campaign_id: f.campaignId,
          pacing_mode: 'ADAPTIVE',
          hourly_multipliers: f.hourlyMultipliers,
        });
        expect(new Set(f.hourlyMultipliers).size).toBeGreaterThan(3);
      }
    }
    // The New York day of 2024-03-10 has no 02:00: the local dates hold 23 clock hours that day.
    const ny = fromDb.find((c) => c.campaignId === 'ny')!;
    const dst = ny.days.get('2024-03-10')!;
    expect(dst.requests[2]).toBe(0);
    expect(dst.requests.filter((n) => n > 0)).toHaveLength(23);
    // Weekday levels: the 9th is a Saturday, the 10th a Sunday, the 11th a Monday (UTC dates).
    const utc = fitServerHistory(fromDb, 'requests').find((f) => f.campaignId === 'utc')!;
    expect(utc.days).toBe(3);
    expect(utc.dayOfWeekMultipliers.tue).toBe(1);
    expect(utc.dayOfWeekMultipliers.sat).not.toBe(1);
  });
});
