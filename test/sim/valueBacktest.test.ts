import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../sim/scenario';
import { recordedBacktest } from '../../sim/tune/recordedBacktest';
import type { EvalRow, SeedStats } from '../../sim/tune/tune';

/**
 * The gate on pacing for value (README, "the iPinYou backtest"): on the real recorded stream in
 * ../shared/data, tuned on hours 0-9 and judged on 10-14 over 5 orders of the rows within each
 * hour, value-aware EVEN and tuned ADAPTIVE must buy more clicks than the coin flip and linear
 * bidding at every budget (2x the coin flip's at 1/8 and 1/16), spend >= 99.9% of it in every run
 * (the issue asks 99.5%), overspend nothing, and pace closer than the coin flip. Deterministic
 * from the seeds.
 */
describe('iPinYou backtest: value-aware pacing against the coin flip and linear bidding', () => {
  it('holds every claim the README makes, budget by budget', async () => {
    const scenario = loadScenario(resolve(import.meta.dirname, '../../scenarios/ipinyou-backtest.yaml'));
    const bt = await recordedBacktest(scenario, {
      basis: 'value',
      train: [0, 9],
      judge: [10, 14],
      search: true,
      seeds: 5,
    });
    expect(bt.sections.map((s) => s.heading.match(/campaign (\S+)/)![1])).toEqual([
      'ipy-half',
      'ipy-quarter',
      'ipy-eighth',
      'ipy-sixteenth',
    ]);
    bt.sections.forEach((section, i) => {
      const spread = (prefix: string): SeedStats => {
        const row: EvalRow | undefined = section.rows.find((r) => r.label.startsWith(prefix));
        return row!.spread!;
      };
      const coin = section.rows.find((r) => r.label === 'EVEN, coin flip')!.spread!;
      const linear = spread('LINEAR bidding');
      const smallBudget = i >= 2; // 1/8 and 1/16
      for (const label of ['EVEN, value-aware', 'ADAPTIVE tuned']) {
        const v = spread(label);
        const where = `${section.heading}: ${label}`;
        expect(v.clicksMean, where).toBeGreaterThan(coin.clicksMean);
        expect(v.clicksMean, where).toBeGreaterThan(linear.clicksMean);
        if (smallBudget) expect(v.clicksMean, where).toBeGreaterThanOrEqual(2 * coin.clicksMean);
        expect(v.utilisationMin, where).toBeGreaterThanOrEqual(0.999);
        expect(v.overspentCampaignDays, where).toBe(0);
        expect(v.rmseMean, where).toBeLessThan(coin.rmseMean);
      }
    });
  }, 300_000);
});
