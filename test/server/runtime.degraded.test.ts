import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Campaign,
  MemoryJournal,
  type SpendJournal,
  makeCampaign,
  newDecision,
  pacerConfig,
} from '../../core/index';
import { UnknownCampaignError } from '../../server/errors';
import { hashUnit, requestRand, seededRand } from '../../server/runtime/random';
import { RequestReservations } from '../../server/runtime/reservations';
import { type Runtime, type RuntimeLogger, createRuntime } from '../../server/runtime/runtime';
import type { RuntimeEvent } from '../../server/runtime/types';
import { FileJournal } from '../../server/store/journal';
import { FlakyStore } from '../support/flakyStore';
import { ManualClock, ManualTimers } from '../support/manualTime';

const T0 = Date.UTC(2024, 2, 1, 10, 0, 0);
const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
const config = pacerConfig();
const dirs: string[] = [];
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function campaign(id = 'c1', dailyBudgetMicros = 1_000_000_000): Campaign {
  return makeCampaign({ id, dailyBudgetMicros, pacingMode: 'ASAP' });
}

interface Rig {
  rt: Runtime;
  store: FlakyStore;
  clock: ManualClock;
  timers: ManualTimers;
}

function rig(
  opts: { store?: FlakyStore; journal?: SpendJournal; clock?: ManualClock; instanceId?: string } = {},
): Rig {
  const clock = opts.clock ?? new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const store = opts.store ?? new FlakyStore();
  const rt = createRuntime({
    store,
    journal: opts.journal ?? new MemoryJournal(),
    clock,
    timers,
    instanceId: opts.instanceId ?? 'i1',
    config,
    log: quiet,
    syncIntervalMs: 250,
    seed: 7,
  });
  runtimes.push(rt);
  return { rt, store, clock, timers };
}

/** Lets the work a timer started finish: the runtime's store worker runs on promises only. */
async function settle(rt: Runtime): Promise<void> {
  await rt.syncNow();
}

const CPM_MICROS = 2_000_000;
const COST_MICROS = 2_000;

describe('runtime on a healthy store', () => {
  it('settles a win against the reservation its request id made, and counts each event id once', async () => {
    const { rt, store } = rig();
    await rt.start();
    await rt.putCampaign(campaign());
    const d = rt.decide('c1', CPM_MICROS, 'req-1', newDecision())!;
    expect(d.allow).toBe(true);
    expect(d.reservedMicros).toBe(COST_MICROS);
    expect(rt.status('c1')!.reservedMicros).toBe(COST_MICROS);
    expect(
      await rt.trackSpend({ campaignId: 'c1', spendMicros: 1_500, eventId: 'e1', requestId: 'req-1' }),
    ).toEqual({
      counted: true,
      journaled: false,
    });
    expect(rt.status('c1')!.reservedMicros).toBe(0);
    expect(rt.status('c1')!.spentTodayMicros).toBe(1_500);
    expect(
      await rt.trackSpend({ campaignId: 'c1', spendMicros: 1_500, eventId: 'e1', requestId: 'req-1' }),
    ).toEqual({
      counted: false,
      journaled: false,
    });
    const [day] = await store.readDays([{ campaignId: 'c1', dayKey: '2024-03-01' }]);
    expect(day!.spentMicros).toBe(1_500);
    expect(rt.decide('nope', CPM_MICROS, undefined, newDecision())).toBeNull();
    await expect(rt.trackSpend({ campaignId: 'nope', spendMicros: 1, eventId: 'x' })).rejects.toBeInstanceOf(
      UnknownCampaignError,
    );
  });

  it('picks up campaigns created through another instance on the next refresh', async () => {
    const store = new FlakyStore();
    const a = rig({ store, instanceId: 'a' });
    const b = rig({ store, instanceId: 'b', clock: a.clock });
    await a.rt.start();
    await b.rt.start();
    await a.rt.putCampaign(campaign('shared'));
    expect(b.rt.getCampaign('shared')).toBeNull();
    b.timers.advance(5_000);
    await settle(b.rt);
    expect(b.rt.getCampaign('shared')).toEqual(campaign('shared'));
    expect(b.rt.decide('shared', CPM_MICROS, undefined, newDecision())!.allow).toBe(true);
    expect(await b.rt.deleteCampaign('shared')).toBe(true);
    a.timers.advance(5_000);
    await settle(a.rt);
    expect(a.rt.getCampaign('shared')).toBeNull();
  });

  it('returns unused leases and flushes pending spend on close', async () => {
    const { rt, store } = rig();
    await rt.start();
    await rt.putCampaign(campaign());
    const ref = { campaignId: 'c1', dayKey: '2024-03-01' };
    const leased = (await store.readDays([ref]))[0]!.leasedByInstance.i1!;
    expect(leased).toBeGreaterThan(COST_MICROS);
    rt.decide('c1', CPM_MICROS, 'r1', newDecision());
    await rt.trackSpend({ campaignId: 'c1', spendMicros: 1_000, eventId: 'e1', requestId: 'r1' });
    rt.decide('c1', CPM_MICROS, 'r2', newDecision());
    await rt.close();
    const after = (await store.readDays([ref]))[0]!;
    // What stays leased is exactly what was spent or is still in flight.
    expect(after.leasedByInstance.i1).toBe(1_000 + COST_MICROS);
    expect(after.spentMicros).toBe(1_000);
  });
});

