import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { TrafficRow } from '../../core/trafficRecord';
import { loadConfig } from '../../server/config';
import { keepRow } from '../../server/recording/sampling';
import { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { ManualClock, ManualTimers } from '../support/manualTime';

const T0 = Date.parse('2024-03-15T10:59:00Z');
const allow = { allow: true, maxBidCpmMicros: 2_500_000, reason: 'within_budget' };
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rec-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function rowsOf(dir: string, name: string): TrafficRow[] {
  return gunzipSync(readFileSync(join(dir, name)))
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TrafficRow);
}

function recorder(dir: string, opts: { sample?: number; maxBufferedRows?: number } = {}) {
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const rec = new TrafficRecorder({
    dir,
    sample: opts.sample ?? 1,
    instanceId: 'i1',
    clock,
    timers,
    flushIntervalMs: 1000,
    ...(opts.maxBufferedRows !== undefined && { maxBufferedRows: opts.maxBufferedRows }),
  });
  rec.useCampaigns((id) => (id === 'ny' ? 'America/New_York' : null));
  return { rec, clock, timers };
}

describe('TrafficRecorder', () => {
  it('writes hourly gzip files, completed by a rename when the hour is over', async () => {
    const dir = tempDir();
    const { rec, clock } = recorder(dir);
    rec.start();
    rec.recordDecision('ny', 'r1', 2_500_000, 0.002, allow);
    rec.recordWin('ny', 'e1', 'r1', 1800);
    await rec.flush();
    // Within the hour: only the temporary name exists, which a reader skips.
    expect(readdirSync(dir)).toEqual(['traffic-i1-2024-03-15T10Z.ndjson.gz.tmp']);
    clock.advance(120_000); // 11:01
    rec.recordDecision('ny', 'r2', 2_500_000, -1, { allow: false, maxBidCpmMicros: 0, reason: 'throttled' });
    await rec.flush();
    expect(readdirSync(dir).sort()).toEqual([
      'traffic-i1-2024-03-15T10Z.ndjson.gz',
      'traffic-i1-2024-03-15T11Z.ndjson.gz.tmp',
    ]);
    await rec.close();
    expect(readdirSync(dir).sort()).toEqual([
      'traffic-i1-2024-03-15T10Z.ndjson.gz',
      'traffic-i1-2024-03-15T11Z.ndjson.gz',
    ]);
    const first = rowsOf(dir, 'traffic-i1-2024-03-15T10Z.ndjson.gz');
    expect(first).toEqual([
      { type: 'header', version: 1, instanceId: 'i1', sample: 1 },
      { type: 'campaign', campaignId: 'ny', timeZone: 'America/New_York' },
      {
        type: 'decision',
        timeMs: T0,
        campaignId: 'ny',
        requestId: 'r1',
        bidMicros: 2_500_000,
        value: 0.002,
        allow: true,
        maxBidMicros: 2_500_000,
        reason: 'within_budget',
        weight: 1,
      },
      {
        type: 'win',
        timeMs: T0,
        campaignId: 'ny',
        eventId: 'e1',
        requestId: 'r1',
        spendMicros: 1800,
        weight: 1,
      },
    ]);
    // Each file announces its campaigns again: a file read alone is complete.
    expect(rowsOf(dir, 'traffic-i1-2024-03-15T11Z.ndjson.gz').map((r) => r.type)).toEqual([
      'header',
      'campaign',
      'decision',
    ]);
    expect(rec.stats()).toMatchObject({ rowsWritten: 3, rowsDropped: 0, filesCompleted: 2 });
  });

  it('completes a quiet hour when the clock leaves it, and never overwrites a file of the same hour', async () => {
    const dir = tempDir();
    const a = recorder(dir);
    a.rec.start();
    a.rec.recordDecision('ny', 'r1', 1_000_000, -1, allow);
    a.timers.advance(1000);
    await a.rec.flush();
    a.timers.advance(3_600_000); // the timer fires past 11:00 with nothing buffered
    await a.rec.flush();
    expect(readdirSync(dir)).toEqual(['traffic-i1-2024-03-15T10Z.ndjson.gz']);
    // A restart inside the same hour writes a second file.
    const b = recorder(dir);
    b.rec.recordDecision('ny', 'r2', 1_000_000, -1, allow);
    await b.rec.close();
    expect(readdirSync(dir).sort()).toEqual([
      'traffic-i1-2024-03-15T10Z.1.ndjson.gz',
      'traffic-i1-2024-03-15T10Z.ndjson.gz',
    ]);
  });

  it('keeps a sampled request whole: its decisions and its notice, each weighted 1/sample', async () => {
    const dir = tempDir();
    const { rec } = recorder(dir, { sample: 0.25 });
    const ids = Array.from({ length: 4000 }, (_, i) => `req-${i}`);
    for (const id of ids) {
      rec.recordDecision('ny', id, 1_000_000, -1, allow);
      rec.recordDecision('other', id, 1_000_000, -1, allow);
      rec.recordWin('ny', `ev-${id}`, id, 1000);
    }
    await rec.close();
    const rows = rowsOf(dir, 'traffic-i1-2024-03-15T10Z.ndjson.gz');
    const decisions = rows.filter((r) => r.type === 'decision');
    const wins = rows.filter((r) => r.type === 'win');
    const kept = new Set(ids.filter((id) => keepRow(id, 0.25)));
    expect(decisions.length).toBe(2 * kept.size);
    expect(wins.map((w) => w.requestId)).toEqual([...kept]);
    for (const r of [...decisions, ...wins]) expect(r.weight).toBe(4);
    // A fair sample: the weighted count estimates the 4000 requests (binomial sd ~ 110).
    expect(Math.abs(kept.size * 4 - 4000)).toBeLessThan(400);
    expect(rows[0]).toMatchObject({ type: 'header', sample: 0.25 });
  });

  it('holds at most maxBufferedRows, drops and counts the rest, and never waits on the disk', async () => {
    const dir = tempDir();
    const { rec } = recorder(dir, { maxBufferedRows: 100 });
    // A write in flight (the disk is slow): recording goes on without waiting for it.
    rec.recordDecision('ny', 'r-first', 1, -1, allow);
    const writing = rec.flush();
    for (let i = 0; i < 250; i++) rec.recordDecision('ny', `r${i}`, 1, -1, allow);
    expect(rec.stats()).toMatchObject({ rowsBuffered: 100, rowsDropped: 150 });
    await writing;
    await rec.close();
    expect(rec.stats()).toMatchObject({ rowsWritten: 101, rowsDropped: 150, rowsBuffered: 0 });
  });

  it('counts rows lost to a failing disk, keeps the cause, and does not throw', async () => {
    const dir = tempDir();
    // A file where the directory should be: mkdir fails whoever runs the test (root too).
    writeFileSync(join(dir, 'file'), '');
    const { rec } = recorder(join(dir, 'file', 'sub'));
    rec.recordDecision('ny', 'r1', 1, -1, allow);
    await rec.close();
    const s = rec.stats();
    expect(s.rowsLost).toBe(1);
    expect(s.rowsWritten).toBe(0);
    expect(s.lastError?.message).toMatch(/ENOTDIR|EEXIST/);
  });
});

