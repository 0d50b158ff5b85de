import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCampaign } from '../../core/campaign';
import type { SpendRecord } from '../../core/store';
import { GenerationClosedError } from '../../server/records/historyRecords';
import { MigrationError, migrate } from '../../server/records/migrate';
import { MIGRATIONS } from '../../server/records/migrations';
import { type Records, openRecords } from '../../server/records/openRecords';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';

/**
 * One contract, two engines: the records layer against the machine's PostgreSQL (a database of
 * its own, dropped after) and against PGlite (a temp dir). Same SQL, same migrations, same answers.
 */
interface Engine {
  open(): Promise<Records>;
  /** A second, empty database of the same engine (for migration tests). */
  fresh(): Promise<{ records: Records; dispose(): Promise<void> }>;
  dispose(): Promise<void>;
}

function postgresEngine(): Engine {
  const dbs: TestDatabase[] = [];
  let main: TestDatabase | undefined;
  return {
    async open() {
      main ??= await createTestDatabase('contract');
      dbs.push(main);
      return openRecords({ databaseUrl: main.url, dataDir: '/nonexistent' });
    },
    async fresh() {
      const db = await createTestDatabase('contract_fresh');
      dbs.push(db);
      const records = await openRecords({ databaseUrl: db.url, dataDir: '/nonexistent', migrations: [] });
      return { records, dispose: async () => records.close() };
    },
    async dispose() {
      for (const db of new Set(dbs)) await db.drop();
    },
  };
}