describe('runtime degraded mode', () => {
  it('journals spend while the store is down, then replays it exactly once and heals by itself', async () => {
    const { rt, store, timers } = rig();
    const events: RuntimeEvent[] = [];
    rt.onEvent((e) => events.push(e));
    await rt.start();
    await rt.putCampaign(campaign());
    await rt.trackSpend({ campaignId: 'c1', spendMicros: 100, eventId: 'before' });

    store.down = true;
    const out = await rt.trackSpend({ campaignId: 'c1', spendMicros: 200, eventId: 'during-1' });
    expect(out).toEqual({ counted: true, journaled: true });
    expect(rt.health()).toMatchObject({ status: 'degraded', storeHealthy: false, pendingReplay: 1 });
    // Still deciding, conservatively, from the lease it holds.
    const d = rt.decide('c1', CPM_MICROS, 'r', newDecision())!;
    expect(d.degraded).toBe(true);
    expect(d.throttleRate).toBeGreaterThanOrEqual(config.degradedThrottle);
    await rt.trackSpend({ campaignId: 'c1', spendMicros: 300, eventId: 'during-2' });
    await rt.trackSpend({ campaignId: 'c1', spendMicros: 300, eventId: 'during-2' });
    timers.advance(1_000);
    await settle(rt);
    expect(rt.health().status).toBe('degraded');
    expect(rt.health().pendingReplay).toBe(2);

    store.down = false;
    timers.advance(250);
    await settle(rt);
    expect(rt.health()).toMatchObject({ status: 'healthy', storeHealthy: true, pendingReplay: 0 });
    expect(store.counted.map((r) => r.eventId)).toEqual(['before', 'during-1', 'during-2']);
    const [day] = await store.readDays([{ campaignId: 'c1', dayKey: '2024-03-01' }]);
    expect(day!.spentMicros).toBe(600);
    expect(rt.status('c1')!.spentTodayMicros).toBe(600);
    // Further rounds replay nothing again.
    timers.advance(2_000);
    await settle(rt);
    expect(store.counted).toHaveLength(3);
    const health = events
      .filter((e) => e.type === 'health')
      .map((e) => (e.type === 'health' ? e.health.status : ''));
    expect(health).toEqual(['degraded', 'healthy']);
    expect(events.some((e) => e.type === 'spend')).toBe(true);
  });

  it('counts a batch once when Redis applied it but the reply was lost', async () => {
    const { rt, store, timers } = rig();
    await rt.start();
    await rt.putCampaign(campaign());
    store.loseApplyReplies = 1;
    expect(await rt.trackSpend({ campaignId: 'c1', spendMicros: 700, eventId: 'lost-reply' })).toEqual({
      counted: true,
      journaled: true,
    });
    expect(rt.health().status).toBe('degraded');
    timers.advance(250);
    await settle(rt);
    expect(rt.health().status).toBe('healthy');
    expect(store.counted.map((r) => r.eventId)).toEqual(['lost-reply']);
    // The replay was refused as a duplicate and taken back locally; the peer read restores it once.
    timers.advance(250);
    await settle(rt);
    expect(rt.status('c1')!.spentTodayMicros).toBe(700);
  });

  it('replays a file journal left by a crash exactly once at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pacer-rt-'));
    dirs.push(dir);
    const store = new FlakyStore();
    const clock = new ManualClock(T0);
    const journal1 = await FileJournal.open({ dir, instanceId: 'i1' });
    const first = createRuntime({
      store,
      journal: journal1,
      clock,
      timers: new ManualTimers(clock),
      instanceId: 'i1',
      config,
      log: quiet,
    });
    await first.start();
    await first.putCampaign(campaign());
    await first.trackSpend({ campaignId: 'c1', spendMicros: 1_000, eventId: 'stored' });
    store.down = true;
    for (let i = 0; i < 10; i++) {
      expect(
        (await first.trackSpend({ campaignId: 'c1', spendMicros: 10 + i, eventId: `j${i}` })).journaled,
      ).toBe(true);
    }
    // The crash: the process vanishes without close(); only what the journal fsynced remains.
    await journal1.close();
    store.down = false;

    for (let round = 0; round < 2; round++) {
      const journal = await FileJournal.open({ dir, instanceId: 'i1' });
      const { rt } = rig({ store, journal, clock });
      await rt.start();
      expect(rt.health()).toMatchObject({ status: 'healthy', pendingReplay: 0 });
      expect(rt.status('c1')!.spentTodayMicros).toBe(1_000 + 145);
      await rt.close();
      runtimes.pop();
    }
    expect(store.counted).toHaveLength(11);
    const [day] = await store.readDays([{ campaignId: 'c1', dayKey: '2024-03-01' }]);
    expect(day!.spentMicros).toBe(1_145);
    expect(day!.spentByInstance).toEqual({ i1: 1_145 });
  });

  it('starts degraded when the store is down at start and recovers campaigns once it answers', async () => {
    const store = new FlakyStore();
    await store.inner.putCampaign(campaign());
    store.down = true;
    const { rt, timers } = rig({ store });
    await rt.start();
    expect(rt.health().status).toBe('degraded');
    expect(rt.listCampaigns()).toEqual([]);
    store.down = false;
    timers.advance(250);
    await settle(rt);
    expect(rt.health().status).toBe('healthy');
    expect(rt.listCampaigns().map((c) => c.id)).toEqual(['c1']);
    await settle(rt);
    expect(rt.decide('c1', CPM_MICROS, undefined, newDecision())!.allow).toBe(true);
  });
});

