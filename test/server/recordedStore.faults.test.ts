import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../core/memoryStore';
import type { CountedAs, SpendRecord } from '../../core/store';
import { MemoryMarker } from '../../server/records/generationMarker';
import type { GenerationSpend } from '../../server/records/historyRecords';
import type { HistoryWriter } from '../../server/records/historyWriter';
import type { Records } from '../../server/records/openRecords';
import { RecordedStore } from '../../server/records/recordedStore';
import { ManualClock, ManualTimers } from '../support/manualTime';

/** A hot store that, like Redis, says what a duplicate's first copy was counted as. */
class MarkedStore extends MemoryStore {
  readonly markers = new Map<string, CountedAs>();
  async applySpendCountedBy(records: readonly SpendRecord[]): Promise<(true | CountedAs | null)[]> {
    const applied = await super.applySpend(records);
    return records.map((r, i) => {
      const key = `${r.campaignId}\u0000${r.eventId}`;
      if (applied[i]) this.markers.set(key, r);
      return applied[i] ? true : (this.markers.get(key) ?? null);
    });
  }
}

function rec(eventId: string, instanceId: string, spendMicros = 636): SpendRecord {
  return { eventId, campaignId: 'c1', dayKey: '2026-11-30', hourIndex: 22, spendMicros, instanceId };
}

/** A writer that keeps what it is given: the records the store sends to the history. */
function keepingWriter(left: GenerationSpend[] = []) {
  const written: GenerationSpend[] = [];
  const readded: GenerationSpend[] = [];
  const closed: { handler: ((gens: readonly string[]) => void) | null } = { handler: null };
  const writer = {
    onGenerationClosed: (h: (gens: readonly string[]) => void) => {
      closed.handler = h;
    },
    addDurably: async (items: readonly GenerationSpend[]) => void written.push(...items),
    takeStale: async (current: string) => left.splice(0).filter((s) => s.generation !== current),
    readd: async (items: readonly GenerationSpend[]) => void readded.push(...items),
    resume: () => {},
    close: async () => {},
    stats: () => ({ queuedRecords: 0, lastSuccessAtMs: 0, lastError: null }),
  };
  return { writer: writer as unknown as HistoryWriter, written, readded, closed };
}

/** A RecordedStore over `inner` in Redis mode, started on a hot store whose marker is `generation`. */
async function recordedOver(
  inner: MarkedStore,
  generation = 'g1',
  left: GenerationSpend[] = [],
  marker: MemoryMarker = new MemoryMarker(),
  timers?: ManualTimers,
) {
  const { writer, written, readded, closed } = keepingWriter(left);
  await marker.write(generation);
  const clock = new ManualClock(0);
  const records = {
    generations: { ensureRegistered: async () => {} },
    close: async () => {},
  } as unknown as Records;
  const store = new RecordedStore({
    inner,
    marker,
    records,
    writer,
    kind: 'redis',
    instanceId: 'i1',
    clock,
    ...(timers === undefined ? {} : { timers }),
    log: { info: () => {}, warn: () => {}, error: () => {} },
  });
  await store.init();
  return { store, written, readded, closed, marker, clock };
}

describe('RecordedStore over Redis, a duplicate this instance had counted', () => {
  it('goes to the history: the call that counted it failed here, so nothing else wrote it (chaos seed 925)', async () => {
    const inner = new MarkedStore();
    const { store, written } = await recordedOver(inner);
    // Counted in Redis by a call that timed out here: no history write followed.
    await inner.applySpendCountedBy([rec('w1', 'i1')]);
    // The journal replay finds it counted, by this instance.
    expect(await store.applySpend([rec('w1', 'i1')])).toEqual([false]);
    expect(written.map((w) => [w.record.eventId, w.generation])).toEqual([['w1', 'g1']]);
  });

  it('writes a duplicate a peer counted under that peer: the peer may have died before its history log (chaos seed 113027)', async () => {
    const inner = new MarkedStore();
    const { store, written } = await recordedOver(inner);
    await inner.applySpendCountedBy([rec('w2', 'i2')]);
    // The retry says 999 micros: the history gets what Redis counted, 636, under i2.
    expect(await store.applySpend([rec('w2', 'i1', 999), rec('w3', 'i1')])).toEqual([false, true]);
    expect(written.map((w) => [w.record.eventId, w.record.instanceId, w.record.spendMicros])).toEqual([
      ['w2', 'i2', 636],
      ['w3', 'i1', 636],
    ]);
  });
});

