import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdEvent } from '../../server/events/adEvent';
import { EventRecords } from '../../server/events/eventRecords';
import { type Records, openRecords } from '../../server/records/openRecords';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';

/** The history side of the pipeline on both engines: exactly once by (campaign, event id). */
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function pglite(): Promise<Records> {
  const dir = mkdtempSync(join(tmpdir(), 'pacer-evrec-'));
  const r = await openRecords({ databaseUrl: null, dataDir: dir });
  cleanups.push(
    async () => rmSync(dir, { recursive: true, force: true }),
    () => r.close(),
  );
  return r;
}

async function postgres(): Promise<Records> {
  const db: TestDatabase = await createTestDatabase('events');
  const r = await openRecords({ databaseUrl: db.url, dataDir: '/nonexistent' });
  cleanups.push(
    () => db.drop(),
    () => r.close(),
  );
  return r;
}

function ev(campaignId: string, eventId: string, type: AdEvent['type'], hourIndex = 12): AdEvent {
  return { eventId, type, campaignId, userId: null, atMs: T0, dayKey: '2026-11-30', hourIndex, bidId: null };
}

describe.each([
  ['PGlite', pglite],
  ['PostgreSQL', postgres],
])('EventRecords on %s', (_name, open) => {
  it('counts each (campaign, event id) once: repeats in a batch, across batches, and per campaign', async () => {
    const events = new EventRecords((await open()).db);
    expect(
      await events.record(
        [
          ev('c1', 'a', 'impression'),
          ev('c1', 'a', 'impression'),
          ev('c2', 'a', 'impression'),
          ev('c1', 'b', 'click', 13),
        ],
        T0,
      ),
    ).toEqual([true, false, true, true]);
    // A re-delivered batch with one new event: only the new one counts.
    expect(await events.record([ev('c1', 'b', 'click', 13), ev('c1', 'c', 'conversion', 13)], T0)).toEqual([
      false,
      true,
    ]);
    // The same id under another type is the same event: the first one stays.
    expect(await events.record([ev('c1', 'a', 'click')], T0)).toEqual([false]);
    expect(await events.hours('c1', '2026-11-30', '2026-11-30')).toEqual([
      { dayKey: '2026-11-30', hourIndex: 12, impressions: 1, clicks: 0, conversions: 0 },
      { dayKey: '2026-11-30', hourIndex: 13, impressions: 0, clicks: 1, conversions: 1 },
    ]);
    expect(await events.hours('c2', '2026-11-30', '2026-11-30')).toEqual([
      { dayKey: '2026-11-30', hourIndex: 12, impressions: 1, clicks: 0, conversions: 0 },
    ]);
    expect(await events.hours('c1', '2026-12-01', '2026-12-31')).toEqual([]);
  });

  it('prunes event ids of old days and keeps their hour rows', async () => {
    const events = new EventRecords((await open()).db);
    await events.record([{ ...ev('p', 'old', 'click'), dayKey: '2026-11-20' }, ev('p', 'new', 'click')], T0);
    expect(await events.pruneBefore('2026-11-22')).toBe(1);
    expect(await events.record([ev('p', 'new', 'click')], T0)).toEqual([false]);
    expect((await events.hours('p', '2026-11-20', '2026-11-30')).map((h) => [h.dayKey, h.clicks])).toEqual([
      ['2026-11-20', 1],
      ['2026-11-30', 1],
    ]);
  });

  it('takes a batch of 1,000 in one transaction', async () => {
    const events = new EventRecords((await open()).db);
    const batch = Array.from({ length: 1000 }, (_, n) =>
      ev('big', `e${n}`, n % 10 === 0 ? 'click' : 'impression', n % 24),
    );
    expect((await events.record(batch, T0)).every(Boolean)).toBe(true);
    const hours = await events.hours('big', '2026-11-30', '2026-11-30');
    expect(hours.reduce((s, h) => s + h.impressions, 0)).toBe(900);
    expect(hours.reduce((s, h) => s + h.clicks, 0)).toBe(100);
  });
});