describe('overspend bound', () => {
  it('never lets the store record more than the budget across instances and outages', async () => {
    let maxUtilization = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            instance: fc.integer({ min: 0, max: 2 }),
            // Outages are rarer than recoveries, so runs spend most of their time healthy but see several.
            kind: fc.constantFrom(
              'bid',
              'bid',
              'bid',
              'win',
              'win',
              'win',
              'dupWin',
              'sync',
              'sync',
              'down',
              'up',
              'up',
              'up',
            ),
            cpmMicros: fc.integer({ min: 100_000, max: 8_000_000 }),
            advanceMs: fc.integer({ min: 0, max: 3_000 }),
          }),
          { minLength: 200, maxLength: 600, size: 'max' },
        ),
        async (ops) => {
          const store = new FlakyStore();
          const clock = new ManualClock(T0);
          const budgetMicros = 100_000;
          await store.inner.putCampaign(
            makeCampaign({ id: 'c1', dailyBudgetMicros: budgetMicros, pacingMode: 'ASAP' }),
          );
          const rigs = [0, 1, 2].map((i) => rig({ store, clock, instanceId: `i${i}` }));
          for (const r of rigs) await r.rt.start();
          const open: { inst: number; requestId: string; costMicros: number }[] = [];
          const won: { inst: number; requestId: string; costMicros: number; eventId: string }[] = [];
          let seq = 0;
          for (const op of ops) {
            const r = rigs[op.instance]!;
            clock.advance(op.advanceMs);
            if (op.kind === 'bid') {
              const requestId = `q${seq++}`;
              const d = r.rt.decide('c1', op.cpmMicros, requestId, newDecision())!;
              if (d.allow) open.push({ inst: op.instance, requestId, costMicros: d.reservedMicros });
            } else if (op.kind === 'win' && open.length > 0) {
              // Notices go back to the deciding instance within the TTL and charge the full bid.
              const w = open.shift()!;
              const eventId = `ev-${w.requestId}`;
              await rigs[w.inst]!.rt.trackSpend({
                campaignId: 'c1',
                spendMicros: w.costMicros,
                eventId,
                requestId: w.requestId,
              });
              won.push({ ...w, eventId });
            } else if (op.kind === 'dupWin' && won.length > 0) {
              const w = won[op.cpmMicros % won.length]!;
              await r.rt.trackSpend({ campaignId: 'c1', spendMicros: w.costMicros, eventId: w.eventId });
            } else if (op.kind === 'sync') {
              await r.rt.syncNow();
            } else if (op.kind === 'down') {
              store.down = true;
            } else if (op.kind === 'up') {
              store.down = false;
            }
          }
          store.down = false;
          for (const r of rigs) await r.rt.syncNow();
          const [day] = await store.readDays([{ campaignId: 'c1', dayKey: '2024-03-01' }]);
          const distinct = won.reduce((a, w) => a + w.costMicros, 0);
          expect(day!.spentMicros).toBe(distinct);
          expect(day!.spentMicros).toBeLessThanOrEqual(budgetMicros);
          maxUtilization = Math.max(maxUtilization, day!.spentMicros / budgetMicros);
          expect(day!.leasedMicros).toBeLessThanOrEqual(budgetMicros);
          for (const r of rigs) await r.rt.close();
          runtimes.splice(0);
        },
      ),
      { numRuns: 40, seed: 20240301 },
    );
    // The property must have pushed some run close to the budget, or it proved nothing.
    expect(maxUtilization).toBeGreaterThan(0.8);
  });
});