describe('RecordedStore starting on a repaired Redis', () => {
  it('seeds what its killed predecessor counted under the lost generation (chaos seed 113027)', async () => {
    // The previous run counted w1 in the Redis that was then emptied, logged its history, and was
    // killed before PostgreSQL stored it; a peer repaired Redis (generation g2) meanwhile.
    const inner = new MarkedStore();
    const left: GenerationSpend[] = [{ record: rec('w1', 'i1'), generation: 'g1' }];
    const { store, readded } = await recordedOver(inner, 'g2', left);
    const [day] = await inner.readDays([{ campaignId: 'c1', dayKey: '2026-11-30' }]);
    expect(day!.spentMicros).toBe(636);
    // Its history goes to PostgreSQL under the generation that now counts it.
    expect(readded.map((s) => [s.record.eventId, s.generation])).toEqual([['w1', 'g2']]);
    expect(store.health().generation).toBe('g2');
  });

  it('adopts again when PostgreSQL refuses a record of the closed generation that came in late', async () => {
    const inner = new MarkedStore();
    const left: GenerationSpend[] = [];
    const { store, readded, closed } = await recordedOver(inner, 'g2', left);
    // A spend call that read marker g1 before the repair was counted by the emptied Redis and
    // queued after the adoption: PostgreSQL refuses g1, and every write behind it waits.
    left.push({ record: rec('w9', 'i1'), generation: 'g1' });
    closed.handler!(['g1']);
    await new Promise((r) => setTimeout(r, 0));
    const [day] = await inner.readDays([{ campaignId: 'c1', dayKey: '2026-11-30' }]);
    expect(day!.spentMicros).toBe(636);
    expect(readded.map((s) => [s.record.eventId, s.generation])).toEqual([['w9', 'g2']]);
    expect(store.health().generation).toBe('g2');
  });

  it('does not adopt a store that lost its data again, and asks at most once per retry interval', async () => {
    const inner = new MarkedStore();
    const left: GenerationSpend[] = [];
    const { store, readded, closed, marker, clock } = await recordedOver(inner, 'g2', left);
    left.push({ record: rec('w8', 'i1'), generation: 'g1' });
    // Redis emptied again (no marker): seeding w8 there would be seeding a store about to be repaired.
    (marker as unknown as { generation: string | null }).generation = null;
    closed.handler!(['g1']);
    await new Promise((r) => setTimeout(r, 0));
    expect(readded).toEqual([]);
    expect((await inner.readDays([{ campaignId: 'c1', dayKey: '2026-11-30' }]))[0]!.spentMicros).toBe(0);
    // Repaired (g2 again, for the test): a refusal within the retry interval is not acted on...
    await marker.write('g2');
    closed.handler!(['g1']);
    await new Promise((r) => setTimeout(r, 0));
    expect(readded).toEqual([]);
    // ...one after it is.
    clock.advance(2_000);
    closed.handler!(['g1']);
    await new Promise((r) => setTimeout(r, 0));
    expect(readded.map((s) => [s.record.eventId, s.generation])).toEqual([['w8', 'g2']]);
    expect(store.health().generation).toBe('g2');
  });
});

/** A marker that logs the repair lock's life and can hold a repair at its first PostgreSQL read. */
class LoggingMarker extends MemoryMarker {
  readonly events: string[] = [];
  lose(): void {
    (this as unknown as { generation: string | null }).generation = null;
  }
  override async claimRepair(): Promise<boolean> {
    this.events.push('lock');
    return true;
  }
  override async extendRepair(): Promise<boolean> {
    this.events.push('extend');
    return true;
  }
  override async releaseRepair(): Promise<void> {
    this.events.push('unlock');
  }
  override async close(): Promise<void> {
    this.events.push('close');
  }
}

