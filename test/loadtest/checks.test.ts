import { describe, expect, it } from 'vitest';
import { type StatusFigures, budgetViolations, checkBreakers, totalMismatches } from '../../loadtest/checks';
import type { CampaignTally } from '../../loadtest/openLoop';

const status = (campaignId: string, spent: number, over: Partial<StatusFigures> = {}): StatusFigures => ({
  campaignId,
  dailyBudgetMicros: 100_000,
  spentTodayMicros: spent,
  reservedMicros: 0,
  breakerState: 'CLOSED',
  ...over,
});

const tally = (over: Partial<CampaignTally>): CampaignTally => ({
  decisions: 10,
  allowed: 5,
  allowedMicros: 0,
  countedMicros: 0,
  uncertainMicros: 0,
  circuitOpenSeen: 0,
  ...over,
});

describe('budget check', () => {
  it('flags spend past budget plus the bound, and only that', () => {
    const v = budgetViolations([status('a', 100_000), status('b', 105_000), status('c', 105_001)], 5_000);
    expect(v).toEqual([{ campaignId: 'c', spentMicros: 105_001, budgetMicros: 100_000, boundMicros: 5_000 }]);
  });

  it('holds the server total to what it acknowledged, plus the notices without an answer', () => {
    const tallies = new Map([
      ['a', tally({ countedMicros: 500 })],
      ['b', tally({ countedMicros: 500, uncertainMicros: 300 })],
      ['c', tally({ countedMicros: 500 })],
      ['d', tally({ countedMicros: 500 })],
    ]);
    const m = totalMismatches(
      [status('a', 500), status('b', 700), status('c', 499), status('d', 1000)],
      tallies,
    );
    expect(m.map((x) => x.campaignId)).toEqual(['c', 'd']);
  });
});

describe('breaker check', () => {
  const tallies = new Map<string, CampaignTally>();
  it('passes a breaker that opened at the trip ratio and one the load never drove there', () => {
    const r = checkBreakers(
      [status('open', 95_000, { breakerState: 'OPEN' }), status('low', 50_000)],
      tallies,
      0.95,
    );
    expect(r).toEqual({ opened: 1, notReached: 1, failures: [] });
  });

  it('counts reservations as committed, as the breaker does', () => {
    const r = checkBreakers(
      [status('a', 90_000, { reservedMicros: 5_000, breakerState: 'OPEN' })],
      tallies,
      0.95,
    );
    expect(r.failures).toEqual([]);
  });

  it('fails a breaker that opened early, one that never opened, and a run that tested none', () => {
    const early = checkBreakers([status('e', 80_000, { breakerState: 'OPEN' })], tallies, 0.95);
    expect(early.failures[0]).toMatch(/e: breaker OPEN at 80.0% of its budget, before the trip ratio 95.0%/);
    const seen = checkBreakers([status('s', 10_000)], new Map([['s', tally({ circuitOpenSeen: 1 })]]), 0.95);
    expect(seen.failures[0]).toMatch(/before the trip ratio/);
    const never = checkBreakers([status('n', 99_000)], tallies, 0.95);
    expect(never.failures[0]).toMatch(/committed 99.0% .* but its breaker is CLOSED/);
    const none = checkBreakers([status('x', 1_000)], tallies, 0.95);
    expect(none.failures[0]).toMatch(/no campaign reached the trip ratio/);
  });
});
