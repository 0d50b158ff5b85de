import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { impressionCostMicros } from '../../core/index';
import { EventQueue } from '../../sim/eventQueue';
import { runScenario } from '../../sim/run';
import { fridayLite, smallScenario } from './fixtures';

describe('EventQueue', () => {
  it('pops by time, ties in insertion order, across growth', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        const q = new EventQueue(4);
        times.forEach((t, i) => {
          const slot = q.push(t, 1);
          q.campaign[slot] = i;
        });
        const out: [number, number][] = [];
        while (q.size > 0) {
          const slot = q.pop();
          out.push([q.time[slot]!, q.campaign[slot]!]);
        }
        const expected = times
          .map((t, i) => [t, i] as [number, number])
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(expected);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('engine on a small scenario (2 instances, surge, 5-minute store outage)', async () => {
  const scenario = smallScenario();
  const result = await runScenario(scenario);
  const [even, asap] = result.summary.algorithms;

  it('runs every algorithm on the same stream', () => {
    expect(even!.requests).toBe(asap!.requests);
    expect(even!.requests).toBeGreaterThan(100_000);
    expect(result.runs.map((r) => r.mode)).toEqual(['EVEN', 'ASAP']);
  });

  it('goes degraded during the outage, journals and replays its spend, and loses none', () => {
    for (const a of [even!, asap!]) {
      expect(a.degradedDecisions).toBeGreaterThan(0);
      expect(a.storeErrors).toBeGreaterThan(0);
      expect(a.spendLostMicros).toBe(0);
      expect(a.spendDoubleCountedMicros).toBe(0);
    }
    expect(even!.outageSpendMicros).toBeGreaterThan(0);
    for (const run of result.runs) {
      expect(run.outageReconciliations).toHaveLength(1);
      expect(run.outageReconciliations[0]).toMatchObject({ reconciled: true, mismatchMicros: 0 });
    }
    expect(even!.replayedRecords).toBeGreaterThan(0);
    const degraded = result.series.algorithms[0]!.degradedInstances;
    expect(Math.max(...degraded)).toBe(2);
    expect(degraded[degraded.length - 1]).toBe(0);
  });

  it('keeps every campaign-day within one impression at the max bid per instance', () => {
    for (const rows of Object.values(result.campaignDays))
      for (const r of rows) {
        const c = result.campaigns.find((x) => x.id === r.campaignId)!;
        expect(r.spendMicros).toBeLessThanOrEqual(r.budgetMicros + 2 * impressionCostMicros(c.bidCpmMicros));
      }
  });

  it('paces EVEN close to its curve and ASAP ahead of it', () => {
    expect(even!.accuracyMeanConstrained).toBeGreaterThan(0.97);
    expect(asap!.accuracyMeanConstrained).toBeLessThan(0.8);
    expect(asap!.exhaustionMinuteMedian!).toBeLessThan(even!.exhaustionMinuteMedian!);
  });

  it('charges second price by default and the bid under first price', async () => {
    const first = await runScenario(smallScenario({ market: { pricing: 'first' }, algorithms: ['ASAP'] }));
    expect(first.summary.algorithms[0]!.ecpmMicros!).toBeGreaterThan(asap!.ecpmMicros!);
  });

  it('reproduces from its seed and changes with it', async () => {
    const again = await runScenario(scenario);
    expect(JSON.stringify(again.summary)).toBe(JSON.stringify(result.summary));
    const other = await runScenario(scenario, { seed: 8 });
    expect(JSON.stringify(other.summary)).not.toBe(JSON.stringify(result.summary));
  });
});

describe('friday.yaml at 1/5 scale, every algorithm', async () => {
  const scenario = fridayLite();
  const result = await runScenario(scenario);

  it('meets friday thresholds: no overspend past the bound, utilisation >= 95%, EVEN accuracy >= 97%', () => {
    expect(result.summary.failures).toEqual([]);
    for (const a of result.summary.algorithms) {
      expect(a.overspentBeyondBound).toBe(0);
      expect(a.utilisationMeanConstrained).toBeGreaterThanOrEqual(0.95);
    }
    const even = result.summary.algorithms.find((a) => a.algorithm === 'EVEN')!;
    expect(even.accuracyMeanConstrained).toBeGreaterThanOrEqual(0.97);
  });

  it('has the 5x surge in its traffic', () => {
    const rps = result.series.requestsPerSecond;
    const at = (h: number) => rps[(h * 60) / result.series.stepMinutes]!;
    expect(at(19) / at(17)).toBeGreaterThan(3.5);
  });
});

describe('day roll-over', () => {
  it('scores each campaign-day and paces the second day afresh', async () => {
    const result = await runScenario(
      smallScenario({ days: 2, algorithms: ['EVEN'], faults: { outages: [] } }),
    );
    const rows = result.campaignDays['EVEN']!;
    expect(rows.length).toBe(2 * result.campaigns.length);
    for (const day of [0, 1]) {
      const constrained = rows.filter((r) => r.day === day && r.constrained);
      const util = constrained.reduce((a, r) => a + r.utilisation, 0) / constrained.length;
      expect(util).toBeGreaterThan(0.9);
      expect(constrained.every((r) => r.accuracy > 0.95)).toBe(true);
    }
  });
});

describe('a listed campaign set', () => {
  it('runs campaigns given one by one and scores the unconstrained apart', async () => {
    const result = await runScenario(
      smallScenario({
        algorithms: ['EVEN'],
        faults: { outages: [] },
        campaigns: {
          list: [
            { id: 'big', dailyBudgetMicros: 200_000, bidCpmMicros: 2_000_000, participation: 0.3 },
            {
              id: 'tiny-reach',
              dailyBudgetMicros: 50_000_000,
              bidCpmMicros: 1_000_000,
              participation: 0.01,
              constrained: false,
            },
          ],
        },
      }),
    );
    const s = result.summary.algorithms[0]!;
    expect(result.summary.scenario.constrainedCampaigns).toBe(1);
    expect(s.utilisationMeanConstrained).toBeGreaterThan(0.9);
    expect(s.utilisationMeanUnconstrained!).toBeLessThan(0.2);
    expect(result.campaigns.find((c) => c.id === 'tiny-reach')!.fullPassToBudget).toBeLessThan(1);
  });
});