describe('RecordedStore adopting a store a peer repaired', () => {
  const lease = (micros: number) => ({
    campaignId: 'c1',
    dayKey: '2026-11-30',
    instanceId: 'i1',
    requestMicros: micros,
    budgetMicros: 1_000_000,
  });

  it('grants no new lease for a second: peers have not re-asserted what they committed yet', async () => {
    const inner = new MarkedStore();
    const { store, marker, clock } = await recordedOver(inner, 'g1');
    // A plain start waits for nothing.
    expect(await store.acquireLeases([lease(1_000)])).toEqual([1_000]);
    // A peer repaired the store (generation g2): a lease asked for at once is not granted, since
    // the seeded leases hold only the spend PostgreSQL had; a peer's journaled spend and
    // reservations are re-asserted when it adopts, up to a sync round later.
    await marker.write('g2');
    expect(await store.acquireLeases([lease(2_000)])).toEqual([0]);
    clock.advance(999);
    expect(await store.acquireLeases([lease(2_000)])).toEqual([0]);
    clock.advance(1);
    expect(await store.acquireLeases([lease(2_000)])).toEqual([2_000]);
    const [day] = await inner.readDays([{ campaignId: 'c1', dayKey: '2026-11-30' }]);
    expect(day!.leasedByInstance.i1).toBe(3_000);
  });
});

describe('RecordedStore on a database first started', () => {
  it('grants leases at once: the first generation re-seeded nothing, no peer has to catch up', async () => {
    const marker = new LoggingMarker();
    const { writer } = keepingWriter();
    const records = {
      generations: {
        ensureRegistered: async () => {},
        open: async () => null,
        ensureOpen: async (generation: string) => ({ generation }),
      },
      campaigns: { importMissing: async () => 0 },
      close: async () => {},
    } as unknown as Records;
    const store = new RecordedStore({
      inner: new MarkedStore(),
      marker,
      records,
      writer,
      kind: 'redis',
      instanceId: 'i1',
      clock: new ManualClock(0),
      log: { info: () => {}, warn: () => {}, error: () => {} },
    });
    await store.init();
    expect(store.health().generation).not.toBe(null);
    const lease = { campaignId: 'c1', dayKey: '2026-11-30', instanceId: 'i1', budgetMicros: 1_000_000 };
    expect(await store.acquireLeases([{ ...lease, requestMicros: 500 }])).toEqual([500]);
  });
});

describe('RecordedStore whose start did not see the store', () => {
  it('waits a second before new leases when it first adopts a generation (review)', async () => {
    // Redis down at start: no generation held, no loss seen. The first generation it adopts may
    // be a repair that just finished; peers may not have re-asserted their commitments yet.
    class DownAtStart extends LoggingMarker {
      down = true;
      override async read(): Promise<string | null> {
        if (this.down) throw new Error('connect ECONNREFUSED');
        return super.read();
      }
    }
    const marker = new DownAtStart();
    await marker.write('g2');
    const { store, clock } = await recordedOver(new MarkedStore(), 'g2', [], marker);
    expect(store.health().generation).toBe(null);
    marker.down = false;
    const lease = { campaignId: 'c1', dayKey: '2026-11-30', instanceId: 'i1', budgetMicros: 1_000_000 };
    expect(await store.acquireLeases([{ ...lease, requestMicros: 500 }])).toEqual([0]);
    clock.advance(1_000);
    expect(await store.acquireLeases([{ ...lease, requestMicros: 500 }])).toEqual([500]);
  });
});

