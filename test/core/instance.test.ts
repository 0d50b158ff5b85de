import { describe, expect, it } from 'vitest';
import { makeCampaign } from '../../core/campaign';
import { pacerConfig } from '../../core/config';
import { budgetLimitMicros } from '../../core/controller';
import { newDecision } from '../../core/decision';
import { UnknownCampaignError } from '../../core/errors';
import { PacerInstance } from '../../core/instance';
import { MemoryJournal } from '../../core/journal';
import { MemoryStore } from '../../core/memoryStore';
import { type BudgetStore, StoreUnavailableError } from '../../core/store';

/** A MemoryStore that can be switched off, as Redis can. */
function switchable(inner: BudgetStore): BudgetStore & { up: boolean } {
  const wrapper = { up: true } as BudgetStore & { up: boolean };
  for (const key of ['applySpend', 'acquireLeases', 'returnLease', 'readDays', 'ping'] as const) {
    (wrapper as unknown as Record<string, unknown>)[key] = (...args: unknown[]) => {
      if (!wrapper.up) return Promise.reject(new StoreUnavailableError());
      return (inner[key] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return wrapper;
}

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 4_294_967_296;
  };
}

const config = pacerConfig();
const BUDGET = 20_000_000;
const campaign = makeCampaign({ id: 'c1', dailyBudgetMicros: BUDGET, pacingMode: 'EVEN' });

/** Instance "a" on a switchable store, holding its first lease for campaign c1. */
async function leasedInstance() {
  const memory = new MemoryStore();
  const store = switchable(memory);
  const journal = new MemoryJournal();
  const a = new PacerInstance({ instanceId: 'a', store, journal, config });
  a.upsertCampaign(campaign, 0);
  await a.sync(0);
  return { memory, store, journal, a, leased: a.states.get('c1')!.ownAllowanceMicros };
}

async function day(opts: { instances: number; outage?: [number, number]; duplicates?: boolean }) {
  const memory = new MemoryStore();
  const store = switchable(memory);
  const journals = Array.from({ length: opts.instances }, () => new MemoryJournal());
  const insts = journals.map(
    (journal, i) => new PacerInstance({ instanceId: `i${i}`, store, journal, config }),
  );
  for (const inst of insts) inst.upsertCampaign(campaign, 0);
  const rand = lcg(9);
  const out = newDecision();
  const distinct = new Map<string, number>();
  let degradedDecisions = 0;
  let ev = 0;
  for (let t = 0; t < 86_400_000; t += 200) {
    if (opts.outage) store.up = !(t >= opts.outage[0] && t < opts.outage[1]);
    if (t % 1000 === 0) for (const inst of insts) await inst.sync(t);
    const inst = insts[Math.floor(rand() * insts.length)]!;
    const d = inst.decide('c1', 1_000_000, t, rand, out)!;
    if (d.degraded) degradedDecisions++;
    if (!d.allow) continue;
    const price = Math.floor(rand() * 1_200_000);
    if (price > d.maxBidCpmMicros) {
      inst.releaseBid('c1', d.reservedMicros, t, t);
      continue;
    }
    const eventId = `e${ev++}`;
    const spendMicros = Math.ceil(price / 1000);
    distinct.set(eventId, spendMicros);
    inst.recordSpend(
      { campaignId: 'c1', eventId, spendMicros, reservedMicros: d.reservedMicros, reservedAtMs: t },
      t,
    );
    // A retried win notice landing on another instance must not count twice.
    if (opts.duplicates && ev % 7 === 0)
      insts[(ev + 1) % insts.length]!.recordSpend({ campaignId: 'c1', eventId, spendMicros }, t);
  }
  store.up = true;
  for (const inst of insts) await inst.sync(86_399_000);
  for (const inst of insts) await inst.sync(86_399_500);
  const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: '1970-01-01' }]);
  const expected = [...distinct.values()].reduce((a, b) => a + b, 0);
  return { snap: snap!, expected, insts, journals, degradedDecisions };
}

