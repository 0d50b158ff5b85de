import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLASSIC_BREAKER_CONFIG } from '../../core/breaker';
import { type CampaignInput, PACING_MODES, makeCampaign } from '../../core/campaign';
import { pacerConfig } from '../../core/config';
import { addLease, decide, recordSpend, releaseBid } from '../../core/decide';
import { type Decision, newDecision } from '../../core/decision';
import { dayCommittedMicros } from '../../core/ledger';
import { impressionCostMicros } from '../../core/money';
import { type PacingState, createPacingState } from '../../core/pacingState';
import { EVEN_CURVE, targetShare } from '../../core/targetCurve';

const config = pacerConfig();
const classic = pacerConfig({ breaker: CLASSIC_BREAKER_CONFIG });
const DAY_MS = 86_400_000;
const BID = 1_000_000; // CPM micros: 1,000 micros per impression
const never = () => 0.999_999;

function state(patch: Partial<CampaignInput> = {}, nowMs = 0, leased = false, cfg = config): PacingState {
  return createPacingState(makeCampaign({ id: 'c', dailyBudgetMicros: 1_000_000, ...patch }), cfg, nowMs, {
    leased,
  });
}

/** Deterministic draws for tests: a tiny LCG, seeded. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 4_294_967_296;
  };
}

describe('decide: reasons', () => {
  const cases: [string, () => Decision, Partial<Decision>][] = [
    [
      'paused',
      () => decide(state({ status: 'PAUSED' }), BID, 0, never, false, newDecision()),
      { allow: false, reason: 'paused' },
    ],
    [
      'ended',
      () => decide(state({ status: 'ENDED' }), BID, 0, never, false, newDecision()),
      { allow: false, reason: 'ended' },
    ],
    [
      'before flight',
      () => decide(state({ flightStartMs: 1_000 }), BID, 0, never, false, newDecision()),
      { reason: 'out_of_flight' },
    ],
    [
      'after flight',
      () => decide(state({ flightEndMs: 1_000 }), BID, 1_000, never, false, newDecision()),
      { reason: 'out_of_flight' },
    ],
    ['zero bid', () => decide(state(), 0, 0, never, false, newDecision()), { reason: 'invalid_bid' }],
    ['fractional bid', () => decide(state(), 1.5, 0, never, false, newDecision()), { reason: 'invalid_bid' }],
    [
      'fresh campaign',
      () => decide(state(), BID, 0, never, false, newDecision()),
      { allow: true, reason: 'within_budget', maxBidCpmMicros: BID, reservedMicros: 1_000 },
    ],
    [
      'max bid caps the price',
      () => decide(state({ maxBidCpmMicros: 400_000 }), BID, 0, never, false, newDecision()),
      { allow: true, maxBidCpmMicros: 400_000, reservedMicros: 400 },
    ],
    [
      'bid larger than what is left',
      () => {
        const s = state();
        recordSpend(s, 999_500, 0);
        return decide(s, BID, 1, never, false, newDecision());
      },
      { allow: false, reason: 'budget_exhausted' },
    ],
    [
      'total budget spent on earlier days',
      () => {
        const s = state({ totalBudgetMicros: 1_500_000 });
        recordSpend(s, 1_000_000, 0);
        recordSpend(s, 500_000, DAY_MS + 1);
        return decide(s, BID, DAY_MS + 2, never, false, newDecision());
      },
      { allow: false, reason: 'total_budget_exhausted' },
    ],
    [
      'no lease yet',
      () => decide(state({}, 0, true), BID, 0, never, false, newDecision()),
      { allow: false, reason: 'lease_exhausted' },
    ],
    [
      'classic breaker trips at 95%',
      () => {
        const s = state({}, 0, false, classic);
        recordSpend(s, 950_000, 0);
        return decide(s, BID, 1, never, false, newDecision());
      },
      { allow: false, reason: 'circuit_open' },
    ],
    [
      'precision breaker keeps bidding at 99.8% while the bid fits',
      () => {
        const s = state({ pacingMode: 'ASAP' });
        recordSpend(s, 998_000, 0);
        return decide(s, BID, 1, never, false, newDecision());
      },
      { allow: true, reason: 'within_budget' },
    ],
    [
      'classic probe after the cool-down',
      () => {
        const s = state({}, 0, false, classic);
        recordSpend(s, 950_000, 0);
        decide(s, BID, 1, never, false, newDecision());
        return decide(s, BID, 1 + config.breaker.cooldownMs, never, false, newDecision());
      },
      { allow: true, reason: 'probe' },
    ],
    [
      'degraded mode throttles at least 50%',
      () => decide(state(), BID, 0, () => 0.2, true, newDecision()),
      { allow: false, reason: 'throttled', throttleRate: 0.5, degraded: true },
    ],
  ];
  it.each(cases)('%s', (_name, run, expected) => {
    expect(run()).toMatchObject(expected);
  });

  it.each([
    [0.5, 0],
    [0.8, 0.2],
    [0.9, 0.5],
    [0.94, 0.5],
  ])('ASAP at %d spent throttles %d', (share, throttle) => {
    const s = state({ pacingMode: 'ASAP', dailyBudgetMicros: 100_000_000 });
    recordSpend(s, share * 100_000_000, 0);
    expect(decide(s, BID, 1, never, false, newDecision()).throttleRate).toBe(throttle);
  });

  it('one bid too big for the budget is denied without tripping the breaker', () => {
    const s = state({ dailyBudgetMicros: 50_000_000 });
    expect(decide(s, 60_000_000_000, 0, never, false, newDecision()).reason).toBe('budget_exhausted');
    expect(s.breaker.state).toBe('CLOSED');
    expect(decide(s, BID, 1, never, false, newDecision())).toMatchObject({
      allow: true,
      reason: 'within_budget',
      throttleRate: 0,
    });
  });

  it('a new day resets spend, breaker and lease', () => {
    const s = state({}, 0, true, classic);
    addLease(s, '1970-01-01', 1_000_000, 0);
    recordSpend(s, 960_000, 0);
    expect(decide(s, BID, 1, never, false, newDecision()).reason).toBe('circuit_open');
    expect(decide(s, BID, DAY_MS, never, false, newDecision()).reason).toBe('lease_exhausted');
    addLease(s, '1970-01-02', 10_000, DAY_MS);
    expect(decide(s, BID, DAY_MS + 1, never, false, newDecision())).toMatchObject({
      allow: true,
      reason: 'within_budget',
    });
    expect(s.breaker.state).toBe('CLOSED');
  });
});

describe('decide: EVEN controller', () => {
  it('tracks the linear target within 2% all day when traffic is ten times the budget', () => {
    const s = state({ dailyBudgetMicros: 100_000_000 });
    const rand = lcg(1);
    const out = newDecision();
    let worst = 0;
    // 10 requests/s, each win costing 1,000 micros: 864M micros of traffic for a 100M budget.
    for (let t = 0; t < DAY_MS; t += 100) {
      const d = decide(s, BID, t, rand, false, out);
      if (d.allow) recordSpend(s, 1_000, t, d.reservedMicros, t);
      if (t % 600_000 === 0 && t > 0)
        worst = Math.max(
          worst,
          Math.abs(s.ledger.ownDaySpentMicros / 1e8 - targetShare(EVEN_CURVE, t / DAY_MS)),
        );
    }
    expect(worst).toBeLessThan(0.02);
    expect(s.ledger.ownDaySpentMicros / 1e8).toBeGreaterThan(0.97);
    expect(s.ledger.ownDaySpentMicros).toBeLessThanOrEqual(100_000_000);
  });
});

describe('decide: value-aware pacing', () => {
  /** One simulated day at 10 requests/s with uniform values; returns spend and admitted values. */
  function day(withValue: boolean, mode: 'EVEN' | 'ASAP' = 'EVEN') {
    const s = state({ dailyBudgetMicros: 100_000_000, pacingMode: mode });
    const rand = lcg(1);
    const values = lcg(2);
    const out = newDecision();
    let worst = 0;
    let valueSum = 0;
    let admitted = 0;
    let shaded = 0;
    for (let t = 0; t < DAY_MS; t += 100) {
      const v = values();
      const d = decide(s, BID, t, rand, false, out, withValue ? v : -1);
      if (d.allow) {
        recordSpend(s, 1_000, t, d.reservedMicros, t);
        valueSum += v;
        admitted++;
        if (d.maxBidCpmMicros < BID) shaded++;
      }
      if (t % 600_000 === 0 && t > 0)
        worst = Math.max(
          worst,
          Math.abs(s.ledger.ownDaySpentMicros / 1e8 - targetShare(EVEN_CURVE, t / DAY_MS)),
        );
    }
    return { worst, spent: s.ledger.ownDaySpentMicros, meanValue: valueSum / admitted, shaded, admitted };
  }

  it('passes the best requests instead of a coin share, and paces as well', () => {
    const coin = day(false);
    const valued = day(true);
    // The budget buys ~11.6% of requests: by coin their mean value is ~0.5, by threshold ~0.94.
    expect(coin.meanValue).toBeLessThan(0.55);
    expect(valued.meanValue).toBeGreaterThan(0.85);
    expect(valued.worst).toBeLessThan(0.02);
    expect(valued.spent / 1e8).toBeGreaterThan(0.97);
    expect(valued.spent).toBeLessThanOrEqual(100_000_000);
    // Shading: passed requests below the top quarter's value bid less; a coin never shades.
    expect(valued.shaded / valued.admitted).toBeGreaterThan(0.5);
    expect(coin.shaded).toBe(0);
  });

  it('does not shade when the throttle is off: a campaign that needs every request bids in full', () => {
    const s = state({ dailyBudgetMicros: 100_000_000, pacingMode: 'ASAP' });
    const values = lcg(3);
    for (let i = 0; i < 2_000; i++) {
      const d = decide(s, BID, i, never, false, newDecision(), values());
      expect([d.allow, d.throttleRate, d.maxBidCpmMicros]).toEqual([true, 0, BID]);
      releaseBid(s, d.reservedMicros, i, i);
    }
  });

  it('ASAP with a value signal skips the worst requests at its throttle tiers', () => {
    const valued = day(true, 'ASAP');
    const coin = day(false, 'ASAP');
    expect(valued.spent).toBeLessThanOrEqual(100_000_000);
    expect(valued.meanValue).toBeGreaterThan(coin.meanValue);
  });

  it('re-plans every tickMs x valueTickRatio once values decide; coin flip and DUAL_GRADIENT every tickMs', () => {
    /** Times of the re-plans over 5 minutes of one request a second after a minute of warm-up. */
    const replans = (mode: 'EVEN' | 'ADAPTIVE' | 'DUAL_GRADIENT', withValue: boolean) => {
      const s = state({ dailyBudgetMicros: 100_000_000, pacingMode: mode });
      const values = lcg(4);
      const at: number[] = [];
      for (let t = 0; t < 360_000; t += 1_000) {
        const before = s.lastTickMs;
        const d = decide(s, BID, t, never, false, newDecision(), withValue ? values() : -1);
        if (d.allow) releaseBid(s, d.reservedMicros, t, t);
        if (s.lastTickMs !== before && t >= 60_000) at.push(t);
      }
      return at;
    };
    const every = (ms: number) => Array.from({ length: 300_000 / ms }, (_, i) => 60_000 + i * ms);
    expect(replans('EVEN', true)).toEqual(every(30_000));
    expect(replans('ADAPTIVE', true)).toEqual(every(30_000));
    expect(replans('EVEN', false)).toEqual(every(60_000));
    expect(replans('DUAL_GRADIENT', true)).toEqual(every(60_000));
    expect(() => pacerConfig({ valueTickRatio: 0 })).toThrow(/valueTickRatio must be in \(0, 1\]/);
  });

  it('re-sorts the recent values at most once a minute however often it re-plans', () => {
    const s = state({ dailyBudgetMicros: 100_000_000 }, 0, false, pacerConfig({ tickMs: 10_000 }));
    const values = lcg(5);
    const refreshed: number[] = [];
    for (let t = 0; t < 300_000; t += 500) {
      decide(s, BID, t, never, false, newDecision(), values());
      const at = s.values!.refreshedAtMs;
      if (refreshed.at(-1) !== at && Number.isFinite(at)) refreshed.push(at);
    }
    // Re-plans every 5 s once values decide; the sorts stay a minute apart.
    expect(refreshed.length).toBe(5);
    expect(refreshed.slice(1).map((t, i) => t - refreshed[i]!)).toEqual([60_000, 60_000, 60_000, 60_000]);
  });

  it('without a value signal decides exactly as a coin flip always did', () => {
    const a = state();
    const b = state();
    const ra = lcg(9);
    const rb = lcg(9);
    const seenA: string[] = [];
    const seenB: string[] = [];
    for (let t = 0; t < 3_600_000; t += 200) {
      const da = decide(a, BID, t, ra, false, newDecision());
      const db = decide(b, BID, t, rb, false, newDecision(), -1);
      seenA.push(`${da.allow}/${da.reason}/${da.throttleRate}/${da.maxBidCpmMicros}`);
      seenB.push(`${db.allow}/${db.reason}/${db.throttleRate}/${db.maxBidCpmMicros}`);
      if (da.allow) {
        recordSpend(a, 900, t, da.reservedMicros, t);
        recordSpend(b, 900, t, db.reservedMicros, t);
      }
    }
    expect(seenB).toEqual(seenA);
    expect(seenA.some((x) => x.includes('throttled'))).toBe(true);
    expect(b.values).toBeNull();
  });
});