describe('RecordedStore repairing', () => {
  function repairRecords(spendRecords: number) {
    const plan = {
      closed: ['g1'],
      campaigns: [],
      spend: Array.from({ length: spendRecords }, (_, i) => rec(`seed-${i}`, 'i1', 1)),
      leases: [],
      seenSinceMs: 0,
    };
    return {
      open: async () => 'g1',
      closeAndPlan: async () => plan,
    };
  }

  it('seeds nothing more and writes no marker once its lock lapsed (review)', async () => {
    // A repairer that stalls past the lock's TTL: a peer takes the lock and repairs the same store;
    // two repairs' seeds, under different synthetic ids, would count the spend twice.
    class LapsingMarker extends LoggingMarker {
      override async extendRepair(): Promise<boolean> {
        this.events.push('extend refused');
        return false;
      }
    }
    const marker = new LapsingMarker();
    const timers = new ManualTimers(new ManualClock(0));
    const inner = new MarkedStore();
    const { store } = await recordedOver(inner, 'g1', [], marker, timers);
    const records = (store as unknown as { o: { records: Records } }).o.records;
    Object.assign(records.generations, repairRecords(2_500));
    // Seeding stalls after the first chunk until the test lets it go on.
    let release: (() => void) | null = null;
    const applySpend = inner.applySpend.bind(inner);
    let chunksSeeded = 0;
    inner.applySpend = async (rs) => {
      if (rs[0]?.eventId.startsWith('seed-') && ++chunksSeeded === 2)
        await new Promise<void>((r) => {
          release = r;
        });
      return applySpend(rs);
    };
    marker.lose();
    await expect(store.readDays([{ campaignId: 'c1', dayKey: '2026-11-30' }])).rejects.toMatchObject({
      name: 'StoreUnavailableError',
    });
    for (let i = 0; i < 20 && release === null; i++) await new Promise((r) => setTimeout(r, 0));
    timers.advance(5_000);
    await new Promise((r) => setTimeout(r, 0));
    release!();
    await store.stopRepairs();
    expect(marker.events).toEqual(['lock', 'extend refused', 'unlock']);
    expect(await marker.read()).toBe(null);
    expect(chunksSeeded).toBe(2);
  });
});

describe('RecordedStore shutting down', () => {
  const day = { campaignId: 'c1', dayKey: '2026-11-30' };

  it('starts no repair once stopping: it would outlive the connections it needs (chaos seed 118021)', async () => {
    // A duplicate stopped while Redis came back empty took the repair lock, closed its connections
    // half-way through seeding, and the fleet stayed degraded for the lock's two minutes.
    const marker = new LoggingMarker();
    const { store } = await recordedOver(new MarkedStore(), 'g1', [], marker);
    void store.stopRepairs();
    marker.lose();
    await expect(store.readDays([day])).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    await new Promise((r) => setTimeout(r, 0));
    expect(marker.events).toEqual([]);
  });

  it('waits for a repair in flight, and frees its lock, before closing its connections', async () => {
    const marker = new LoggingMarker();
    const timers = new ManualTimers(new ManualClock(0));
    const { store } = await recordedOver(new MarkedStore(), 'g1', [], marker, timers);
    let finishRead: (() => void) | null = null;
    // The repair stops at its first PostgreSQL read until the test lets it go on (then fails).
    (store as unknown as { o: { records: Records } }).o.records.generations.open = () =>
      new Promise((_, reject) => {
        finishRead = () => reject(new Error('PostgreSQL went away'));
      });
    marker.lose();
    await expect(store.readDays([day])).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    expect(marker.events).toEqual(['lock']);
    // A repair that runs long keeps its lock, which lapses in 30 s otherwise.
    timers.advance(10_000);
    expect(marker.events).toEqual(['lock', 'extend', 'extend']);
    const closing = store.close();
    await new Promise((r) => setTimeout(r, 0));
    expect(marker.events).toEqual(['lock', 'extend', 'extend']);
    finishRead!();
    await closing;
    timers.advance(10_000);
    expect(marker.events).toEqual(['lock', 'extend', 'extend', 'unlock', 'close']);
  });
});
