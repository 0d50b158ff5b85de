import { describe, expect, it } from 'vitest';
import {
  CLOCK_STEP_LAG_MS,
  type FaultObservations,
  classifyExposure,
  exposureByCampaign,
} from '../../chaos/exposure';
import {
  INVARIANTS,
  type InvariantInput,
  type StatusSample,
  type StoreCampaign,
  checkInvariants,
} from '../../chaos/invariants';
import { ClientLedger, type Notice } from '../../chaos/ledger';

/**
 * The checker against fabricated ledgers, stores and statuses: a clean input passes, and each
 * invariant broken on its own is reported under its name (and only it).
 */
const BUDGET = 100_000;
const A = 'camp-a';
const home = { slot: 0, incarnation: 0 };
const other = { slot: 1, incarnation: 0 };
const noFaults: FaultObservations = { processEnds: [], redisOutages: [], forwardClockSteps: [] };

function ledgerWith(charges: number[]): ClientLedger {
  const l = new ClientLedger();
  charges.forEach((c, i) => {
    const n = l.addNotice({
      eventId: `e${i}`,
      requestId: `r${i}`,
      campaignId: A,
      chargeMicros: c,
      decidedBy: home,
      decidedAtMs: 1000 * i,
    });
    l.ack(n, home, 1000 * i + 10, true, false);
  });
  return l;
}

function status(over: Partial<StatusSample['status']> = {}): StatusSample {
  return {
    atMs: 5000,
    slot: 0,
    campaignId: A,
    status: {
      daily_budget_micros: BUDGET,
      spent_today_micros: 30_000,
      reserved_micros: 2000,
      remaining_today_micros: 70_000,
      utilization_percentage: 30,
      ...over,
    },
  };
}

function input(over: Partial<InvariantInput> = {}, charges = [10_000, 20_000]): InvariantInput {
  const notices = ledgerWith(charges).notices();
  const total = charges.reduce((a, b) => a + b, 0);
  const store = new Map<string, StoreCampaign>([
    [A, { totalSpentMicros: total, daySpentMicros: { '2026-11-30': total } }],
  ]);
  return {
    campaigns: [{ id: A, dailyBudgetMicros: BUDGET }],
    notices,
    store,
    exposure: exposureByCampaign(notices, noFaults, 3000),
    statusSamples: [status()],
    health: [{ slot: 0, instanceId: 'i0', problem: null }],
    duplicates: [],
    ...over,
  };
}

function names(i: InvariantInput): string[] {
  return [...new Set(checkInvariants(i).map((v) => v.invariant))];
}

function storeOf(total: number, days: Record<string, number>): Map<string, StoreCampaign> {
  return new Map([[A, { totalSpentMicros: total, daySpentMicros: days }]]);
}