describe('RECORD_* configuration', () => {
  const defaults = { instanceId: 'i1' };
  it('reads RECORD_DIR and RECORD_SAMPLE, default sample 1', () => {
    expect(loadConfig({}, defaults)).toMatchObject({ recordDir: null, recordSample: 1 });
    expect(loadConfig({ RECORD_DIR: '/tmp/r', RECORD_SAMPLE: '0.1' }, defaults)).toMatchObject({
      recordDir: '/tmp/r',
      recordSample: 0.1,
    });
  });
  it('refuses a sample outside 0..1 or without a directory', () => {
    expect(() => loadConfig({ RECORD_DIR: '/tmp/r', RECORD_SAMPLE: '1.5' }, defaults)).toThrow(
      /RECORD_SAMPLE="1.5"/,
    );
    expect(() => loadConfig({ RECORD_DIR: '/tmp/r', RECORD_SAMPLE: 'x' }, defaults)).toThrow(
      /RECORD_SAMPLE="x"/,
    );
    expect(() => loadConfig({ RECORD_SAMPLE: '0.5' }, defaults)).toThrow(/RECORD_DIR is not/);
  });
  it('the server process exits 78 on a bad RECORD_SAMPLE', () => {
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../../server/main.ts')],
      {
        env: { PATH: process.env.PATH ?? '', RECORD_DIR: tempDir(), RECORD_SAMPLE: '-0.1', PORT: '0' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(res.status).toBe(78);
    expect(res.stderr).toMatch(/RECORD_SAMPLE="-0.1" must be a number from 0 to 1/);
  });
});