type Op =
  | {
      kind: 'bid';
      dtMs: number;
      bid: number;
      win: boolean;
      chargeShare: number;
      notifyAfterMs: number;
      value: number;
    }
  | { kind: 'lease'; micros: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('bid' as const),
      dtMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 3_600_000 })),
      bid: fc.integer({ min: 1, max: 50_000_000 }),
      win: fc.boolean(),
      chargeShare: fc.double({ min: 0, max: 1, noNaN: true }),
      notifyAfterMs: fc.integer({ min: 0, max: 200_000 }),
      value: fc.oneof(fc.constant(-1), fc.double({ min: 0, max: 1, noNaN: true })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('lease' as const),
      micros: fc.integer({ min: 0, max: 2_000_000 }),
    }),
  },
);

const campaignArb = fc.record({
  dailyBudgetMicros: fc.integer({ min: 1, max: 5_000_000 }),
  totalBudgetMicros: fc.option(fc.integer({ min: 1, max: 20_000_000 }), { nil: null }),
  pacingMode: fc.constantFrom(...PACING_MODES),
  timeZone: fc.constantFrom('UTC', 'America/New_York', 'Asia/Tokyo'),
  maxBidCpmMicros: fc.option(fc.integer({ min: 1, max: 20_000_000 }), { nil: null }),
});