describe('runtime helpers', () => {
  it('derives a request draw from the id alone, and a seeded stream otherwise', () => {
    expect(requestRand('abc', 'c1')()).toBe(requestRand('abc', 'c1')());
    expect(requestRand('abc', 'c1')()).not.toBe(requestRand('abc', 'c2')());
    expect(hashUnit('abc')).not.toBe(hashUnit('abd'));
    const draws = Array.from({ length: 10_000 }, (_, i) => hashUnit(`req-${i}`));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(Math.abs(draws.reduce((a, b) => a + b, 0) / draws.length - 0.5)).toBeLessThan(0.02);
    const a = seededRand(1);
    const b = seededRand(1);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('bounds the request map and forgets expired reservations', () => {
    const m = new RequestReservations(2);
    m.hold('a', { campaignId: 'c', reservedMicros: 1, reservedAtMs: 0 });
    m.hold('b', { campaignId: 'c', reservedMicros: 2, reservedAtMs: 10 });
    m.hold('c', { campaignId: 'c', reservedMicros: 3, reservedAtMs: 20 });
    expect(m.size).toBe(2);
    expect(m.take('a', 'c')).toBeUndefined();
    m.expire(115, 100);
    expect(m.take('b', 'c')).toBeUndefined();
    expect(m.take('c', 'other')).toBeUndefined();
    expect(m.take('c', 'c')?.reservedMicros).toBe(3);
    expect(m.take('c', 'c')).toBeUndefined();
  });

  it('evicts in amortised constant work once full, with win notices taking entries in between', () => {
    const capacity = 1_000;
    const m = new RequestReservations(capacity);
    const holds = 50_000;
    for (let i = 0; i < holds; i++) {
      m.hold(`r${i}`, { campaignId: 'c', reservedMicros: 1, reservedAtMs: i });
      // Most decisions get their notice (or loss) soon after: the map churns while full.
      if (i % 3 !== 0 && i > 10) m.take(`r${i - 10}`, 'c');
      // Re-used request ids replace their entry.
      if (i % 97 === 0) m.hold(`r${i}`, { campaignId: 'c', reservedMicros: 2, reservedAtMs: i });
    }
    expect(m.size).toBeLessThanOrEqual(capacity);
    // Each hold's slot is visited at most once when it leaves the ring; the old Map scan
    // walked every deleted entry again on each eviction.
    expect(m.slotsVisited).toBeLessThanOrEqual(holds + holds / 97 + 1);
    m.expire(holds, 5);
    expect(m.size).toBeLessThanOrEqual(5);
    expect(m.take(`r${holds - 1}`, 'c')?.reservedMicros).toBe(1);
  });
});
