import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpendRecord } from '../../core/store';
import {
  GenerationClosedError,
  type GenerationSpend,
  type HistoryRecords,
} from '../../server/records/historyRecords';
import { HistoryWriter } from '../../server/records/historyWriter';
import { ManualClock, ManualTimers } from '../support/manualTime';

/** A PostgreSQL that can be switched off: stores events once by id, as the real table does. */
class SwitchableHistory {
  up = true;
  attempts = 0;
  readonly stored = new Map<string, GenerationSpend>();
  readonly prunedBefore: string[] = [];
  async pruneEvents(beforeDay: string): Promise<number> {
    if (!this.up) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    this.prunedBefore.push(beforeDay);
    return 0;
  }
  async recordSpend(items: readonly GenerationSpend[]): Promise<boolean[]> {
    this.attempts++;
    if (!this.up) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return items.map((i) => {
      if (this.stored.has(i.record.eventId)) return false;
      this.stored.set(i.record.eventId, i);
      return true;
    });
  }
}

const T0 = Date.UTC(2026, 10, 30, 12);
const log = { info: () => {}, warn: () => {} };
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function record(n: number): SpendRecord {
  return {
    eventId: `e${n}`,
    campaignId: 'c1',
    dayKey: '2026-11-30',
    hourIndex: 12,
    spendMicros: 1000 + n,
    instanceId: 'i1',
  };
}

function setUp(maxQueuedRecords = 1_000, dir?: string) {
  const spillDir = dir ?? mkdtempSync(join(tmpdir(), 'pacer-spill-'));
  if (dir === undefined) dirs.push(spillDir);
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const history = new SwitchableHistory();
  const writer = new HistoryWriter({
    history: history as unknown as HistoryRecords,
    clock,
    timers,
    instanceId: 'i1',
    spillDir,
    maxQueuedRecords,
    batchRecords: 4,
    log,
  });
  return { writer, history, clock, spillDir };
}