describe('PacerInstance', () => {
  it('three instances on one store spend every distinct event exactly once and stay within budget', async () => {
    const { snap, expected, insts } = await day({ instances: 3, duplicates: true });
    expect(snap.spentMicros).toBe(expected);
    expect(snap.spentMicros).toBeLessThanOrEqual(BUDGET);
    expect(snap.leasedMicros).toBeLessThanOrEqual(BUDGET);
    expect(snap.spentMicros / BUDGET).toBeGreaterThan(0.95);
    expect(insts.reduce((a, i) => a + i.storeDuplicates, 0)).toBeGreaterThan(0);
    // Each instance's view of the day matches the store once everything is flushed and it has
    // been active since (idle campaigns refresh their view on their next activity).
    for (const inst of insts) {
      inst.decide('c1', 1_000_000, 86_399_600, () => 0.5, newDecision());
      await inst.sync(86_399_700);
      const l = inst.states.get('c1')!.ledger;
      expect(l.ownDaySpentMicros + l.peerDaySpentMicros).toBe(snap.spentMicros);
    }
  });

  it('keeps deciding through a store outage, journals spend and replays it exactly once', async () => {
    const { snap, expected, insts, journals, degradedDecisions } = await day({
      instances: 3,
      outage: [40_000_000, 40_300_000],
      duplicates: true,
    });
    expect(degradedDecisions).toBeGreaterThan(0);
    expect(insts.every((i) => !i.degraded)).toBe(true);
    expect(insts.reduce((a, i) => a + i.replayedRecords, 0)).toBeGreaterThan(0);
    expect(journals.every((j) => j.size === 0)).toBe(true);
    expect(snap.spentMicros).toBe(expected);
    expect(snap.spentMicros).toBeLessThanOrEqual(BUDGET);
  });

  it('acks spend once the store took it, and says so for duplicates', async () => {
    const store = new MemoryStore();
    const inst = new PacerInstance({ instanceId: 'a', store, journal: new MemoryJournal(), config });
    inst.upsertCampaign(campaign, 0);
    const first = inst.recordSpendAcked({ campaignId: 'c1', eventId: 'x', spendMicros: 10 }, 0);
    const again = inst.recordSpendAcked({ campaignId: 'c1', eventId: 'x', spendMicros: 10 }, 0);
    await inst.sync(1);
    expect(await first).toEqual({ counted: true, journaled: false });
    expect(await again).toEqual({ counted: false, journaled: false });
    await expect(
      inst.recordSpendAcked({ campaignId: 'nope', eventId: 'y', spendMicros: 1 }, 0),
    ).rejects.toThrow(UnknownCampaignError);
  });

  it('a restarted instance recovers its spend and lease from the store and its journal', async () => {
    const { memory, store, journal, a, leased } = await leasedInstance();
    expect(leased).toBeGreaterThan(0);
    a.recordSpend({ campaignId: 'c1', eventId: 'before', spendMicros: 300 }, 10);
    await a.sync(20);
    store.up = false;
    a.recordSpend({ campaignId: 'c1', eventId: 'during', spendMicros: 200 }, 30);
    await a.sync(40);
    expect(a.degraded).toBe(true);
    expect(journal.size).toBe(1);
    // The process dies here; a new one starts with the same id and journal.
    store.up = true;
    const b = new PacerInstance({ instanceId: 'a', store, journal, config });
    b.upsertCampaign(campaign, 50);
    await b.restore(50);
    const l = b.states.get('c1')!.ledger;
    expect(l.ownDaySpentMicros).toBe(500);
    expect(b.states.get('c1')!.ownAllowanceMicros).toBe(leased);
    expect(journal.size).toBe(0);
    await b.restore(60);
    const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: '1970-01-01' }]);
    expect(snap!.spentMicros).toBe(500);
  });
});

describe('PacerInstance sync rounds', () => {
  it('visit only the campaigns active since the last round, and still ping when idle', async () => {
    const memory = new MemoryStore();
    const calls = { readRefs: 0, leaseRequests: 0, pings: 0 };
    const counting: BudgetStore = Object.assign(Object.create(memory) as BudgetStore, {
      readDays: (refs: Parameters<BudgetStore['readDays']>[0]) => {
        calls.readRefs += refs.length;
        return memory.readDays(refs);
      },
      acquireLeases: (q: Parameters<BudgetStore['acquireLeases']>[0]) => {
        calls.leaseRequests += q.length;
        return memory.acquireLeases(q);
      },
      ping: () => {
        calls.pings++;
        return memory.ping();
      },
    });
    const inst = new PacerInstance({
      instanceId: 'a',
      store: counting,
      journal: new MemoryJournal(),
      config,
    });
    for (let i = 0; i < 500; i++)
      inst.upsertCampaign(makeCampaign({ id: `c${i}`, dailyBudgetMicros: BUDGET }), 0);
    await inst.sync(0);
    expect(calls.leaseRequests).toBe(500);
    Object.assign(calls, { readRefs: 0, leaseRequests: 0, pings: 0 });
    await inst.sync(1_000);
    expect(calls).toEqual({ readRefs: 0, leaseRequests: 0, pings: 1 });
    for (const id of ['c1', 'c2', 'c3']) inst.decide(id, 1_000_000, 1_500, () => 0.5, newDecision());
    await inst.sync(2_000);
    expect(calls.readRefs).toBe(3);
  });
});