describe('invariant checker', () => {
  it('passes a run where everything adds up', () => {
    expect(checkInvariants(input())).toEqual([]);
  });

  it('reports a notice never acknowledged', () => {
    const l = ledgerWith([10_000]);
    l.addNotice({
      eventId: 'x',
      requestId: 'rx',
      campaignId: A,
      chargeMicros: 5,
      decidedBy: home,
      decidedAtMs: 0,
    });
    expect(names(input({ notices: l.notices() }, [10_000]))).toEqual(['notice-unacknowledged']);
  });

  it('reports a 4xx answer to a notice, and counts its spend as not booked', () => {
    const l = ledgerWith([10_000]);
    const n = l.addNotice({
      eventId: 'x',
      requestId: 'rx',
      campaignId: A,
      chargeMicros: 5,
      decidedBy: home,
      decidedAtMs: 0,
    });
    l.reject(n, 404, 'PACER_ERR_UNKNOWN_CAMPAIGN');
    const v = checkInvariants(input({ notices: l.notices() }, [10_000]));
    expect(v.map((x) => x.invariant)).toEqual(['notice-rejected']);
    expect(v[0]!.detail).toContain('404 PACER_ERR_UNKNOWN_CAMPAIGN');
  });

  it('reports acknowledged spend missing from Redis (lost) and spend counted twice (doubled)', () => {
    expect(names(input({ store: storeOf(10_000, { d: 10_000 }) }))).toEqual(['spend-lost']);
    expect(names(input({ store: storeOf(40_000, { d: 40_000 }) }))).toEqual(['spend-doubled']);
    // The lifetime total and the day counters are checked apart: a day counter off alone is caught.
    expect(names(input({ store: storeOf(30_000, { d: 20_000 }) }))).toEqual(['spend-lost']);
  });

  it('accepts in Redis a rejected notice whose earlier attempt went unanswered, but no more', () => {
    const l = ledgerWith([10_000]);
    const n = l.addNotice({
      eventId: 'x',
      requestId: 'rx',
      campaignId: A,
      chargeMicros: 500,
      decidedBy: home,
      decidedAtMs: 0,
    });
    n.unknownOutcomes = 1;
    l.reject(n, 404, 'PACER_ERR_UNKNOWN_CAMPAIGN');
    const base = { notices: l.notices() };
    expect(names(input({ ...base, store: storeOf(10_500, { d: 10_500 }) }, [10_000]))).toEqual([
      'notice-rejected',
    ]);
    expect(names(input({ ...base, store: storeOf(10_501, { d: 10_501 }) }, [10_000]))).toContain(
      'spend-doubled',
    );
  });

  it('reports an event id the servers said they booked twice', () => {
    const l = ledgerWith([10_000]);
    const n = l.notices()[0]!;
    l.ack(n, other, 50, true, false);
    expect(names(input({ notices: l.notices() }, [10_000]))).toEqual(['counted-twice']);
    // Journaled twice during an outage is not a double count: replay deduplicates (Redis checks it).
    const j = ledgerWith([10_000]);
    j.ack(j.notices()[0]!, other, 50, true, true);
    expect(names(input({ notices: j.notices() }, [10_000]))).toEqual([]);
  });

  it('reports a campaign-day above budget + E, and allows up to exactly that', () => {
    const charges = [60_000, 50_000];
    expect(names(input({}, charges))).toEqual(['overspend']);
    // The second win was booked past its reservation TTL: E = 50,000, bound = 150,000.
    const l = ledgerWith([60_000]);
    const late = l.addNotice({
      eventId: 'late',
      requestId: 'rl',
      campaignId: A,
      chargeMicros: 50_000,
      decidedBy: home,
      decidedAtMs: 0,
    });
    l.ack(late, home, 3001, true, false);
    const notices = l.notices();
    const exposure = exposureByCampaign(notices, noFaults, 3000);
    expect(exposure.get(A)!.exposureMicros).toBe(50_000);
    const ok = input({ notices, exposure, store: storeOf(110_000, { d: 110_000 }) }, [60_000]);
    expect(names(ok)).toEqual([]);
  });

  it('reports every kind of impossible status figure', () => {
    const bad: Array<Partial<StatusSample['status']>> = [
      { spent_today_micros: -1 },
      { reserved_micros: -5 },
      { remaining_today_micros: -1 },
      { remaining_today_micros: BUDGET + 1 },
      { spent_today_micros: BUDGET + 1 },
      { utilization_percentage: 100.5 },
      { utilization_percentage: -0.5 },
    ];
    for (const b of bad) {
      const v = checkInvariants(input({ statusSamples: [status(), status(b)] }));
      expect(
        v.map((x) => x.invariant),
        JSON.stringify(b),
      ).toEqual(['status-impossible']);
    }
    expect(checkInvariants(input({ statusSamples: [status({ utilization_percentage: 100 })] }))).toEqual([]);
  });

  it('reports an unhealthy instance, an accepted duplicate instance id and an unreadable store', () => {
    expect(names(input({ health: [{ slot: 2, instanceId: 'i2', problem: 'pending_replay 3' }] }))).toEqual([
      'instance-unhealthy',
    ]);
    const dup = { slot: 1, instanceId: 'i1', detail: 'answered healthy' };
    expect(names(input({ duplicates: [{ ...dup, acceptedHealthy: true }] }))).toEqual([
      'duplicate-instance-accepted',
    ]);
    expect(names(input({ duplicates: [{ ...dup, acceptedHealthy: false }] }))).toEqual([]);
    expect(names(input({ store: null }))).toEqual(['store-unreadable']);
  });

  it('has a test above for every invariant it knows', () => {
    expect(INVARIANTS.length).toBe(10);
  });
});

describe('exposure (the E of the overspend bound)', () => {
  function acked(over: Partial<Notice>): Notice {
    const l = new ClientLedger();
    const n = l.addNotice({
      eventId: 'e',
      requestId: 'r',
      campaignId: A,
      chargeMicros: 7,
      decidedBy: home,
      decidedAtMs: 1000,
    });
    l.ack(n, over.ackedBy ?? home, over.ackedAtMs ?? 1500, true, false);
    return n;
  }

  it('classes late, decider-gone, misrouted-in-an-outage and clock-step wins, and nothing else', () => {
    expect(classifyExposure(acked({}), noFaults, 3000)).toBeNull();
    expect(classifyExposure(acked({ ackedAtMs: 4001 }), noFaults, 3000)).toBe('late');
    const killed = { ...noFaults, processEnds: [{ process: home, atMs: 1200 }] };
    expect(classifyExposure(acked({}), killed, 3000)).toBe('decider-gone');
    // A restart of the decider is a new incarnation: its kill does not touch the old one's bids.
    const otherKilled = { ...noFaults, processEnds: [{ process: { slot: 0, incarnation: 1 }, atMs: 1200 }] };
    expect(classifyExposure(acked({}), otherKilled, 3000)).toBeNull();
    const outage = { ...noFaults, redisOutages: [{ startMs: 0, endMs: 900 }] };
    expect(classifyExposure(acked({ ackedBy: other }), outage, 3000)).toBe('misrouted');
    expect(classifyExposure(acked({ ackedBy: other }), noFaults, 3000)).toBeNull();
    expect(classifyExposure(acked({}), outage, 3000)).toBeNull();
    const step = { ...noFaults, forwardClockSteps: [{ slot: 0, atMs: 1100 }] };
    expect(classifyExposure(acked({}), step, 3000)).toBe('clock-step');
    // The server reads its offset up to a second late: a decision the harness saw just after the
    // step may have been made on the old clock, its reservation expiring at the step.
    const justBefore = { ...noFaults, forwardClockSteps: [{ slot: 0, atMs: 1000 - CLOCK_STEP_LAG_MS }] };
    expect(classifyExposure(acked({}), justBefore, 3000)).toBe('clock-step');
    const longBefore = { ...noFaults, forwardClockSteps: [{ slot: 0, atMs: 999 - CLOCK_STEP_LAG_MS }] };
    expect(classifyExposure(acked({}), longBefore, 3000)).toBeNull();
    const afterAck = { ...noFaults, forwardClockSteps: [{ slot: 0, atMs: 1501 }] };
    expect(classifyExposure(acked({}), afterAck, 3000)).toBeNull();
  });
});