function pgliteEngine(): Engine {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'pacer-pglite-'));
    dirs.push(d);
    return d;
  };
  return {
    open: () => openRecords({ databaseUrl: null, dataDir: dir() }),
    async fresh() {
      const records = await openRecords({ databaseUrl: null, dataDir: dir(), migrations: [] });
      return { records, dispose: () => records.close() };
    },
    async dispose() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

function spend(eventId: string, over: Partial<SpendRecord> = {}): SpendRecord {
  return {
    eventId,
    campaignId: 'c1',
    dayKey: '2026-11-30',
    hourIndex: 12,
    spendMicros: 2_500,
    instanceId: 'i1',
    ...over,
  };
}

describe.each([
  ['PostgreSQL', postgresEngine],
  ['PGlite', pgliteEngine],
])('records contract on %s', (_name, makeEngine) => {
  const engine = makeEngine();
  let records: Records;

  beforeAll(async () => {
    records = await engine.open();
    await records.generations.ensureOpen('g1', T0);
  }, 180_000);

  afterAll(async () => {
    await records?.close();
    await engine.dispose();
  }, 60_000);

  it('applies migrations once: a second run applies nothing', async () => {
    expect(await migrate(records.db)).toEqual([]);
    const rows = await records.db.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('rolls a failing migration back with every migration of its run: nothing changes', async () => {
    const { records: blank, dispose } = await engine.fresh();
    try {
      const broken = [
        ...MIGRATIONS,
        { version: 99, name: 'broken', sql: 'CREATE TABLE campaigns (id text)' },
      ];
      await expect(migrate(blank.db, broken)).rejects.toBeInstanceOf(MigrationError);
      const tables = await blank.db.query<{ n: unknown }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('campaigns', 'campaign_hours')",
      );
      expect(Number(tables[0]!.n)).toBe(0);
      const versions = await blank.db.query<{ n: unknown }>('SELECT count(*) AS n FROM schema_migrations');
      expect(Number(versions[0]!.n)).toBe(0);
      // The same database then migrates cleanly.
      expect(await migrate(blank.db)).toEqual(MIGRATIONS.map((m) => m.version));
      // A database newer than the code is refused, not "downgraded".
      await blank.db.query("INSERT INTO schema_migrations (version, name) VALUES (1000, 'future')");
      await expect(migrate(blank.db)).rejects.toThrow(/newer than this server knows/);
    } finally {
      await dispose();
    }
  }, 120_000);

  it('keeps the registry with an audit row per change, in the same transaction', async () => {
    const c = makeCampaign({ id: 'reg-1', dailyBudgetMicros: 5_000_000 });
    expect(await records.campaigns.put(c, 'alice', T0)).toBe('create');
    expect(await records.campaigns.put(c, 'alice', T0 + 1)).toBe('unchanged');
    const raised = makeCampaign({ id: 'reg-1', dailyBudgetMicros: 9_000_000 });
    expect(await records.campaigns.put(raised, 'bob', T0 + 2)).toBe('update');
    expect(await records.campaigns.get('reg-1')).toEqual(raised);
    expect(await records.campaigns.delete('reg-1', 'carol', T0 + 3)).toBe(true);
    expect(await records.campaigns.delete('reg-1', 'carol', T0 + 4)).toBe(false);
    expect(await records.campaigns.get('reg-1')).toBeNull();
    expect((await records.campaigns.list()).map((x) => x.id)).not.toContain('reg-1');
    expect(await records.campaigns.put(c, 'dave', T0 + 5)).toBe('create');

    const audit = await records.campaigns.audit('reg-1');
    expect(audit.map((a) => [a.action, a.actor, a.atMs])).toEqual([
      ['create', 'alice', T0],
      ['update', 'bob', T0 + 2],
      ['delete', 'carol', T0 + 3],
      ['create', 'dave', T0 + 5],
    ]);
    expect(audit[1]!.oldValue?.dailyBudgetMicros).toBe(5_000_000);
    expect(audit[1]!.newValue?.dailyBudgetMicros).toBe(9_000_000);
    expect(audit[2]!.newValue).toBeNull();
  });

  it('refuses to edit or delete audit rows', async () => {
    await expect(records.db.query("UPDATE campaign_audit SET actor = 'mallory'")).rejects.toThrow(
      /append-only/,
    );
    await expect(records.db.query('DELETE FROM campaign_audit')).rejects.toThrow(/append-only/);
  });

  it('adopts campaigns only the hot store knows, once', async () => {
    const c = makeCampaign({ id: 'imp-1', dailyBudgetMicros: 1_000_000 });
    expect(await records.campaigns.importMissing([c], 'start-up', T0)).toBe(1);
    expect(await records.campaigns.importMissing([c], 'start-up', T0)).toBe(0);
    expect((await records.campaigns.audit('imp-1')).map((a) => a.action)).toEqual(['import']);
  });

  it('stores each spend event once and sums hours exactly, past 2^31 micros', async () => {
    const big = 3_000_000_000;
    const batch = [
      { record: spend('e1'), generation: 'g1' },
      { record: spend('e2', { spendMicros: big }), generation: 'g1' },
      { record: spend('e1'), generation: 'g1' },
      { record: spend('e3', { instanceId: 'i2', hourIndex: 13 }), generation: 'g1' },
    ];
    expect(await records.history.recordSpend(batch, T0)).toEqual([true, true, false, true]);
    // A retried batch (its answer was lost) counts nothing again.
    expect(await records.history.recordSpend(batch, T0)).toEqual([false, false, false, false]);
    await records.history.recordActivity([
      { campaignId: 'c1', dayKey: '2026-11-30', hourIndex: 12, instanceId: 'i1', requests: 10, allowed: 4 },
      { campaignId: 'c1', dayKey: '2026-11-30', hourIndex: 12, instanceId: 'i2', requests: 5, allowed: 1 },
    ]);
    const hours = await records.history.hours('c1', '2026-11-30', '2026-11-30');
    expect(hours).toEqual([
      {
        dayKey: '2026-11-30',
        hourIndex: 12,
        spendMicros: 2_500 + big,
        requests: 15,
        allowed: 5,
        wins: 2,
        impressions: 2,
        clicks: 0,
        conversions: 0,
      },
      {
        dayKey: '2026-11-30',
        hourIndex: 13,
        spendMicros: 2_500,
        requests: 0,
        allowed: 0,
        wins: 1,
        impressions: 1,
        clicks: 0,
        conversions: 0,
      },
    ]);
    expect(await records.history.hours('c1', '2026-12-01', '2026-12-31')).toEqual([]);
    const days = await records.db.query<{ spend_micros: unknown }>(
      "SELECT spend_micros FROM campaign_days WHERE campaign_id = 'c1' AND day_key = '2026-11-30'",
    );
    expect(Number(days[0]!.spend_micros)).toBe(5_000 + big);
    // Pruning event ids keeps the hour rows.
    expect(await records.history.pruneEvents('2026-12-01')).toBe(3);
    expect(await records.history.hours('c1', '2026-11-30', '2026-11-30')).toEqual(hours);
  });

  it('closes a generation for a repair: its later writes are refused, the plan holds all spend', async () => {
    await records.history.recordSpend(
      [{ record: spend('old-1', { campaignId: 'c2', dayKey: '2026-11-01' }), generation: 'g1' }],
      T0,
    );
    await records.campaigns.put(makeCampaign({ id: 'c2', dailyBudgetMicros: 1_000_000 }), 'alice', T0);
    const plan = await records.generations.closeAndPlan('g2', '2026-11-25', T0);
    expect(plan.closed).toEqual(['g1']);
    expect(await records.generations.open()).toBe('g2');
    await expect(
      records.history.recordSpend([{ record: spend('late'), generation: 'g1' }], T0),
    ).rejects.toBeInstanceOf(GenerationClosedError);
    expect(await records.history.recordSpend([{ record: spend('late'), generation: 'g2' }], T0)).toEqual([
      true,
    ]);

    const c1 = plan.spend.filter((r) => r.campaignId === 'c1');
    expect(c1.reduce((s, r) => s + r.spendMicros, 0)).toBe(5_000 + 3_000_000_000);
    expect(new Set(c1.map((r) => r.eventId)).size).toBe(c1.length);
    // Older days come as one record per campaign, for its lifetime total.
    expect(plan.spend.filter((r) => r.campaignId === 'c2')).toEqual([
      expect.objectContaining({ dayKey: '2026-11-01', spendMicros: 2_500 }),
    ]);
    expect(plan.leases).toContainEqual({
      campaignId: 'c1',
      dayKey: '2026-11-30',
      instanceId: 'i2',
      micros: 2_500,
    });
    expect(plan.campaigns.map((c) => c.id)).toEqual(expect.arrayContaining(['c2', 'reg-1', 'imp-1']));
  });

  it('hands a repair the recent event ids, paged, as zero-spend records that restore dedup keys', async () => {
    const c3 = (id: string) => spend(id, { campaignId: 'c3', instanceId: 'i7', hourIndex: 9 });
    await records.history.recordSpend([{ record: c3('ev-old'), generation: 'g2' }], T0 - 5 * 86_400_000);
    await records.history.recordSpend(
      ['ev-b', 'ev-a', 'ev-c'].map((id) => ({ record: c3(id), generation: 'g2' })),
      T0,
    );
    const plan = await records.generations.closeAndPlan('g3', '2026-11-25', T0, 3 * 86_400_000);
    expect(plan.seenSinceMs).toBe(T0 - 3 * 86_400_000);
    const first = await records.generations.seenEvents('c3', plan.seenSinceMs, '', 2);
    expect(first).toEqual([
      {
        eventId: 'ev-a',
        campaignId: 'c3',
        dayKey: '2026-11-30',
        hourIndex: 9,
        spendMicros: 0,
        instanceId: 'i7',
      },
      {
        eventId: 'ev-b',
        campaignId: 'c3',
        dayKey: '2026-11-30',
        hourIndex: 9,
        spendMicros: 0,
        instanceId: 'i7',
      },
    ]);
    const rest = await records.generations.seenEvents('c3', plan.seenSinceMs, 'ev-b', 2);
    expect(rest.map((r) => r.eventId)).toEqual(['ev-c']);
    // Older than the dedup window: its key had expired in the lost Redis too.
    expect(await records.generations.seenEvents('c3', T0 - 6 * 86_400_000, 'ev-c', 2)).toEqual([
      expect.objectContaining({ eventId: 'ev-old' }),
    ]);
  });
});