describe('PacerInstance restored while the store is down', () => {
  it('takes back its own spend and lease on the first healthy round', async () => {
    const { memory, store, journal, a, leased } = await leasedInstance();
    a.recordSpend({ campaignId: 'c1', eventId: 'e1', spendMicros: 400 }, 10);
    await a.sync(20);
    store.up = false;
    const b = new PacerInstance({ instanceId: 'a', store, journal, config });
    b.upsertCampaign(campaign, 30);
    await b.restore(30);
    expect(b.degraded).toBe(true);
    expect(b.states.get('c1')!.ownAllowanceMicros).toBe(0);
    store.up = true;
    await b.sync(40);
    expect(b.degraded).toBe(false);
    expect(b.states.get('c1')!.ledger.ownDaySpentMicros).toBe(400);
    expect(b.states.get('c1')!.ownAllowanceMicros).toBe(leased);
    const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: '1970-01-01' }]);
    expect(snap!.leasedMicros).toBe(leased);
  });

  it('takes back the lease of a campaign it could only load once the store was back', async () => {
    const { memory, store, journal, a, leased } = await leasedInstance();
    store.up = false;
    const b = new PacerInstance({ instanceId: 'a', store, journal, config });
    await b.restore(30);
    store.up = true;
    b.upsertCampaign(campaign, 40);
    await b.sync(50);
    expect(b.states.get('c1')!.ownAllowanceMicros).toBe(leased);
    const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: '1970-01-01' }]);
    expect(snap!.leasedMicros).toBe(leased);
  });
});

describe('PacerInstance journal replay', () => {
  it('replays in chunks, each confirmed as it lands, so a failure half-way replays only the rest', async () => {
    const memory = new MemoryStore();
    const journal = new MemoryJournal();
    const day = '1970-01-01';
    await journal.append(
      Array.from({ length: 2_500 }, (_, i) => ({
        eventId: `j${i}`,
        campaignId: 'c1',
        dayKey: day,
        hourIndex: 0,
        spendMicros: 10,
        instanceId: 'a',
      })),
    );
    let calls = 0;
    const failSecond: BudgetStore = Object.assign(Object.create(memory) as BudgetStore, {
      applySpend: (r: Parameters<BudgetStore['applySpend']>[0]) =>
        ++calls === 2 ? Promise.reject(new StoreUnavailableError()) : memory.applySpend(r),
    });
    const inst = new PacerInstance({ instanceId: 'a', store: failSecond, journal, config });
    inst.upsertCampaign(campaign, 0);
    await inst.restore(0);
    expect(inst.degraded).toBe(true);
    expect(journal.size).toBe(1_500);
    await inst.sync(1_000);
    expect(inst.degraded).toBe(false);
    expect(journal.size).toBe(0);
    const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: day }]);
    expect(snap!.spentMicros).toBe(25_000);
  });
});

describe('PacerInstance across midnight', () => {
  it("keeps the other instances' spend of the closed day against the total budget, even when a read races the roll-over", async () => {
    const memory = new MemoryStore();
    let onRead: (() => void) | null = null;
    const racing: BudgetStore = Object.assign(Object.create(memory) as BudgetStore, {
      readDays: async (refs: Parameters<BudgetStore['readDays']>[0]) => {
        const snaps = await memory.readDays(refs);
        const hook = onRead;
        onRead = null;
        hook?.();
        return snaps;
      },
    });
    const c = makeCampaign({
      id: 'c',
      dailyBudgetMicros: 100_000_000,
      totalBudgetMicros: 150_000_000,
      pacingMode: 'ASAP',
    });
    const lastSecond = Date.UTC(2024, 0, 1, 23, 59, 59);
    const a = new PacerInstance({ instanceId: 'A', store: racing, journal: new MemoryJournal(), config });
    a.upsertCampaign(c, lastSecond);
    await memory.applySpend([
      {
        eventId: 'b1',
        campaignId: 'c',
        dayKey: '2024-01-01',
        hourIndex: 23,
        spendMicros: 90_000_000,
        instanceId: 'B',
      },
    ]);
    await a.sync(lastSecond);
    const s = a.states.get('c')!;
    expect(budgetLimitMicros(s)).toBe(100_000_000);
    // A decision just after midnight lands while the round's read is in flight.
    a.decide('c', 1_000, lastSecond + 500, () => 0.5, newDecision());
    onRead = () => a.decide('c', 1_000, lastSecond + 1_100, () => 0.5, newDecision());
    await a.sync(lastSecond + 900);
    expect(s.ledger.day.key).toBe('2024-01-02');
    expect(budgetLimitMicros(s)).toBe(60_000_000);
    await a.sync(lastSecond + 1_200);
    expect(budgetLimitMicros(s)).toBe(60_000_000);
  });
});