describe('decide: properties', () => {
  it('never allows a bid that could pass the daily, total or leased budget; throttle stays in [0, 1]', () => {
    fc.assert(
      fc.property(
        campaignArb,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        fc.array(opArb, { maxLength: 120 }),
        (c, leased, degraded, isClassic, seed, ops) => {
          const cfg = isClassic ? classic : config;
          const s = createPacingState(makeCampaign({ id: 'p', ...c }), cfg, Date.UTC(2024, 10, 2), {
            leased,
          });
          const rand = lcg(seed);
          const out = newDecision();
          let t = Date.UTC(2024, 10, 2);
          let spentAll = 0;
          const notices: { at: number; charge: number; reserved: number; reservedAt: number }[] = [];
          for (const op of ops) {
            if (op.kind === 'lease') {
              if (leased) addLease(s, s.ledger.day.key, op.micros, t);
              continue;
            }
            t += op.dtMs;
            for (const n of notices.filter((x) => x.at <= t)) {
              recordSpend(s, n.charge, t, n.reserved, n.reservedAt);
              spentAll += n.charge;
            }
            notices.splice(0, notices.length, ...notices.filter((x) => x.at > t));
            const l = s.ledger;
            const committedBefore = () => dayCommittedMicros(l);
            // What decide will see once it has rolled the day and expired reservations is checked after.
            const d = decide(s, op.bid, t, rand, degraded, out, op.value);
            expect(d.throttleRate).toBeGreaterThanOrEqual(0);
            expect(d.throttleRate).toBeLessThanOrEqual(1);
            if (!d.allow) continue;
            const cost = impressionCostMicros(d.maxBidCpmMicros);
            expect(d.reservedMicros).toBe(cost);
            expect(d.maxBidCpmMicros).toBeLessThanOrEqual(op.bid);
            if (c.maxBidCpmMicros !== null) expect(d.maxBidCpmMicros).toBeLessThanOrEqual(c.maxBidCpmMicros);
            // After reserving, committed (which includes this bid) must fit every budget.
            expect(committedBefore()).toBeLessThanOrEqual(c.dailyBudgetMicros);
            if (c.totalBudgetMicros !== null)
              expect(spentAll + l.reservedMicros).toBeLessThanOrEqual(c.totalBudgetMicros);
            expect(l.ownDaySpentMicros + l.reservedMicros).toBeLessThanOrEqual(s.ownAllowanceMicros);
            if (op.win) {
              const charge = Math.floor(cost * op.chargeShare);
              notices.push({
                at: t + Math.min(op.notifyAfterMs, config.reservationTtlMs - 1_000),
                charge,
                reserved: cost,
                reservedAt: t,
              });
            } else {
              releaseBid(s, cost, t, t);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('same inputs and same random draws give the same decisions', () => {
    fc.assert(
      fc.property(campaignArb, fc.integer(), fc.array(opArb, { maxLength: 80 }), (c, seed, ops) => {
        const run = () => {
          const s = createPacingState(makeCampaign({ id: 'p', ...c }), config, 0);
          const rand = lcg(seed);
          const seen: Decision[] = [];
          let t = 0;
          for (const op of ops) {
            if (op.kind !== 'bid') continue;
            t += op.dtMs;
            const d = decide(s, op.bid, t, rand, false, newDecision(), op.value);
            seen.push(d);
            if (d.allow && op.win)
              recordSpend(s, Math.floor(d.reservedMicros * op.chargeShare), t, d.reservedMicros, t);
          }
          return seen;
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: 200 },
    );
  });
});