describe('HistoryWriter', () => {
  it('queues while PostgreSQL fails, backs off, and writes everything once when it returns', async () => {
    const { writer, history, clock } = setUp();
    history.up = false;
    for (let n = 0; n < 10; n++) writer.add(record(n), 'g1');
    await writer.writeNow();
    expect(writer.stats()).toMatchObject({ failing: true, queuedRecords: 10, failures: 1 });
    expect(writer.stats().lastError?.message).toMatch(/ECONNREFUSED/);

    // Backoff: no new attempt before 250 ms, then doubling.
    await writer.writeNow();
    expect(history.attempts).toBe(1);
    clock.advance(250);
    await writer.writeNow();
    expect(history.attempts).toBe(2);
    clock.advance(250);
    await writer.writeNow();
    expect(history.attempts).toBe(2);
    clock.advance(250);
    await writer.writeNow();
    expect(history.attempts).toBe(3);

    history.up = true;
    clock.advance(10_000);
    await writer.writeNow();
    expect(writer.stats()).toMatchObject({ failing: false, queuedRecords: 0, writtenRecords: 10 });
    expect([...history.stored.keys()].sort()).toEqual(Array.from({ length: 10 }, (_, n) => `e${n}`).sort());
    // Event ids past the dedup window are pruned, once an hour.
    expect(history.prunedBefore).toEqual(['2026-11-26']);
    clock.advance(3_600_000);
    await writer.writeNow();
    expect(history.prunedBefore).toEqual(['2026-11-26', '2026-11-26']);
  });

  it('keeps memory bounded by spilling to fsynced files, and writes the spilled records back', async () => {
    const { writer, history, clock, spillDir } = setUp(8);
    history.up = false;
    for (let n = 0; n < 30; n++) writer.add(record(n), 'g1');
    await writer.spillsSettled(); // spills are written asynchronously
    expect(readdirSync(spillDir).length).toBeGreaterThan(0);
    expect(writer.stats().spilledRecords).toBeGreaterThan(0);
    expect(writer.stats().queuedRecords).toBe(30);

    history.up = true;
    clock.advance(60_000);
    await writer.writeNow();
    await writer.writeNow();
    expect(writer.stats().queuedRecords).toBe(0);
    expect(history.stored.size).toBe(30);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it('logs durably added spend before it returns: a process killed before the write loses none', async () => {
    const first = setUp();
    first.history.up = false;
    const items = (from: number, n: number) =>
      Array.from({ length: n }, (_, k) => ({ record: record(from + k), generation: 'g1' }));
    await first.writer.addDurably(items(0, 3));
    await first.writer.addDurably(items(3, 2));
    expect(readdirSync(first.spillDir)).toHaveLength(1);
    // kill -9: no close, the memory queue is gone, and the last append was torn mid-line.
    const [segment] = readdirSync(first.spillDir);
    appendFileSync(join(first.spillDir, segment!), '{"record":{"eventId":"e9');

    const second = setUp(1_000, first.spillDir);
    expect(second.writer.stats().queuedRecords).toBeGreaterThanOrEqual(5);
    await second.writer.writeNow();
    expect([...second.history.stored.keys()].sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(readdirSync(first.spillDir)).toEqual([]);
  });

  it('deletes a log segment once its records are stored, and every segment at a clean close', async () => {
    const { writer, history, spillDir } = setUp();
    const items = (from: number, n: number) =>
      Array.from({ length: n }, (_, k) => ({ record: record(from + k), generation: 'g1' }));
    await writer.addDurably(items(0, 3));
    await writer.writeNow();
    expect(history.stored.size).toBe(3);
    // The emptied segment is closed and deleted when the next append starts a new one.
    await writer.addDurably(items(3, 1));
    expect(readdirSync(spillDir)).toHaveLength(1);
    history.up = false;
    await writer.addDurably(items(4, 2));
    history.up = true;
    await writer.close();
    expect(history.stored.size).toBe(6);
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it('spills what it could not write at close; the next start of the instance writes it', async () => {
    const first = setUp();
    first.history.up = false;
    for (let n = 0; n < 7; n++) first.writer.add(record(n), 'g1');
    await first.writer.close();
    expect(readdirSync(first.spillDir).length).toBe(1);

    const second = setUp(1_000, first.spillDir);
    expect(second.writer.stats().queuedRecords).toBe(7);
    await second.writer.writeNow();
    expect(second.history.stored.size).toBe(7);
    expect(readdirSync(first.spillDir)).toEqual([]);
  });

  it('hands a repair the records of a closed generation, from memory and spill files', async () => {
    const { writer, history } = setUp(4);
    history.up = false;
    for (let n = 0; n < 6; n++) writer.add(record(n), 'g1');
    await writer.spillsSettled();
    writer.add(record(100), 'g2');
    const stale = await writer.takeStale('g2');
    expect(stale.map((s) => s.record.eventId).sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
    await writer.readd(
      stale.map((s) => ({ record: s.record, generation: 'g2' })),
      stale,
    );
    writer.resume();
    history.up = true;
    await writer.writeNow();
    expect(history.stored.size).toBe(7);
    expect(new Set([...history.stored.values()].map((s) => s.generation))).toEqual(new Set(['g2']));
  });

  it('calls for a new adoption when PostgreSQL refuses a closed generation, and writes once it is re-labelled', async () => {
    const { writer, history, clock } = setUp();
    const refuse = history.recordSpend.bind(history);
    history.recordSpend = async (items) => {
      const closed = items.filter((i) => i.generation === 'g1').map((i) => i.generation);
      if (closed.length > 0) throw new GenerationClosedError([...new Set(closed)]);
      return refuse(items);
    };
    const calls: (readonly string[])[] = [];
    writer.onGenerationClosed(async (gens) => {
      calls.push(gens);
      // What RecordedStore does: take the stale records out, seed them, give them back re-labelled.
      const stale = await writer.takeStale('g2');
      await writer.readd(
        stale.map((s) => ({ record: s.record, generation: 'g2' })),
        stale,
      );
      writer.resume();
    });
    writer.add(record(1), 'g2');
    // A spend call that read the marker before the repair finishes after the adoption.
    writer.add(record(2), 'g1');
    await writer.writeNow();
    expect(calls).toEqual([['g1']]);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(10_000);
    await writer.writeNow();
    expect(writer.stats()).toMatchObject({ failing: false, queuedRecords: 0 });
    expect([...history.stored.values()].map((s) => [s.record.eventId, s.generation]).sort()).toEqual([
      ['e1', 'g2'],
      ['e2', 'g2'],
    ]);
  });

  it('does not call for an adoption once closing: it would race close() for the files and the log', async () => {
    const { writer, history } = setUp();
    history.recordSpend = async () => {
      throw new GenerationClosedError(['g1']);
    };
    const calls: (readonly string[])[] = [];
    writer.onGenerationClosed((gens) => calls.push(gens));
    writer.add(record(1), 'g1');
    await writer.close();
    expect(calls).toEqual([]);
    // What could not be written is spilled for the next start, which adopts it.
    expect(writer.stats()).toMatchObject({ queuedRecords: 1, spilledRecords: 1 });
  });
});