describe('PacerInstance when nothing can take the spend', () => {
  it('fails the caller, takes the spend back and counts the retry exactly once', async () => {
    const memory = new MemoryStore();
    const store = switchable(memory);
    const journal = new MemoryJournal();
    let journalUp = true;
    const brokenJournal = {
      append: (r: Parameters<MemoryJournal['append']>[0]) =>
        journalUp ? journal.append(r) : Promise.reject(new Error('disk full')),
      pending: () => journal.pending(),
      confirm: (n: number) => journal.confirm(n),
    };
    const inst = new PacerInstance({ instanceId: 'a', store, journal: brokenJournal, config });
    inst.upsertCampaign(campaign, 0);
    await inst.sync(0);
    store.up = false;
    journalUp = false;
    const spend = { campaignId: 'c1', eventId: 'w1', spendMicros: 700 };
    const first = inst.recordSpendAcked(spend, 10);
    await inst.sync(20);
    await expect(first).rejects.toThrow('disk full');
    expect(inst.states.get('c1')!.ledger.ownDaySpentMicros).toBe(0);
    store.up = true;
    journalUp = true;
    const retry = inst.recordSpendAcked(spend, 30);
    await inst.sync(40);
    expect(await retry).toEqual({ counted: true, journaled: false });
    const [snap] = await memory.readDays([{ campaignId: 'c1', dayKey: '1970-01-01' }]);
    expect(snap!.spentMicros).toBe(700);
    expect(inst.states.get('c1')!.ledger.ownDaySpentMicros).toBe(700);
  });
});

describe('MemoryStore', () => {
  it('catches a retried late record for a day older than the newest days held', async () => {
    const store = new MemoryStore();
    const rec = (eventId: string, dayKey: string) => ({
      eventId,
      campaignId: 'c',
      dayKey,
      hourIndex: 0,
      spendMicros: 1_000,
      instanceId: 'i',
    });
    for (const day of ['2024-01-02', '2024-01-03', '2024-01-04'])
      await store.applySpend([rec(`e-${day}`, day)]);
    expect(await store.applySpend([rec('late', '2024-01-01')])).toEqual([true]);
    expect(await store.applySpend([rec('late', '2024-01-01')])).toEqual([false]);
    const [late] = await store.readDays([{ campaignId: 'c', dayKey: '2024-01-01' }]);
    expect(late!.spentMicros).toBe(1_000);
    // Ids older than the window (three days before the newest day) are let go, as Redis's TTL does.
    await store.applySpend([rec('new', '2024-01-09')]);
    expect(await store.applySpend([rec('e-2024-01-02', '2024-01-02')])).toEqual([true]);
  });

  it('never grants leases past the budget, whoever asks', async () => {
    const store = new MemoryStore();
    const ref = { campaignId: 'c', dayKey: 'd' };
    const grants = await store.acquireLeases(
      Array.from({ length: 10 }, (_, i) => ({
        ...ref,
        instanceId: `i${i % 3}`,
        requestMicros: 300,
        budgetMicros: 2_000,
      })),
    );
    expect(grants.reduce((a, b) => a + b, 0)).toBe(2_000);
    await store.returnLease(ref, 'i0', 10_000);
    const [snap] = await store.readDays([ref]);
    expect(snap!.leasedByInstance.i0).toBe(0);
    expect(snap!.leasedMicros).toBe(snap!.leasedByInstance.i1! + snap!.leasedByInstance.i2!);
    expect(snap!.leasedMicros).toBeLessThan(2_000);
  });
});
